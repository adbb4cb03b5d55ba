//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/moby/moby/client"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// The console's end-to-end tests drive Debian's chromium (headless) with
// chromedp against a real `stackhub serve` and the real Docker engine.
// Each saves screenshots in its artifact directory: run with
// `-artifacts -outputdir DIR` to keep them (go help testflag).

const consolePassword = "console-Pw-51c9ab"

// browser is one headless Chromium on one page of the console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot int

	mu       sync.Mutex
	problems []string // uncaught exceptions, console errors, CSP violations
	pending  map[network.RequestID]string
}

// chromium returns the browser to drive, or skips the test without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install -y chromium): the console's end-to-end tests need it")
	return ""
}

// newBrowser starts Chromium with a window of width×height and opens the
// console of s. Script errors and CSP violations fail the test.
func newBrowser(t *testing.T, s server, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	// chromedp reports CDP events it does not know (such as the top layer
	// of a modal dialog, newer than its cdproto) as errors: log, not fail.
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.HasPrefix(msg, "unhandled node event") {
			t.Logf("chromedp: %s", msg)
		}
	}))
	b := &browser{t: t, ctx: ctx, pending: map[network.RequestID]string{}}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.track(ev.RequestID, ev.Request.URL)
		case *network.EventLoadingFinished:
			b.track(ev.RequestID, "")
		case *network.EventLoadingFailed:
			b.track(ev.RequestID, "")
		case *cdpruntime.EventExceptionThrown:
			b.problem("exception: " + ev.ExceptionDetails.Error())
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.APITypeError {
				b.problem(fmt.Sprintf("console.error: %v", ev.Args))
			}
		case *cdplog.EventEntryAdded:
			// Failed requests (a wrong password's 401) are the network's
			// business; anything else at error level is ours.
			if ev.Entry.Level == cdplog.LevelError && ev.Entry.Source != cdplog.SourceNetwork {
				b.problem(fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text))
			}
		}
	})
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		b.mu.Lock()
		defer b.mu.Unlock()
		assert.Empty(t, b.problems, "the page logged no script error and no CSP violation")
	})
	start := time.Now()
	// The first Run starts the browser and ties it to its context: ctx,
	// never a per-step timeout, or the browser would end with the step.
	require.NoError(t, chromedp.Run(ctx, network.Enable()), "start chromium")
	b.run("open the console", chromedp.Navigate(s.url+"/"))
	b.waitBoot()
	t.Logf("chromium up and the console loaded in %s", time.Since(start).Round(time.Millisecond))
	return b
}

func (b *browser) track(id network.RequestID, url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if url == "" {
		delete(b.pending, id)
	} else {
		b.pending[id] = url
	}
}

// booted tells whether app.js ran: it draws the header.
const booted = `document.querySelector('#top') && document.querySelector('#top').children.length > 0`

// waitBoot waits for the console's modules to load and run. On a starved
// machine Chromium has been seen to leave module requests unsent: that is
// logged with the requests in flight, and the page is loaded once more.
func (b *browser) waitBoot() {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := b.eval("Boolean("+booted+")", &ok); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.mu.Lock()
	var inFlight []string
	for _, u := range b.pending {
		inFlight = append(inFlight, u)
	}
	b.mu.Unlock()
	b.screenshot("not-booted")
	b.t.Logf("the console did not start in 20s (requests in flight: %q): loading it again", inFlight)
	b.run("reload the console", chromedp.Reload())
	b.waitFor("the console to start", booted, 20*time.Second)
}

func (b *browser) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

// run runs actions with a timeout; a failure takes a screenshot first.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression. DevTools evaluation
// is not subject to the page's CSP, unlike chromedp.Poll's page function,
// which needs 'unsafe-eval'.
func (b *browser) eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate(expr, out))
}

