package storeconv_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	"github.com/websoft9/stackhub/orchestrator/storeconv"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
	"github.com/websoft9/stackhub/porter-mixin/mixintest"
)

// want is what the fixtures (written by hand from docs/store-formats.md)
// convert to: converted, or blocked with a reason containing why.
var want = map[storeconv.Store]map[string]string{
	storeconv.Websoft9: {
		"uptimekuma":    "",
		"gitea":         "",
		"wordpress":     "binds ./src/init.sh from the app's folder",
		"posthog":       "release is false",
		"bigbluebutton": "text template",
		"odoo":          "builds its image from a Dockerfile",
		"runtime":       "not an app",
	},
	storeconv.CasaOS: {
		"uptimekuma":    "",
		"immich":        "",
		"homeassistant": "",
		"alist-sync":    "",
		"plain":         "no x-casaos block",
	},
	storeconv.Runtipi: {
		"uptime-kuma": "",
		"nextcloud":   "",
		"adguard":     "",
		"legacy-only": "only the legacy compose file",
		"cross-seed":  "${INTERNAL_IP}",
	},
	storeconv.Umbrel: {
		"uptime-kuma":    "",
		"nextcloud":      "",
		"home-assistant": "",
		"lnbits":         "depends on the app(s) lightning",
		"tor-relay":      "${TOR_PROXY_IP}",
	},
	storeconv.Compose: {"whoami": ""},
}

func convertAll(t *testing.T) map[storeconv.Store]map[string]storeconv.Result {
	t.Helper()
	out := map[storeconv.Store]map[string]storeconv.Result{}
	for _, st := range storeconv.Stores {
		results, err := storeconv.Convert(t.Context(), st, filepath.Join("testdata", string(st)))
		require.NoError(t, err, st)
		out[st] = map[string]storeconv.Result{}
		for _, r := range results {
			out[st][r.App] = r
		}
	}
	return out
}

// TestConvertFixtures: each store's apps convert, or are reported with
// their reason; every converted bundle lints clean (porter lint's rules,
// the bundle policy, the websoft9 mixin's own lint), loads into the
// catalog, and its compose file uses no variable the step does not set.
func TestConvertFixtures(t *testing.T) {
	all := convertAll(t)
	out := t.TempDir()
	for st, apps := range want {
		assert.Len(t, all[st], len(apps), "%s: every app folder is attempted", st)
		for app, reason := range apps {
			r, ok := all[st][app]
			if !assert.True(t, ok, "%s/%s attempted", st, app) {
				continue
			}
			if reason != "" {
				assert.False(t, r.Converted, "%s/%s", st, app)
				assert.True(t, hasProblem(r, storeconv.Blocked, reason), "%s/%s: want a blocking problem %q, got %+v", st, app, reason, r.Problems)
				assert.Empty(t, r.Files)
				continue
			}
			if !assert.True(t, r.Converted, "%s/%s: %+v", st, app, r.Problems) {
				continue
			}
			dir, err := storeconv.Write(filepath.Join(out, string(st)), r)
			require.NoError(t, err)
			for _, f := range mixintest.Lint(t, dir) {
				assert.NotEqual(t, manifest.LevelError, f.Level, "%s/%s: %s: %s (line %d)", st, app, f.Source, f.Message, f.Line)
			}
			checkComposeVars(t, dir)
		}
		cat, err := catalog.Load(filepath.Join(out, string(st)))
		require.NoError(t, err, "%s: the converted bundles load into a catalog", st)
		apps, err := cat.Apps(t.Context())
		require.NoError(t, err)
		for _, a := range apps {
			_, known := orchestrator.CategoryOf(a.Meta.Category)
			assert.True(t, known, "%s: category %q", a.Name, a.Meta.Category)
		}
	}
}

func hasProblem(r storeconv.Result, sev storeconv.Severity, reason string) bool {
	for _, p := range r.Problems {
		if p.Severity == sev && strings.Contains(p.Reason, reason) {
			return true
		}
	}
	return false
}

var composeRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// checkComposeVars: every ${VAR} of the compose file is set by the
// install step (env or passEnv).
func checkComposeVars(t *testing.T, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	var m struct {
		Install []map[string]struct {
			Env     map[string]string `yaml:"env"`
			PassEnv []string          `yaml:"passEnv"`
		} `yaml:"install"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &m))
	step := m.Install[0]["websoft9"]
	set := map[string]bool{}
	for k := range step.Env {
		set[k] = true
	}
	for _, k := range step.PassEnv {
		set[k] = true
	}
	compose, err := os.ReadFile(filepath.Join(dir, storeconv.ComposeFile))
	require.NoError(t, err)
	for _, ref := range composeRef.FindAllStringSubmatch(string(compose), -1) {
		assert.True(t, set[ref[1]], "%s: the compose file uses ${%s}, which the install step does not set", dir, ref[1])
	}
}

func compose(t *testing.T, r storeconv.Result) map[string]any {
	t.Helper()
	var c map[string]any
	require.NoError(t, yaml.Unmarshal(r.Files[storeconv.ComposeFile], &c))
	return c
}

func env(c map[string]any, svc string) map[string]any {
	s, _ := c["services"].(map[string]any)[svc].(map[string]any)
	e, _ := s["environment"].(map[string]any)
	return e
}

// A password a store committed as a literal becomes one generated
// parameter, the same wherever the literal was used, and never appears.
func TestLiteralSecretsBecomeOneGeneratedParameter(t *testing.T) {
	all := convertAll(t)
	immich := all[storeconv.CasaOS]["immich"]
	c := compose(t, immich)
	server, ml, pg := env(c, "immich-server")["DB_PASSWORD"], env(c, "immich-machine-learning")["DB_PASSWORD"], env(c, "immich-postgres")["POSTGRES_PASSWORD"]
	assert.Regexp(t, `^\$\{[A-Z_]+\}$`, server)
	assert.Equal(t, server, ml)
	assert.Equal(t, server, pg, "the database and its clients share the generated password")
	assert.Equal(t, "postgres", env(c, "immich-postgres")["POSTGRES_USER"], "a user name is no secret")
	for _, r := range []storeconv.Result{immich, all[storeconv.Umbrel]["nextcloud"], all[storeconv.Runtipi]["nextcloud"], all[storeconv.Websoft9]["gitea"]} {
		for name, body := range r.Files {
			for _, literal := range []string{"moneyprintergobrrr", "committed-in-git-0", "POSTGRES_PASSWORD: postgres", "POSTGRES_PASSWORD: tipi"} {
				assert.NotContains(t, string(body), literal, "%s/%s", r.App, name)
			}
		}
		assert.Contains(t, string(r.Files["porter.yaml"]), "generate: [", r.App)
	}
}

// The runtime's container names, used as host names, become service
// names; its variables become parameters or what StackHub gives.
func TestNamesAndVariables(t *testing.T) {
	all := convertAll(t)
	gitea := compose(t, all[storeconv.Websoft9]["gitea"])
	assert.Equal(t, "mysql:3306", env(gitea, "gitea")["GITEA__database__HOST"])
	nc := compose(t, all[storeconv.Umbrel]["nextcloud"])
	assert.Equal(t, "db", env(nc, "web")["MYSQL_HOST"])
	assert.Equal(t, "${APP_PASSWORD}", env(nc, "web")["NEXTCLOUD_ADMIN_PASSWORD"])
	_, proxy := nc["services"].(map[string]any)["app_proxy"]
	assert.False(t, proxy, "Umbrel's app_proxy is dropped")
	kuma := all[storeconv.Umbrel]["uptime-kuma"]
	kc := compose(t, kuma)
	server := kc["services"].(map[string]any)["server"].(map[string]any)
	assert.Equal(t, []any{"${WEB_ADDRESS:-0.0.0.0}:${WEB_PORT:?WEB_PORT is required}:3001"}, server["ports"], "APP_HOST and APP_PORT give the web port")
	assert.Equal(t, []any{"data-uptime-kuma:/app/data"}, server["volumes"], "${APP_DATA_DIR} binds become volumes")
	assert.Contains(t, string(kuma.Files["porter.yaml"]), "digest: sha256:1111", "the digest pin is kept")
	assert.NotContains(t, string(kuma.Files["porter.yaml"]), "app_seed", "a variable of the runtime the app does not use is no parameter")

	tipi := all[storeconv.Runtipi]["nextcloud"]
	tc := compose(t, tipi)
	assert.Equal(t, "${APP_DOMAIN}", env(tc, "nextcloud")["NEXTCLOUD_TRUSTED_DOMAINS"])
	assert.Equal(t, "${NEXTCLOUD_LOG_LEVEL}", env(tc, "nextcloud")["LOG_LEVEL"], "a form variable in lower case is renamed with its parameter")
	p := string(tipi.Files["porter.yaml"])
	assert.Contains(t, p, "name: nextcloud_admin_password")
	assert.Contains(t, p, "enum: [info, debug]")
	assert.Contains(t, p, "version: 33.0.0-apache")
}

func TestPortsAndPermissions(t *testing.T) {
	all := convertAll(t)
	gitea := string(all[storeconv.Websoft9]["gitea"].Files["porter.yaml"])
	assert.Contains(t, gitea, "minimum: 2222\n    maximum: 2222", "a port written the same on both sides stays fixed")
	adguard := all[storeconv.Runtipi]["adguard"]
	ac := compose(t, adguard)
	ports := ac["services"].(map[string]any)["adguard"].(map[string]any)["ports"].([]any)
	assert.Len(t, ports, 3, "the web port and DNS over TCP and UDP")
	assert.Contains(t, string(adguard.Files["porter.yaml"]), "minimum: 53\n    maximum: 53", "DNS stays on 53")

	assert.Equal(t, []string{"devices:/dev/ttyUSB0", "host-namespace:network_mode=host", "privileged"}, all[storeconv.CasaOS]["homeassistant"].Permissions)
	assert.Equal(t, []string{"docker-socket"}, all[storeconv.Runtipi]["uptime-kuma"].Permissions)
	for _, r := range []storeconv.Result{all[storeconv.CasaOS]["homeassistant"], all[storeconv.Runtipi]["uptime-kuma"]} {
		for _, perm := range r.Permissions {
			_, err := orchestrator.ParsePermission(perm)
			assert.NoError(t, err, perm)
			assert.Contains(t, string(r.Files["porter.yaml"]), perm, "declared in the manifest")
		}
	}
}

func TestMetadata(t *testing.T) {
	all := convertAll(t)
	kuma := all[storeconv.CasaOS]["uptimekuma"]
	p := string(kuma.Files["porter.yaml"])
	assert.Contains(t, p, "category: network")
	assert.Contains(t, p, "tags: [Networking]", "the store's own category is kept as a tag")
	assert.Contains(t, p, "title: Uptime Kuma 监控")
	assert.Contains(t, p, "icon: icon.png")
	assert.Contains(t, p, "path: /dashboard")
	assert.NotEmpty(t, kuma.Files["icon.png"])
	tipi := all[storeconv.Runtipi]["uptime-kuma"]
	assert.NotEmpty(t, tipi.Files["icon.png"], "Runtipi's logo.jpg holds PNG bytes: named by its bytes")
	assert.NotContains(t, tipi.Files, "icon.jpg")
	assert.NotEmpty(t, all[storeconv.Runtipi]["nextcloud"].Files["icon.jpg"])
	nc := string(all[storeconv.Umbrel]["nextcloud"].Files["porter.yaml"])
	assert.Contains(t, nc, "user: umbrel")
	assert.Contains(t, nc, "the generated app_password")
	assert.Contains(t, nc, "store: umbrel")
}

func TestReport(t *testing.T) {
	results, err := storeconv.Convert(t.Context(), storeconv.Websoft9, filepath.Join("testdata", "websoft9"))
	require.NoError(t, err)
	rep := storeconv.NewReport(results)
	assert.Equal(t, 7, rep.Attempted)
	assert.Equal(t, 2, rep.Converted)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"severity":"blocked"`)

	// One app's folder converts alone.
	one, err := storeconv.Convert(t.Context(), storeconv.Umbrel, filepath.Join("testdata", "umbrel", "uptime-kuma"))
	require.NoError(t, err)
	require.Len(t, one, 1)
	assert.True(t, one[0].Converted)
	_, err = storeconv.Convert(t.Context(), storeconv.Umbrel, t.TempDir())
	assert.ErrorContains(t, err, "no umbrel app here")
	_, err = storeconv.ParseStore("yunohost")
	assert.ErrorContains(t, err, "one of websoft9, casaos, runtipi, umbrel, compose")
}
