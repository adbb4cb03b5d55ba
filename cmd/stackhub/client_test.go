package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientErrorsMapToExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		code     string
		message  string
		exitCode int
	}{
		{"api invalid", 400, `{"error":"invalid","message":"name must match ^[a-z0-9]"}`, "invalid", "name must match ^[a-z0-9]", exitUsage},
		{"api not found", 404, `{"error":"not_found","message":"blog is not installed"}`, "not_found", "blog is not installed", exitNotFound},
		{"api conflict", 409, `{"error":"conflict","message":"blog is already installed"}`, "conflict", "blog is already installed", exitConflict},
		{"api unauthorized", 401, `{"error":"unauthorized","message":"invalid token"}`, "unauthorized", "invalid token", exitUnauthorized},
		{"api forbidden", 403, `{"error":"forbidden","message":"a read token cannot change anything"}`, "forbidden", "a read token cannot change anything", exitUnauthorized},
		{"api unavailable", 503, `{"error":"unavailable","message":"Docker is not answering"}`, "unavailable", "Docker is not answering", exitUnavailable},
		{"api internal", 500, `{"error":"internal","message":"internal error"}`, "internal", "internal error", exitFailed},
		{"seed envelope", 404, `{"code":"0","message":"blog is not installed","data":{"error":"not_found"}}`, "not_found", "blog is not installed", exitNotFound},
		{"proxy page", 502, `<html>bad gateway</html>`, "", "Bad Gateway", exitUnavailable},
		{"unknown precondition", 412, `{"error":"precondition","message":"needs 4 GB of memory"}`, "precondition", "needs 4 GB of memory", exitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer shk_test", r.Header.Get("Authorization"))
				assert.Equal(t, "en", r.Header.Get("Accept-Language"))
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			_, err := NewClient(srv.URL, "shk_test").GetApp(t.Context(), "blog")
			require.Error(t, err)
			ae, ok := err.(*APIError)
			require.True(t, ok, "got %T", err)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.message, ae.Message)
			assert.Equal(t, tc.exitCode, exitCode(fmt.Errorf("info blog: %w", err)), "the code survives wrapping")
		})
	}
}
func TestResolveRemotePrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"url":"http://config:1","token":"shk_config"}`), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "xdg", "stackhub"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "xdg", "stackhub", "config.json"), []byte(`{"url":"http://xdg:1","token":"shk_xdg"}`), 0o600))
	tests := []struct {
		name             string
		flagURL, flagTok string
		env              map[string]string
		want             remote
	}{
		{"flags win", "http://flag:1", "shk_flag", map[string]string{"STACKHUB_URL": "http://env:1", "STACKHUB_TOKEN": "shk_env", "STACKHUB_CONFIG": cfgPath},
			remote{"http://flag:1", "shk_flag"}},
		{"env over config", "", "", map[string]string{"STACKHUB_URL": "http://env:1", "STACKHUB_TOKEN": "shk_env", "STACKHUB_CONFIG": cfgPath},
			remote{"http://env:1", "shk_env"}},
		{"config fills what is open", "http://flag:1", "", map[string]string{"STACKHUB_CONFIG": cfgPath},
			remote{"http://flag:1", "shk_config"}},
		{"config alone", "", "", map[string]string{"STACKHUB_CONFIG": cfgPath}, remote{"http://config:1", "shk_config"}},
		{"default url", "", "", map[string]string{"HOME": filepath.Join(dir, "nohome")}, remote{"http://127.0.0.1:9000", ""}},
		{"host:port and a trailing slash", "10.0.0.5:9000/", "x", nil, remote{"http://10.0.0.5:9000", "x"}},
		{"XDG_CONFIG_HOME", "", "", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg"), "HOME": "/nonexistent"}, remote{"http://xdg:1", "shk_xdg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveRemote(tc.flagURL, tc.flagTok, mapEnv(tc.env))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
func TestConfigPathFollowsXDGAndHome(t *testing.T) {
	assert.Equal(t, "/x/stackhub/config.json", cliConfigPath(mapEnv(map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"})))
	assert.Equal(t, "/h/.config/stackhub/config.json", cliConfigPath(mapEnv(map[string]string{"HOME": "/h"})))
	assert.Equal(t, "/c.json", cliConfigPath(mapEnv(map[string]string{"STACKHUB_CONFIG": "/c.json", "HOME": "/h"})))
	assert.Empty(t, cliConfigPath(mapEnv(nil)))
}
func TestConfigFilePermissions(t *testing.T) {
	tests := []struct {
		name    string
		mode    os.FileMode
		body    string
		wantErr string
	}{
		{"private", 0o600, `{"url":"http://a:1","token":"shk_1"}`, ""},
		{"owner read only", 0o400, `{"url":"http://a:1","token":"shk_1"}`, ""},
		{"group readable", 0o640, `{"token":"shk_1"}`, "has mode 0640: it holds a token"},
		{"world readable", 0o644, `{"token":"shk_1"}`, "run chmod 600"},
		{"group writable", 0o620, `{"token":"shk_1"}`, "has mode 0620"},
		{"unknown field", 0o600, `{"server":"http://a:1"}`, `unknown field "server"`},
		{"not json", 0o600, `url=http://a:1`, "want {\"url\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.json")
			require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o600))
			require.NoError(t, os.Chmod(p, tc.mode))
			_, err := resolveRemote("", "", mapEnv(map[string]string{"STACKHUB_CONFIG": p}))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "shk_1", "the token is never printed")
			assert.Equal(t, exitUsage, exitCode(err))
		})
	}
	t.Run("not read when flags say everything", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "config.json")
		require.NoError(t, os.WriteFile(p, []byte(`{}`), 0o644))
		_, err := resolveRemote("http://a:1", "shk_x", mapEnv(map[string]string{"STACKHUB_CONFIG": p}))
		require.NoError(t, err)
	})
	t.Run("missing file", func(t *testing.T) {
		got, err := resolveRemote("", "", mapEnv(map[string]string{"STACKHUB_CONFIG": filepath.Join(t.TempDir(), "none.json")}))
		require.NoError(t, err)
		assert.Equal(t, defaultServerURL, got.URL)
	})
}
func TestBadServerURL(t *testing.T) {
	for _, u := range []string{"ftp://a:1", "http://user:pw@a:1", "http://a:1/?token=x", "http://"} {
		_, err := resolveRemote(u, "x", mapEnv(nil))
		require.Error(t, err, u)
		assert.Equal(t, exitUsage, exitCode(err), u)
		assert.NotContains(t, err.Error(), "pw", u)
	}
}

// mapEnv is a getenv over m.
func mapEnv(m map[string]string) env {
	return func(k string) string { return m[k] }
}

// sseFrame is one Server-Sent Event of a job, as the server writes it.
func sseFrame(seq int, typ, stage, extra string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"seq\":%d,\"type\":%q,\"stage\":%q%s}\n\n", seq, typ, seq, typ, stage, extra)
}