// waitFor polls a JavaScript expression until it is truthy.
func (b *browser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := b.eval("Boolean("+expr+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout-" + what)
			b.t.Fatalf("waited %s for %s (%s): %v", timeout, what, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text returns the text of the first element matching sel ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	require.NoError(b.t, b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s))
	return s
}

// attr returns an attribute of the first element matching sel.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	var s string
	require.NoError(b.t, b.eval(fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute(%q) || ""`, sel, name), &s))
	return s
}

// click clicks sel with the mouse; it retries when a refresh of the page
// replaced the node between finding and clicking it.
func (b *browser) click(sel string) {
	b.t.Helper()
	var err error
	for range 3 {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err = chromedp.Run(ctx, chromedp.Click(sel, chromedp.ByQuery))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.screenshot("failed-click")
	b.t.Fatalf("click %s: %v", sel, err)
}

// fill replaces the value of an input with what a user types.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	clear := fmt.Sprintf(`document.querySelector(%q).value = ''`, sel)
	b.run("fill "+sel, chromedp.Evaluate(clear, nil), chromedp.SendKeys(sel, value, chromedp.ByQuery))
}

// press sends one key to the focused element.
func (b *browser) press(key string) {
	b.t.Helper()
	b.run("press a key", chromedp.KeyEvent(key))
}

// screenshot saves the page as NN-name.png in the test's artifact directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	file := filepath.Join(b.t.ArtifactDir(), fmt.Sprintf("%02d-%s.png", b.shot, regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(name), "-")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot %s", file)
}

// login fills the login form and waits for the catalog.
func (b *browser) login(name, password string) {
	b.t.Helper()
	b.waitFor("the login form", `document.querySelector('#login-form')`, 10*time.Second)
	b.fill("#login-name", name)
	b.fill("#login-password", password)
	b.click("#login-submit")
	b.waitFor("a screen after login", `document.querySelector('#current-user') && document.querySelector('nav a[aria-current="page"]')`, 15*time.Second)
}

// setupCode is the one-time code the server logged at start-up.
func setupCode(t *testing.T, s server) string {
	t.Helper()
	m := regexp.MustCompile(`setup_code=(\S+)`).FindStringSubmatch(s.logs.String())
	require.Len(t, m, 2, "the server logs a one-time setup code while no user exists")
	return m[1]
}

// createAdmin does the first-run setup over the API, for tests whose
// subject is elsewhere (TestConsoleFirstRunAndSettings does it in the browser).
func createAdmin(t *testing.T, s server) {
	t.Helper()
	body := fmt.Sprintf(`{"code":%q,"name":"admin","password":%q}`, setupCode(t, s), consolePassword)
	resp, err := NewClient(s.url, "").Do(t.Context(), http.MethodPost, "/api/v1/auth/setup", strings.NewReader(body), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// TestConsoleFirstRunAndSettings: the first admin is created in the
// browser with the setup code from the log; logout, a wrong password
// (shown next to the form), login; the language switch; an API token
// created (shown once) and revoked; a password change ends the session.
func TestConsoleFirstRunAndSettings(t *testing.T) {
	chromium(t) // skip before starting a server
	dockertest.RequireDocker(t)
	s := startServer(t)
	code := setupCode(t, s)
	b := newBrowser(t, s, 1280, 900)

	b.waitFor("the setup form", `document.querySelector('#setup-form')`, 10*time.Second)
	var url string
	require.NoError(t, b.eval(`location.pathname`, &url))
	assert.Equal(t, "/console/", url, "/ redirects to the console")
	b.screenshot("setup")
	b.fill("#setup-code", "not-the-code")
	b.fill("#setup-password", consolePassword)
	b.fill("#setup-password2", consolePassword)
	b.click("#setup-submit")
	b.waitFor("the wrong code's error", `!document.querySelector('#setup-error').hidden`, 10*time.Second)
	assert.NotEmpty(t, b.text("#setup-error"))
	b.fill("#setup-code", code)
	b.click("#setup-submit")
	b.waitFor("the catalog after setup", `document.querySelector('#catalog-list .card[data-app="demo"]')`, 15*time.Second)
	assert.Equal(t, "admin", b.text("#current-user"))
	b.screenshot("catalog-after-setup")

	b.click("#logout")
	b.waitFor("the login form after logout", `document.querySelector('#login-form')`, 10*time.Second)
	b.fill("#login-name", "admin")
	b.fill("#login-password", "wrong-password-1")
	b.click("#login-submit")
	b.waitFor("the wrong password's error", `!document.querySelector('#login-error').hidden`, 10*time.Second)
	assert.Equal(t, "Wrong user name or password.", b.text("#login-error"))
	b.screenshot("wrong-password")
	b.login("admin", consolePassword)

	// Chinese, remembered across a reload; then English again.
	assert.Equal(t, "Catalog", b.text("#nav-catalog"))
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("the Chinese header", `document.querySelector('#nav-catalog').textContent === '应用商店'`, 10*time.Second)
	b.run("reload", chromedp.Reload())
	b.waitFor("Chinese after a reload", `document.querySelector('#nav-catalog') && document.querySelector('#nav-catalog').textContent === '应用商店' && document.documentElement.lang === 'zh-CN'`, 10*time.Second)
	b.screenshot("chinese")
	b.run("switch to English", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'en'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("the English header", `document.querySelector('#nav-catalog').textContent === 'Catalog'`, 10*time.Second)

	// Settings: a token is shown once, listed, then revoked.
	b.click("#nav-settings")
	b.waitFor("the settings screen", `document.querySelector('#token-name')`, 10*time.Second)
	b.fill("#token-name", "ci-console")
	b.click("#token-create")
	b.waitFor("the new token", `document.querySelector('#token-secret')`, 10*time.Second)
	var secret string
	require.NoError(t, b.eval(`document.querySelector('#token-secret').value`, &secret))
	assert.True(t, strings.HasPrefix(secret, "shk_"), "got %q", secret)
	b.waitFor("the token in the list", `[...document.querySelectorAll('#tokens-table td')].some((td) => td.textContent === 'ci-console')`, 10*time.Second)
	b.screenshot("token-created")
	_, err := NewClient(s.url, secret).ListApps(t.Context())
	assert.NoError(t, err, "the token works")
	var tokenID string
	require.NoError(t, b.eval(`[...document.querySelectorAll('#tokens-table tr[data-token]')].find((tr) => tr.textContent.includes('ci-console')).dataset.token`, &tokenID))
	b.click(fmt.Sprintf(`#tokens-table tr[data-token=%q] button[data-action="revoke"]`, tokenID))
	b.waitFor("the revoke dialog", `document.querySelector('#revoke-dialog[open]')`, 10*time.Second)
	b.click(`#revoke-dialog button[data-role="confirm"]`)
	b.waitFor("the token gone", fmt.Sprintf(`!document.querySelector('#revoke-dialog') && !document.querySelector('#tokens-table tr[data-token=%q]')`, tokenID), 10*time.Second)
	_, err = NewClient(s.url, secret).ListApps(t.Context())
	assertAPIStatus(t, err, http.StatusUnauthorized)

	// A password change ends the session; the new password logs in.
	const newPassword = "console-Pw-2-7e41d0"
	b.fill("#password-current", consolePassword)
	b.fill("#password-new", newPassword)
	b.fill("#password-confirm", newPassword)
	b.click("#password-submit")
	b.waitFor("the login form after the change", `document.querySelector('#login-form')`, 15*time.Second)
	b.screenshot("password-changed")
	b.login("admin", newPassword)
}

// TestConsoleInstallManageUninstall installs the test app from the catalog
// and watches the progress reach running, opens its port, stops and starts
// it, reads its logs, and uninstalls it with its data.
func TestConsoleInstallManageUninstall(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-console"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)

	// Search and filter.
	b.fill("#catalog-search", "zzz-nothing")
	b.waitFor("no card", `document.querySelectorAll('#catalog-list .card').length === 0`, 10*time.Second)
	b.fill("#catalog-search", "failing")
	b.waitFor("the failing card alone", `document.querySelectorAll('#catalog-list .card').length === 1 && document.querySelector('.card[data-app="failing"]')`, 10*time.Second)
	b.fill("#catalog-search", "demo")
	b.waitFor("the demo card", `document.querySelector('.card[data-app="demo"]')`, 10*time.Second)
	assert.Contains(t, b.text(`.card[data-app="demo"] .version`), "0.1.0")

	// The detail view, then the install dialog, which Escape closes.
	b.click(`.card[data-app="demo"] h2 a`)
	b.waitFor("the detail view", `document.querySelector('#catalog-detail')`, 10*time.Second)
	assert.Contains(t, b.text("#catalog-detail"), "db_port")
	b.screenshot("detail")
	b.click(`a[href="#/catalog"]`)
	b.click(`.card[data-app="demo"] button[data-action="install"]`)
	b.waitFor("the install dialog", `document.querySelector('#install-dialog[open]')`, 10*time.Second)
	var focused string
	require.NoError(t, b.eval(`document.activeElement.dataset.role || ''`, &focused))
	assert.Equal(t, "install-name", focused, "the dialog takes the focus")
	b.press(kb.Escape)
	b.waitFor("the dialog closed by Escape", `!document.querySelector('#install-dialog')`, 10*time.Second)

	b.click(`.card[data-app="demo"] button[data-action="install"]`)
	b.waitFor("the install dialog", `document.querySelector('#install-dialog[open]')`, 10*time.Second)
	b.fill(`#install-dialog [data-role="install-name"]`, name)
	start := time.Now()
	b.click(`#install-dialog [data-role="install-submit"]`)
	b.waitFor("the progress panel", `document.querySelector('#job-panel[open]')`, 10*time.Second)
	b.waitFor("a stage past queued", `document.querySelectorAll('#job-stages li').length > 1`, 60*time.Second)
	b.screenshot("install-progress")
	// Seconds on an idle machine; minutes when the host is busy.
	b.waitFor("the end of the install", `document.querySelector('#job-panel').dataset.final`, 3*time.Minute)
	t.Logf("install in the browser: click → done in %s", time.Since(start).Round(10*time.Millisecond))
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	var stages []string
	require.NoError(t, b.eval(`[...document.querySelectorAll('#job-stages li')].map((li) => li.dataset.stage)`, &stages))
	for _, want := range []string{"queued", "creating", "starting", "healthy", "done"} {
		assert.Contains(t, stages, want)
	}
	assert.NotEmpty(t, strings.TrimSpace(b.text("#job-log")), "log lines are shown")
	assert.Contains(t, b.text("#job-resources"), "websoft9-"+name)
	b.waitFor("the app's link", `document.querySelector('#job-result a.port-link')`, 10*time.Second)
	b.screenshot("install-done")
	b.click("#job-close")
	b.waitFor("the panel closed", `!document.querySelector('#job-panel')`, 10*time.Second)

	// The apps table: running, its port opens the app.
	b.click("#nav-apps")
	row := fmt.Sprintf(`#apps-table tr[data-app=%q]`, name)
	b.waitFor("the app running", fmt.Sprintf(`document.querySelector('%s[data-state="running"]')`, row), 15*time.Second)
	assert.Contains(t, b.text(row), "websoft9-"+name+"-db", "the containers are listed")
	href := b.attr(row+` a.port-link[data-param="port"]`, "href")
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/$`, href)
	status, _ := httpGet(t, href)
	assert.Equal(t, http.StatusOK, status, "the port link opens the app: %s", href)
	b.screenshot("apps-running")

	// Stop, then start.
	b.click(row + ` button[data-action="stop"]`)
	b.waitFor("the app stopped", fmt.Sprintf(`document.querySelector('%s[data-state="stopped"]') && !document.querySelector('%s .pending') && !document.querySelector('%s button[data-action="start"]').disabled`, row, row, row), 3*time.Minute)
	status, _ = httpGet(t, href)
	assert.NotEqual(t, http.StatusOK, status, "a stopped app does not answer")
	b.screenshot("apps-stopped")
	b.click(row + ` button[data-action="start"]`)
	b.waitFor("the app running again", fmt.Sprintf(`document.querySelector('%s[data-state="running"]') && !document.querySelector('%s .pending')`, row, row), 3*time.Minute)
	status, _ = httpGet(t, href)
	assert.Equal(t, http.StatusOK, status, "started again, the app answers")

	// Logs, closed with Escape.
	b.click(row + ` button[data-action="logs"]`)
	b.waitFor("the log lines", `document.querySelector('#logs-output') && document.querySelector('#logs-output').textContent.includes('http listening on :8080')`, 20*time.Second)
	b.screenshot("logs")
	b.press(kb.Escape)
	b.waitFor("the logs closed", `!document.querySelector('#logs-dialog')`, 10*time.Second)

	// Uninstall with the data.
	b.click(row + ` button[data-action="uninstall"]`)
	b.waitFor("the uninstall dialog", `document.querySelector('#uninstall-dialog[open]')`, 10*time.Second)
	b.click("#uninstall-purge")
	b.screenshot("uninstall-confirm")
	b.click(`#uninstall-dialog button[data-role="confirm"]`)
	b.waitFor("the app gone", fmt.Sprintf(`!document.querySelector('#uninstall-dialog') && !document.querySelector('%s') && !document.querySelector('#apps-empty').hidden`, row), 3*time.Minute)
	b.screenshot("uninstalled")
	objs, err := host.AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes, "purge removed the volumes")
	st, body, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
	assert.Equal(t, http.StatusNotFound, st, "%v", body)
}

// TestConsoleServerAndPhone shows the server screen with its gauges and
// charts, then every screen on a phone-sized window without sideways
// scrolling.
func TestConsoleServerAndPhone(t *testing.T) {
	chromium(t) // skip before starting a server
	dockertest.RequireDocker(t)
	s := startServer(t)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)

	b.click("#nav-server")
	b.waitFor("the charts", `document.querySelectorAll('#server-charts svg path.chart-line').length === 3`, 15*time.Second)
	for _, id := range []string{"gauge-cpu", "gauge-memory", "gauge-disk"} {
		assert.NotEmpty(t, b.attr("#"+id+" svg", "aria-label"), id)
	}
	assert.Regexp(t, `^M[\d.]+,[\d.]+`, b.attr("#chart-cpu path.chart-line", "d"))
	assert.Regexp(t, `\d+\.\d+`, b.text("#server-facts"), "the Docker version")
	assert.NotEmpty(t, b.text("#server-risks h2"))
	b.screenshot("server")

	b.run("phone-sized viewport", chromedp.EmulateViewport(375, 812))
	for _, screen := range []string{"catalog", "apps", "server", "settings"} {
		b.run("go to "+screen, chromedp.Navigate(s.url+"/console/#/"+screen))
		b.waitFor(screen, fmt.Sprintf(`document.querySelector('#nav-%s[aria-current="page"]')`, screen), 10*time.Second)
		time.Sleep(300 * time.Millisecond) // the screen's first data
		var width int
		require.NoError(t, b.eval(`document.documentElement.scrollWidth`, &width))
		assert.LessOrEqual(t, width, 375, "%s fits a phone's width", screen)
		b.screenshot("phone-" + screen)
	}
}

