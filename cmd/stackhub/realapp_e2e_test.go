//go:build integration && e2ereal

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// The local images e2e/real/build-images makes from Debian 12 packages, and
// the official images the redmine bundle names: the relocation mapping
// sends the second to the first, as Porter does for air-gapped installs.
var redmineRelocation = map[string]string{
	"docker.io/library/redmine:5.1.3":    "stackhub-e2e/redmine:5.0-debian12",
	"docker.io/library/mariadb:10.11.10": "stackhub-e2e/mariadb:10.11-debian12",
}

// TestRealRedmine installs the catalog's redmine bundle (built into the
// binary) through the HTTP API on local images, with first-install settings
// the bundle applies with an exec of `rails runner` (title, language, URL,
// admin e-mail, time zone), checks Redmine shows them, signs in to Redmine,
// changes the admin password, restarts the app, signs in with the new
// password, backs it up, purges it, restores it and signs in with the new
// password again, and uninstalls with purge: nothing may be left behind.
func TestRealRedmine(t *testing.T) {
	c := dockertest.RequireDocker(t)
	for _, img := range redmineRelocation {
		if _, err := c.ImageInspect(t.Context(), img); err != nil {
			t.Skipf("image %s is absent: make e2e-real builds it (%v)", img, err)
		}
	}
	clearInterruptedRun(t, c)
	dir := t.TempDir()
	mapping := filepath.Join(dir, "relocation-mapping.json")
	data, err := json.Marshal(redmineRelocation)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mapping, data, 0o644))
	s := startServerArgs(t, filepath.Join(dir, "data"), "--relocation-mapping", mapping)
	name := "redmine"
	t.Cleanup(func() { s.call(t, "/uninstallApp", `{"appName":"redmine","purge":true}`, nil) })

	// The catalog is the built-in one: /appDetail knows redmine.
	r := s.call(t, "/appDetail", url.Values{"appName": {name}}, map[string]string{"Accept-Language": "en"})
	require.Equal(t, http.StatusOK, r.status, r.Message)
	assert.Equal(t, "Redmine", r.Data["title"])

	const (
		siteTitle  = "StackHub e2e tracker"
		adminEmail = "tracker-admin@example.com"
	)
	start := time.Now()
	r = s.call(t, "/installApp", `{"appName":"redmine","parameters":{"site_title":"`+siteTitle+`","language":"de",`+
		`"site_url":"https://tracker.example.com/","admin_email":"`+adminEmail+`","time_zone":"Europe/Berlin"}}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	webPort, dbPort := port(t, r.Data["port"]), port(t, r.Data["db_port"])
	assert.Equal(t, "websoft9-redmine", r.Data["containerName"])
	s.waitStatusWithin(t, name, "1", 10*time.Minute)
	t.Logf("install → status 1: %s", time.Since(start).Round(100*time.Millisecond))

	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	// The settings came through the exec: without Accept-Language, Redmine
	// speaks its default language.
	code, body := httpGet(t, base+"/login")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<title>"+siteTitle+"</title>", "site_title is Redmine's app title")
	assert.Contains(t, body, `<html lang="de">`, "language is Redmine's default language")
	assert.Contains(t, body, `name="username"`, "the login form")
	t.Logf("Redmine answers at %s/login; MariaDB on 127.0.0.1:%d", base, dbPort)
	for _, ctr := range []string{"websoft9-redmine", "websoft9-redmine-mariadb"} {
		insp, err := c.ContainerInspect(t.Context(), ctr, client.ContainerInspectOptions{})
		require.NoError(t, err)
		assert.Contains(t, insp.Container.Config.Env, "TZ=Europe/Berlin", "time_zone reaches %s", ctr)
	}
	runLogs, _ := filepath.Glob(filepath.Join(dir, "data", "runs", "*.log"))
	var installLog strings.Builder
	for _, f := range runLogs {
		b, _ := os.ReadFile(f)
		installLog.Write(b)
	}
	// Redmine shows mail_from only with e-mail delivery configured: the
	// script's report (after it read the setting back) stands in for it.
	assert.Contains(t, installLog.String(), "websoft9: redmine | settings applied: title, language de, host https://tracker.example.com, mail from "+adminEmail+"\n",
		"the exec's output is in the run log")

	// The generated secrets are shown once, and never logged.
	status, cred, _ := s.api(t, http.MethodPost, "/api/v1/apps/redmine/credentials", "")
	require.Equal(t, http.StatusOK, status, "%v", cred)
	values, _ := cred["credentials"].(map[string]any)
	require.Len(t, values, 3, "%v", cred)
	for k, v := range values {
		pw, _ := v.(string)
		assert.Regexp(t, `^[A-Za-z0-9]{32}$`, pw, k)
		assert.NotContains(t, s.logs.String(), pw, "%s is in the server log", k)
		runLogs, _ := filepath.Glob(filepath.Join(dir, "data", "runs", "*.log"))
		for _, f := range runLogs {
			b, _ := os.ReadFile(f)
			assert.NotContains(t, string(b), pw, "%s is in run log %s", k, f)
		}
	}
	status, cred, _ = s.api(t, http.MethodPost, "/api/v1/apps/redmine/credentials", "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, cred["credentials"], "shown once")
	assert.NotNil(t, cred["shownAt"])

	// Data survives a restart: a new admin password is kept in MariaDB.
	newPassword := "Stackhub-e2e-" + fmt.Sprint(time.Now().Unix())
	rm := newRedmineClient(t, base)
	rm.login(t, "admin", "admin")
	rm.changePassword(t, "admin", newPassword)
	assert.Contains(t, rm.page(t, "/my/account"), `value="`+adminEmail+`"`, "admin_email is the admin's e-mail")
	general := rm.page(t, "/settings?tab=general")
	assert.Contains(t, general, `value="tracker.example.com"`, "site_url gives the host name")
	assert.Regexp(t, `<option (selected="selected" value="https"|value="https" selected="selected")>`, general, "and the protocol")
	job := s.runJob(t, "/api/v1/apps/redmine/actions/restart", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, name, "1", 5*time.Minute)
	waitHTTP(t, base+"/login", 3*time.Minute)
	assert.True(t, newRedmineClient(t, base).tryLogin(t, "admin", newPassword), "the new password works after the restart")
	assert.False(t, newRedmineClient(t, base).tryLogin(t, "admin", "admin"), "the old one does not")

	// A backup brings everything back after a purge: the database (the new
	// password) and the files (a known one in Redmine's files volume).
	h := dockerhost.New(c)
	writeKnownData(t, c, "websoft9-redmine", "/usr/src/redmine/files", map[string]int{"attachment.bin": 3 << 20})
	filesBefore := filesOf(volumeSums(t, h, name), "files/")
	_, err = s.client().AddRepository(t.Context(), RepositoryRequest{ID: "local", Kind: "filesystem", Path: filepath.Join(dir, "repo"),
		Password: "long enough password", Create: true})
	require.NoError(t, err)
	start = time.Now()
	job = s.runJob(t, "/api/v1/apps/redmine/backups", `{}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	backupID := job["outputs"].(map[string]any)["backup"].(string)
	t.Logf("backup of Redmine: %s", time.Since(start).Round(100*time.Millisecond))
	r = s.call(t, "/uninstallApp", `{"appName":"redmine","purge":true}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	start = time.Now()
	_, _, job = restore(t, s, backupID, "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	t.Logf("restore of Redmine after a purge: %s", time.Since(start).Round(100*time.Millisecond))
	s.waitStatusWithin(t, name, "1", 5*time.Minute)
	waitHTTP(t, base+"/login", 3*time.Minute)
	assert.True(t, newRedmineClient(t, base).tryLogin(t, "admin", newPassword), "the database came back: the new password works")
	assert.Equal(t, filesBefore, filesOf(volumeSums(t, h, name), "files/"), "the files came back, byte for byte")

	// Uninstall with purge leaves nothing: containers, networks, volumes, ports.
	start = time.Now()
	r = s.call(t, "/uninstallApp", `{"appName":"redmine","purge":true}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	t.Logf("uninstall with purge: %s", time.Since(start).Round(100*time.Millisecond))
	assert.ElementsMatch(t, []any{"websoft9-redmine_files", "websoft9-redmine_db"}, r.Data["removedVolumes"])
	objs, err := dockerhost.New(c).AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes)
	for _, p := range []int{webPort, dbPort} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if assert.NoError(t, err, "port %d is free again", p) {
			ln.Close()
		}
	}
	r = s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

