package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// parseServe reads serve's settings as serve does: args, then env, then
// the file body (none when ""), then the defaults.
func parseServe(t *testing.T, args []string, envs map[string]string, body string) (Config, error) {
	t.Helper()
	cfg := DefaultConfig()
	var file string
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	bindServeFlags(fs, &cfg, &file)
	require.NoError(t, fs.Parse(args))
	if file == "" && body != "" {
		file = filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	}
	return cfg, applyServeConfig(fs, file, mapEnv(envs))
}

func TestServeConfigFile(t *testing.T) {
	const body = `# the permanent install's settings
listen: 0.0.0.0:9000
data-dir: /srv/stackhub
gateway: true
docker-timeout: 90s
acme-email: ops@example.com
trusted-proxy: [10.0.0.0/8, 192.168.0.0/16]
insecure-registry:
  - registry.lan:5000
catalog-ref: ["registry.lan:5000/apps/redmine:5.0.0"]
tls-cert:
`
	cfg, err := parseServe(t, nil, nil, body)
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9000", cfg.Listen)
	assert.Equal(t, "/srv/stackhub", cfg.DataDir)
	assert.True(t, cfg.Gateway)
	assert.Equal(t, 90*time.Second, cfg.DockerTimeout)
	assert.Equal(t, "ops@example.com", cfg.ACMEEmail)
	assert.Equal(t, []string{"10.0.0.0/8", "192.168.0.0/16"}, cfg.TrustedProxies)
	assert.Equal(t, []string{"registry.lan:5000"}, cfg.InsecureRegistry)
	assert.Equal(t, []string{"registry.lan:5000/apps/redmine:5.0.0"}, cfg.CatalogRefs)
	assert.Empty(t, cfg.TLSCert, "an empty value keeps the default")
	assert.Equal(t, ":80", cfg.GatewayHTTP, "a key left out keeps its default")

	// Env wins over the file, flags over both.
	cfg, err = parseServe(t, []string{"--listen", "127.0.0.1:9100"},
		map[string]string{"STACKHUB_LISTEN": "127.0.0.1:9200", "STACKHUB_DATA_DIR": "/var/lib/other", "STACKHUB_GATEWAY": "false"}, body)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9100", cfg.Listen, "the flag")
	assert.Equal(t, "/var/lib/other", cfg.DataDir, "the variable")
	assert.False(t, cfg.Gateway, "the variable")
	assert.Equal(t, "ops@example.com", cfg.ACMEEmail, "the file")

	// --config names the file; the variable too.
	file := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("log-level: debug\n"), 0o600))
	cfg, err = parseServe(t, []string{"--config", file}, nil, "")
	require.NoError(t, err)
	assert.Equal(t, "debug", cfg.LogLevel)

	// An empty file is the defaults.
	cfg, err = parseServe(t, nil, nil, "# nothing yet\n")
	require.NoError(t, err)
	assert.Equal(t, DefaultConfig().Listen, cfg.Listen)
}

func TestServeConfigFileRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", "listen: :9000\ndatadir: /srv\n", `:2: unknown key "datadir"`},
		{"the CLI's config key", "config: /etc/x.yaml\n", `unknown key "config"`},
		{"twice", "listen: :9000\nlisten: :9001\n", `"listen"`},
		{"a list for one value", "listen: [a, b]\n", "listen takes one value, not a list"},
		{"a mapping", "gateway:\n  on: true\n", "want a value or a list"},
		{"not a mapping", "- listen\n", "want a mapping"},
		{"bad value", "docker-timeout: soon\n", "docker-timeout"},
		{"bad bool", "gateway: maybe\n", "gateway"},
		{"bad YAML", "listen: [\n", "config.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(t, nil, nil, tc.body)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := parseServe(t, nil, map[string]string{"STACKHUB_DOCKER_TIMEOUT": "soon"}, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "STACKHUB_DOCKER_TIMEOUT")
	_, err = parseServe(t, []string{"--config", "/nonexistent/stackhub.yaml"}, nil, "")
	assert.ErrorContains(t, err, "/nonexistent/stackhub.yaml")
}

// The serve command refuses a bad file before it touches anything.
func TestServeRefusesABadConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("data-dir: "+filepath.Join(dir, "data")+"\nlistne: :1\n"), 0o600))
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--config", file}, mapEnv(nil), &bytes.Buffer{}, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), `unknown key "listne"`)
	assert.NoDirExists(t, filepath.Join(dir, "data"))
}

func TestVersionCommand(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123456789abcdef", "2026-12-06T05:00:00Z"
	var out bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"version"}, mapEnv(nil), &out, &bytes.Buffer{}))
	assert.Regexp(t, `^stackhub v1\.2\.3 \(commit 0123456789ab, built 2026-12-06T05:00:00Z, go1\.\d+.*, linux/\w+\)\n$`, out.String())
	out.Reset()
	require.Equal(t, 0, run(t.Context(), []string{"version", "-o", "json"}, mapEnv(nil), &out, &bytes.Buffer{}))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, "v1.2.3", got["version"])
	assert.Equal(t, "0123456789abcdef", got["commit"], "the whole commit")
	assert.Equal(t, "2026-12-06T05:00:00Z", got["date"])
	assert.Equal(t, exitUsage, run(t.Context(), []string{"version", "-o", "yaml"}, mapEnv(nil), &out, &bytes.Buffer{}))
}

// doctor reads the settings serve would and reports a database newer
// than this binary as a failure (exit 1), with what to do.
func TestDoctorChecksTheDataDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("data-dir: "+dir+"\nlisten: 127.0.0.1:1\ngateway-http: 127.0.0.1:0\ngateway-https: 127.0.0.1:0\n"), 0o600))
	doctor := func() (int, map[string]check) {
		var out bytes.Buffer
		code := run(t.Context(), []string{"doctor", "--config", file, "-o", "json"}, mapEnv(map[string]string{"DOCKER_HOST": "unix://" + filepath.Join(dir, "none.sock")}), &out, &bytes.Buffer{})
		var list []check
		require.NoError(t, json.Unmarshal(out.Bytes(), &list), out.String())
		m := map[string]check{}
		for _, c := range list {
			m[c.Name] = c
		}
		return code, m
	}
	code, checks := doctor()
	assert.Equal(t, exitFailed, code, "no Docker answers at that socket")
	assert.Equal(t, checkFail, checks["docker"].Status)
	assert.Contains(t, checks["docker"].Detail, "none.sock")
	assert.Equal(t, checkWarn, checks["data directory"].Status, "group and others may read it")
	assert.Contains(t, checks["data directory"].Fix, "chmod 700 "+dir)
	assert.Equal(t, checkWarn, checks["stackhub"].Status, "nothing serves at 127.0.0.1:1")
	assert.Equal(t, checkOK, checks["port http"].Status)

	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "stackhub.db"))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, checks = doctor()
	assert.Equal(t, checkOK, checks["database"].Status)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "stackhub.db"))
	require.NoError(t, err)
	_, err = raw.Exec("PRAGMA user_version = 999")
	require.NoError(t, err)
	require.NoError(t, raw.Close())
	_, checks = doctor()
	assert.Equal(t, checkFail, checks["database"].Status)
	assert.Contains(t, checks["database"].Detail, "newer than this stackhub knows")
}