// TestConsolePeople: in the browser, the admin invites an operator from
// Settings; in a second browser the operator joins with the code from the
// login screen, sets up a second factor (the code computed from the
// secret the console shows), sees the recovery codes, logs out, and the
// login then asks for the one-time code.
func TestConsolePeople(t *testing.T) {
	chromium(t) // skip before starting a server
	dockertest.RequireDocker(t)
	s := startServer(t)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)
	b.click("#nav-settings")
	b.waitFor("the people section", `document.querySelector('#users-table tr[data-user="admin"]')`, 10*time.Second)
	require.NoError(t, b.eval(`(() => { const s = document.querySelector('#invite-role'); s.value = 'operator'; return true; })()`, new(bool)))
	b.click("#invite-create")
	b.waitFor("the invite code", `document.querySelector('#invite-code') && document.querySelector('#invite-code').value`, 10*time.Second)
	var code string
	require.NoError(t, b.eval(`document.querySelector('#invite-code').value`, &code))
	require.True(t, strings.HasPrefix(code, "shi_"), code)
	b.waitFor("the open invite", `document.querySelector('#invites-list li[data-invite]')`, 10*time.Second)
	b.screenshot("people-invite")

	o := newBrowser(t, s, 1280, 900)
	o.waitFor("the login form", `document.querySelector('#join-link')`, 10*time.Second)
	o.click("#join-link")
	o.waitFor("the join form", `document.querySelector('#join-form')`, 10*time.Second)
	const pw = "operator-Pw-91d2ce"
	o.fill("#join-code", code)
	o.fill("#join-name", "otto")
	o.fill("#join-password", pw)
	o.fill("#join-password2", pw)
	o.click("#join-submit")
	o.waitFor("logged in after joining", `document.querySelector('#current-user')`, 15*time.Second)
	assert.Equal(t, "otto", o.text("#current-user"))
	o.click("#nav-settings")
	o.waitFor("the second factor section", `document.querySelector('#totp-start')`, 10*time.Second)
	assert.Zero(t, o.count(`#users-table`), "an operator sees no people section")
	o.click("#totp-start")
	o.waitFor("the secret", `document.querySelector('#totp-secret') && document.querySelector('#totp-secret').value`, 10*time.Second)
	var secret string
	require.NoError(t, o.eval(`document.querySelector('#totp-secret').value`, &secret))
	o.fill("#totp-code", totpCode(t, secret, time.Now()))
	o.click("#totp-confirm")
	o.waitFor("the recovery codes", `document.querySelector('#recovery-secret')`, 10*time.Second)
	o.screenshot("people-recovery-codes")
	o.click("#totp-done")
	o.waitFor("the second factor on", `document.querySelector('#second-state') && !document.querySelector('#totp-start')`, 10*time.Second)

	o.click("#logout")
	o.waitFor("the login form", `document.querySelector('#login-form')`, 10*time.Second)
	o.fill("#login-name", "otto")
	o.fill("#login-password", pw)
	o.click("#login-submit")
	o.waitFor("the code asked for", `!document.querySelector('#login-otp').closest('.field').hidden`, 10*time.Second)
	o.screenshot("people-login-code")
	o.fill("#login-otp", totpCode(t, secret, time.Now().Add(30*time.Second)))
	o.click("#login-submit")
	o.waitFor("logged in with the code", `document.querySelector('#current-user')`, 15*time.Second)
	assert.Equal(t, "otto", o.text("#current-user"))
}