// clearInterruptedRun removes what an earlier run of this test left on the
// host when it was killed before its cleanup (its server's data directory is
// gone, so no StackHub knows the app and an install would get 409). Only a
// Redmine on the e2e images, which carry build-images' fingerprint label, is
// removed: any other is somebody's data, and the test stops instead.
func clearInterruptedRun(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := t.Context()
	host := dockerhost.New(c)
	objs, err := host.AppObjects(ctx, "redmine")
	require.NoError(t, err)
	if len(objs.Containers) == 0 && len(objs.Networks) == 0 && len(objs.Volumes) == 0 {
		return
	}
	if len(objs.Containers) == 0 {
		t.Fatalf("volumes %v and networks %v of an app named redmine are on this host and no container tells whether a test made them: remove them (docker volume rm / docker network rm) to run this test", objs.Volumes, objs.Networks)
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", naming.LabelApp+"=redmine")})
	require.NoError(t, err)
	for _, ctr := range list.Items {
		if ctr.Labels[e2eFingerprintLabel] == "" {
			t.Fatalf("container %v (image %s) of an app named redmine is on this host and is not on the e2e images: this test will not remove it", ctr.Names, ctr.Image)
		}
	}
	inv, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", naming.LabelInvocation+"=redmine")})
	require.NoError(t, err)
	for _, ctr := range inv.Items {
		if ctr.State == container.StateRunning {
			t.Fatalf("a CNAB action on redmine is running (container %v): another StackHub is working on this host", ctr.Names)
		}
	}
	rm, err := host.RemoveApp(ctx, "redmine", "", true)
	require.NoError(t, err)
	t.Logf("removed what an interrupted earlier run left: containers %v, networks %v, volumes %v", rm.Containers, rm.Networks, rm.Volumes)
}

// e2eFingerprintLabel is the label e2e/real/build-images puts on its images.
const e2eFingerprintLabel = "sh.websoft9.e2e.fingerprint"

func waitHTTP(t *testing.T, u string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, _ := httpGet(t, u)
		if code == http.StatusOK {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s answers %d after %s", u, code, limit)
		time.Sleep(time.Second)
	}
}

// redmineClient is a browser-like client of Redmine's HTML forms.
type redmineClient struct {
	base string
	http *http.Client
}

func newRedmineClient(t *testing.T, base string) *redmineClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &redmineClient{base: base, http: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

var authenticityToken = regexp.MustCompile(`name="authenticity_token" value="([^"]+)"`)

// form GETs page and returns its CSRF token.
func (rc *redmineClient) form(t *testing.T, page string) string {
	t.Helper()
	resp, err := rc.http.Get(rc.base + page)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := authenticityToken.FindSubmatch(b)
	require.NotNil(t, m, "no authenticity_token on %s (status %d)", page, resp.StatusCode)
	return string(m[1])
}

// page GETs a page as the signed-in user and returns it.
func (rc *redmineClient) page(t *testing.T, page string) string {
	t.Helper()
	resp, err := rc.http.Get(rc.base + page)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", page)
	return string(b)
}

// post submits a form and returns the final URL and page.
func (rc *redmineClient) post(t *testing.T, page string, v url.Values) (string, string) {
	t.Helper()
	resp, err := rc.http.PostForm(rc.base+page, v)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Request.URL.Path, string(b)
}

// tryLogin signs in and tells whether Redmine accepted the password: a
// refused one renders the login page again ("Invalid user or password");
// an accepted one leaves it (for the admin's first login, to the page that
// asks for a new password).
func (rc *redmineClient) tryLogin(t *testing.T, user, password string) bool {
	t.Helper()
	tok := rc.form(t, "/login")
	path, body := rc.post(t, "/login", url.Values{"authenticity_token": {tok}, "username": {user}, "password": {password}})
	if path == "/login" {
		require.Contains(t, body, `id="flash_error"`, "a refused login says why")
		return false
	}
	return true
}

func (rc *redmineClient) login(t *testing.T, user, password string) {
	t.Helper()
	require.True(t, rc.tryLogin(t, user, password), "Redmine refused %s's password", user)
}

func (rc *redmineClient) changePassword(t *testing.T, old, password string) {
	t.Helper()
	tok := rc.form(t, "/my/password")
	path, body := rc.post(t, "/my/password", url.Values{"authenticity_token": {tok}, "password": {old},
		"new_password": {password}, "new_password_confirmation": {password}})
	require.NotContains(t, body, `id="errorExplanation"`, "Redmine refused the new password")
	require.NotContains(t, body, `id="flash_error"`, "Redmine refused the new password")
	assert.Equal(t, "/my/account", path, "Redmine goes to the account page after a password change")
}

// filesOf keeps the entries of sums under prefix.
func filesOf(sums map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range sums {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