// count returns how many elements match sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n))
	return n
}

// TestConsoleInstallWithSettings: the install dialog's form comes from the
// demo's parameters (message as text with its default, admin_password as
// a password field, the ports folded under Advanced); a port outside its
// range is refused at the field before anything is sent; the install with
// a message and a secret runs, and the running container has both, as
// typed — in English and in Chinese.
func TestConsoleInstallWithSettings(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-settings"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)
	b.waitFor("the demo card", `document.querySelector('.card[data-app="demo"]')`, 10*time.Second)
	b.click(`.card[data-app="demo"] button[data-action="install"]`)
	b.waitFor("the install dialog", `document.querySelector('#install-dialog[open]')`, 10*time.Second)
	b.waitFor("the settings", `document.querySelector('#install-dialog [data-param="message"]')`, 10*time.Second)
	var kinds map[string]string
	require.NoError(t, b.eval(`Object.fromEntries([...document.querySelectorAll('#install-dialog [data-param]')].map((e) => [e.dataset.param, e.type]))`, &kinds))
	assert.Equal(t, map[string]string{"message": "text", "admin_password": "password", "port": "number", "db_port": "number"}, kinds,
		"purge is an uninstall option: not in the form")
	var msgDefault string
	require.NoError(t, b.eval(`document.querySelector('#install-dialog [data-param="message"]').value`, &msgDefault))
	assert.Equal(t, "hello", msgDefault, "the bundle's default")
	assert.Equal(t, 1, b.count(`#install-dialog details.advanced [data-param="port"]`), "the ports are folded away")

	// A port below its range: refused at the field, nothing sent.
	require.NoError(t, b.eval(`(() => { document.querySelector('#install-dialog details.advanced').open = true; return true; })()`, new(bool)))
	b.fill(`#install-dialog [data-role="install-name"]`, name)
	b.fill(`#install-dialog [data-param="port"]`, "80")
	b.click(`#install-dialog [data-role="install-submit"]`)
	b.waitFor("the port's error", `[...document.querySelectorAll('#install-dialog .field-error')].some((e) => !e.hidden && e.closest('[data-field="port"]'))`, 10*time.Second)
	b.screenshot("settings-port-refused")
	code, _ := apiStatus(t, s, http.MethodGet, "/api/v1/apps/"+name, "")
	assert.Equal(t, http.StatusNotFound, code, "nothing was installed")

	const message = `Hi: "from" the form #1`
	b.fill(`#install-dialog [data-param="port"]`, "")
	b.fill(`#install-dialog [data-param="message"]`, message)
	b.fill(`#install-dialog [data-param="admin_password"]`, "pw-from-the-form")
	b.click(`#install-dialog [data-role="install-submit"]`)
	b.waitFor("the progress panel", `document.querySelector('#job-panel[open]')`, 10*time.Second)
	b.waitFor("the end of the install", `document.querySelector('#job-panel').dataset.final`, 3*time.Minute)
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	r := s.waitStatus(t, name, "1")
	_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, r.Data["port"])))
	assert.Contains(t, env, `"APP_MESSAGE":`+mustJSON(t, message), "the setting, byte for byte")
	assert.Contains(t, env, `"APP_ADMIN_PASSWORD":"pw-from-the-form"`)

	// The same form in Chinese.
	b.click("#job-close")
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('.card[data-app="demo"]')`, 10*time.Second)
	b.click(`.card[data-app="demo"] button[data-action="install"]`)
	b.waitFor("the install dialog", `document.querySelector('#install-dialog[open] fieldset.settings legend')`, 10*time.Second)
	assert.Equal(t, "设置", b.text("#install-dialog fieldset.settings legend"))
	assert.Contains(t, b.text(`#install-dialog [data-field="message"] label`), "消息", "the bundle's own label in Chinese")
	assert.Contains(t, b.text(`#install-dialog [data-field="message"] .help`), "APP_MESSAGE")
	assert.Contains(t, b.text("#install-dialog"), "演示", "the app's Chinese title")
	b.screenshot("settings-zh")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestConsoleAddBundle: an admin adds a bundle from a registry through the
// catalog's "Add a bundle" dialog; its card appears. A bundle that breaks
// the bundle policy is refused in the dialog, naming the rule.
func TestConsoleAddBundle(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	publish := func(name string, more ...string) string {
		res := variant(t, name, "", append([]string{"0.1.0"}, more...)...)
		pub, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/" + name),
			Bundle: res.Bundle, InvocationImage: res.Image, Docker: c})
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), pub.Bundle.InvocationImages[0].Image, client.ImageRemoveOptions{Force: true})
		})
		return pub.Reference
	}
	good := publish("pulledapp")
	bad := publish("hostileapp", "docker-compose.yml", "  db:\n    image: stackhub-test/web:dev\n", "  db:\n    image: stackhub-test/web:dev\n    privileged: true\n")
	s := startServer(t)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)
	b.waitFor("the add button", `document.querySelector('#add-bundle')`, 10*time.Second)

	b.click("#add-bundle")
	b.waitFor("the dialog", `document.querySelector('#add-bundle-dialog[open]')`, 10*time.Second)
	b.fill("#add-bundle-ref", bad)
	b.click("#add-bundle-pull")
	b.waitFor("the refusal", `!document.querySelector('#add-bundle-error').hidden`, 60*time.Second)
	assert.Contains(t, b.text("#add-bundle-error"), "rule privileged")
	b.screenshot("add-bundle-refused")

	b.fill("#add-bundle-ref", good)
	b.click("#add-bundle-pull")
	b.waitFor("the new card", `!document.querySelector('#add-bundle-dialog') && document.querySelector('.card[data-app="pulledapp"]')`, 60*time.Second)
	b.screenshot("add-bundle-added")
	assert.Zero(t, b.count(`.card[data-app="hostileapp"]`), "the refused bundle is not in the catalog")

	// The dialog in Chinese, with a form error: nothing to pull.
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('#add-bundle')`, 10*time.Second)
	assert.Equal(t, "添加应用包", b.text("#add-bundle"))
	b.click("#add-bundle")
	b.waitFor("the dialog", `document.querySelector('#add-bundle-dialog[open]')`, 10*time.Second)
	assert.Contains(t, b.text("#add-bundle-dialog"), "向应用商店添加应用包")
	b.fill("#add-bundle-ref", "")
	b.click("#add-bundle-pull")
	b.waitFor("the form error", `!document.querySelector('#add-bundle-error').hidden`, 10*time.Second)
	assert.Contains(t, b.text("#add-bundle-error"), "请输入应用包的引用")
	b.screenshot("add-bundle-zh")
}

// TestConsoleAppPage: the apps table links each app to its own page,
// which shows each container as Docker does (running, healthy), the runs
// newest first, and runs a restart from its buttons.
func TestConsoleAppPage(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-page"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	installAndCheck(t, s, `{"app":"demo","name":"`+name+`"}`, name)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)
	b.click("#nav-apps")
	b.waitFor("the app's link", fmt.Sprintf(`document.querySelector('#apps-table tr[data-app=%q] a[data-role="app-page"]')`, name), 15*time.Second)
	b.click(fmt.Sprintf(`#apps-table tr[data-app=%q] a[data-role="app-page"]`, name))
	b.waitFor("both containers healthy", `[...document.querySelectorAll('#app-containers tr[data-container]')].length === 2 &&
		[...document.querySelectorAll('#app-containers tr[data-container]')].every((tr) => tr.textContent.includes('running') && tr.textContent.includes('healthy'))`, 60*time.Second)
	b.waitFor("the install run", `document.querySelector('#app-runs tr[data-action="install"][data-status="succeeded"]')`, 10*time.Second)
	b.screenshot("app-page")
	b.click(`#app-actions button[data-action="restart"]`)
	b.waitFor("the progress panel", `document.querySelector('#job-panel[open]')`, 10*time.Second)
	b.waitFor("the end of the restart", `document.querySelector('#job-panel').dataset.final`, 2*time.Minute)
	assert.Equal(t, "done", b.attr("#job-panel", "data-final"))
	b.click("#job-close")
	b.waitFor("the restart run, newest first", `document.querySelector('#app-runs tbody tr') && document.querySelector('#app-runs tbody tr').dataset.action === 'restart' &&
		document.querySelector('#app-runs tbody tr').dataset.status === 'succeeded'`, 30*time.Second)

	// Docker's stats per container, live.
	b.waitFor("both containers' stats", `[...document.querySelectorAll('#app-containers td[data-stat="cpu"]')].filter((td) => td.textContent.includes('%')).length === 2`, 30*time.Second)
	assert.Regexp(t, `\d+(\.\d+)? (B|KiB|MiB|GiB) / \d+(\.\d+)? (MiB|GiB)`, b.text(`#app-containers tr[data-container="websoft9-`+name+`"] td[data-stat="memory"]`))

	// A past run's events: the install's stages and log lines, replayed.
	b.click(`#app-runs tr[data-action="install"] button[data-role="events"]`)
	b.waitFor("the install's events", `document.querySelector('#job-panel[open]') && document.querySelector('#job-panel').dataset.final`, 30*time.Second)
	assert.Equal(t, "done", b.attr("#job-panel", "data-final"))
	assert.NotEmpty(t, b.text("#job-log"), "the install's log lines")
	assert.Zero(t, b.count("#job-result #credentials"), "a replay asks for no credentials")
	b.click("#job-close")

	// The settings: as the install ran them; an edit shows what changes,
	// then upgrades; the app gets the new value.
	b.waitFor("the settings", `document.querySelector('#app-settings dd[data-setting="message"]')`, 10*time.Second)
	assert.Equal(t, "hello", b.text(`#app-settings dd[data-setting="message"]`))
	assert.Equal(t, "not set", b.text(`#app-settings dd[data-setting="admin_password"]`))
	b.click(`button[data-action="edit-settings"]`)
	b.waitFor("the edit form", `document.querySelector('#upgrade-dialog[open] [data-param="message"]')`, 10*time.Second)
	assert.Equal(t, "General", b.text(`#upgrade-dialog fieldset.group[data-group="general"] legend`), "the bundle's form group")
	assert.Equal(t, 1, b.count(`#upgrade-dialog details.advanced [data-param="admin_password"]`), "a field in no group is folded away")
	assert.Zero(t, b.count(`#upgrade-dialog [data-param="port"]`), "ports are not settings of an installed app")
	const edited = `edited on the app's page: "yes"`
	b.fill(`#upgrade-dialog [data-param="message"]`, edited)
	b.click(`#upgrade-dialog button[data-role="review"]`)
	b.waitFor("the plan", `document.querySelector('#upgrade-plan tr[data-change="message"]')`, 30*time.Second)
	b.screenshot("app-page-plan")
	assert.Contains(t, b.text(`#upgrade-plan tr[data-change="message"]`), "hello")
	assert.Contains(t, b.text(`#upgrade-plan tr[data-change="message"]`), edited)
	assert.Equal(t, 1, b.count(`#upgrade-plan tbody tr`), "only what changes")
	b.click(`#upgrade-dialog button[data-role="apply"]`)
	b.waitFor("the upgrade's progress", `document.querySelector('#job-panel[open]') && document.querySelector('#job-panel').dataset.final`, 3*time.Minute)
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	b.click("#job-close")
	r := s.waitStatus(t, name, "1")
	_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, r.Data["port"])))
	assert.Contains(t, env, `"APP_MESSAGE":`+mustJSON(t, edited), "the new setting reached the app, byte for byte")
	b.waitFor("the new setting on the page", fmt.Sprintf(`document.querySelector('#app-settings dd[data-setting="message"]').textContent === %q`, edited), 30*time.Second)

	// The same page in Chinese, labels from the bundle.
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('#app-settings-heading') && document.querySelector('#app-settings-heading').textContent === '设置'`, 10*time.Second)
	// The page is drawn again in Chinese; its settings come a moment later.
	b.waitFor("the settings in Chinese", `document.querySelector('#app-settings dd[data-setting="admin_password"]')`, 10*time.Second)
	assert.Contains(t, b.text("#app-settings"), "消息", "the bundle's Chinese label")
	assert.Equal(t, "未设置", b.text(`#app-settings dd[data-setting="admin_password"]`))
	b.click(`button[data-action="edit-settings"]`)
	b.waitFor("the edit form in Chinese", `document.querySelector('#upgrade-dialog[open] fieldset.group legend')`, 10*time.Second)
	assert.Equal(t, "常规", b.text(`#upgrade-dialog fieldset.group[data-group="general"] legend`))
	b.screenshot("app-page-zh")
}

// TestConsoleBackups: an admin adds a backup repository in Settings, backs
// an app up from its page, and restores the backup as a clone that then
// runs beside it; the page's backups in Chinese too.
func TestConsoleBackups(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name, clone = "itest-cbk", "itest-cbk-copy"
	host := dockerhost.New(c)
	t.Cleanup(func() {
		for _, n := range []string{name, clone} {
			_, _ = host.RemoveApp(context.WithoutCancel(t.Context()), n, "", true)
		}
	})
	installAndCheck(t, s, `{"app":"demo","name":"`+name+`"}`, name)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 1000)
	b.login("admin", consolePassword)

	// Settings: no repository yet, then one.
	b.click("#nav-settings")
	b.waitFor("the repositories panel", `document.querySelector('#repositories-none') && !document.querySelector('#repositories-none').hidden`, 10*time.Second)
	require.NoError(t, b.eval(`(() => { document.querySelector('#repo-add-fold').open = true; return true; })()`, new(bool)))
	repoDir := filepath.Join(t.TempDir(), "repo")
	b.fill("#repo-id", "local")
	b.fill("#repo-path", repoDir)
	b.fill("#repo-password", "short")
	b.click("#repo-add")
	b.waitFor("the password's refusal", `!document.querySelector('#repository-error').hidden`, 10*time.Second)
	b.fill("#repo-password", "a long enough password")
	b.click("#repo-add")
	b.waitFor("the repository listed", `document.querySelector('#repositories-table tr[data-repository="local"]')`, 30*time.Second)
	assert.Contains(t, b.text(`#repositories-table tr[data-repository="local"]`), repoDir)
	b.screenshot("repositories")

	// The app's page: back up now.
	b.run("open the app page", chromedp.Evaluate(fmt.Sprintf(`location.hash = '#/apps/%s'`, name), nil))
	b.waitFor("the backups section", `document.querySelector('#app-backups-heading') && !document.querySelector('#backups-none').hidden`, 10*time.Second)
	b.click(`button[data-action="backup"]`)
	b.waitFor("the backup's end", `document.querySelector('#job-panel[open]') && document.querySelector('#job-panel').dataset.final`, 2*time.Minute)
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	b.click("#job-close")
	b.waitFor("the backup listed", `document.querySelector('#app-backups tr[data-backup]')`, 30*time.Second)
	assert.Contains(t, b.text("#app-backups tbody"), "stopping its containers")
	b.screenshot("app-backups")

	// A schedule of its own: a wrong one refused at its field, then saved.
	assert.Contains(t, b.text("#backup-policy"), "No scheduled backups")
	require.NoError(t, b.eval(`(() => { document.querySelector('#policy-fold').open = true; return true; })()`, new(bool)))
	b.fill("#policy-schedule", "0 25 * * *")
	b.click("#policy-save")
	b.waitFor("the schedule's refusal", `!document.querySelector('#policy-error').hidden`, 10*time.Second)
	assert.Contains(t, b.text("#policy-error"), "hour")
	b.fill("#policy-schedule", "30 2 * * *")
	b.fill("#policy-keep-last", "5")
	b.click("#policy-save")
	b.waitFor("the schedule shown", `document.querySelector('#backup-policy').textContent.includes('30 2 * * *')`, 10*time.Second)
	assert.Contains(t, b.text("#backup-policy"), "keeps last 5")
	pol, err := s.client().BackupPolicy(t.Context(), name)
	require.NoError(t, err)
	assert.Equal(t, "30 2 * * *", pol.Schedule)
	assert.Equal(t, 5, pol.Keep.Last)

	// Restore it as a clone.
	b.click(`#app-backups button[data-action="restore"]`)
	b.waitFor("the restore dialog", `document.querySelector('#restore-dialog[open]')`, 10*time.Second)
	b.fill("#restore-name", clone)
	b.click(`#restore-dialog button[data-role="restore"]`)
	b.waitFor("the restore's end", `document.querySelector('#job-panel[open]') && document.querySelector('#job-panel').dataset.final`, 3*time.Minute)
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	b.click("#job-close")
	r := s.waitStatus(t, clone, "1")
	code, _ := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port(t, r.Data["port"])))
	assert.Equal(t, http.StatusOK, code, "the clone answers")

	// In Chinese.
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('#app-backups-heading') && document.querySelector('#app-backups-heading').textContent === '备份'`, 10*time.Second)
	assert.Equal(t, "立即备份", b.text(`button[data-action="backup"]`))
	b.waitFor("the backup in Chinese", `document.querySelector('#app-backups tbody') && document.querySelector('#app-backups tbody').textContent.includes('停止其容器')`, 10*time.Second)
	b.screenshot("app-backups-zh")
}

// TestConsoleCatalogPages: the catalog page asks the server a page at a
// time (Show more adds the next), the category filter and the search run
// on the server, a card shows its category's name in the console's
// language and, for a converted bundle, the store app it came from.
func TestConsoleCatalogPages(t *testing.T) {
	chromium(t) // skip before starting a server
	dockertest.RequireDocker(t)
	dir := t.TempDir()
	// The built-in catalog, a converted compose project, and copies of
	// the demo up to more than two pages.
	entries, err := os.ReadDir("../../bundles")
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			require.NoError(t, os.CopyFS(filepath.Join(dir, e.Name()), os.DirFS(filepath.Join("../../bundles", e.Name()))))
		}
	}
	convertFixture(t, dir, "catadd-hello", nil)
	demo, err := os.ReadFile("../../bundles/testdata/demo/porter.yaml")
	require.NoError(t, err)
	for i := 0; len(must(os.ReadDir(dir))) < 2*48+5; i++ {
		name := fmt.Sprintf("pad-%03d", i)
		require.NoError(t, os.CopyFS(filepath.Join(dir, name), os.DirFS("../../bundles/testdata/demo")))
		body := strings.Replace(string(demo), "\nname: demo\n", "\nname: "+name+"\n", 1)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name, "porter.yaml"), []byte(body), 0o644))
	}
	total := len(must(os.ReadDir(dir)))
	s := startServerArgs(t, t.TempDir(), "--bundles", dir)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)

	cards := `document.querySelectorAll('#catalog-list .card').length`
	b.waitFor("the first page", cards+` === 48`, 15*time.Second)
	assert.Equal(t, fmt.Sprintf("48 of %d apps", total), b.text("#catalog-count"))
	b.click("#catalog-more")
	b.waitFor("the second page added", cards+` === 96`, 10*time.Second)
	b.click("#catalog-more")
	b.waitFor("the last page", fmt.Sprintf(`%s === %d && document.querySelector('#catalog-more').hidden`, cards, total), 10*time.Second)
	var unique int
	require.NoError(t, b.eval(`new Set([...document.querySelectorAll('#catalog-list .card')].map((c) => c.dataset.app)).size`, &unique))
	assert.Equal(t, total, unique, "every app once")

	// A category: the server filters, the card names it.
	b.run("pick Monitoring", chromedp.Evaluate(`(() => { const s = document.querySelector('#catalog-category'); s.value = 'monitoring'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("monitoring apps only", `document.querySelector('.card[data-app="uptime-kuma"]') && [...document.querySelectorAll('#catalog-list .card .category')].every((c) => c.dataset.category === 'monitoring')`, 10*time.Second)
	assert.Equal(t, "Monitoring", b.text(`.card[data-app="uptime-kuma"] .category`))
	assert.Equal(t, 0, b.count(`.card[data-app^="pad-"]`))

	// The search: the server's, every word, with the category still set.
	b.run("all categories", chromedp.Evaluate(`(() => { const s = document.querySelector('#catalog-category'); s.value = ''; s.dispatchEvent(new Event('change')); })()`, nil))
	b.fill("#catalog-search", "catadd-hello")
	b.waitFor("the converted app alone", cards+` === 1 && document.querySelector('.card[data-app="catadd-hello"] .origin')`, 10*time.Second)
	assert.Equal(t, "from a compose project (catadd-hello)", b.text(`.card[data-app="catadd-hello"] .origin`))
	assert.Equal(t, "1 of 1 apps", b.text("#catalog-count"))

	// In Chinese: the category's name and the app's own words.
	b.run("switch to Chinese", chromedp.Evaluate(`(() => { const s = document.querySelector('#lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`, nil))
	b.waitFor("Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('#catalog-search')`, 10*time.Second)
	b.fill("#catalog-search", "监控")
	b.waitFor("found by its category's Chinese name", `document.querySelector('.card[data-app="uptime-kuma"] .category')`, 10*time.Second)
	assert.Equal(t, "监控", b.text(`.card[data-app="uptime-kuma"] .category`))
	b.screenshot("catalog-search-zh")

	// Install from a card reads the whole entry first: its settings show.
	b.fill("#catalog-search", "uptime")
	b.waitFor("the card", cards+` === 1`, 10*time.Second)
	b.click(`.card[data-app="uptime-kuma"] button[data-action="install"]`)
	b.waitFor("the install form with its settings", `document.querySelector('#install-dialog [data-param="time_zone"]')`, 10*time.Second)
}

// must returns v, panicking on err (for values a test just made).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
