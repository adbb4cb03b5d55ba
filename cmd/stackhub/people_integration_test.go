//go:build integration

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// session is a console login against a running server: its cookie, its
// CSRF token, and the local address it connects from.
type session struct {
	t      *testing.T
	s      server
	cookie string
	csrf   string
	from   string
}

// client returns an HTTP client whose connections come from address from
// (a loopback address: the server sees it as the client's).
func clientFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// post sends a JSON body from the session (cookie and CSRF header when
// logged in) and decodes the answer.
func (se *session) send(method, path, body string, header map[string]string) (int, map[string]any, *http.Response) {
	se.t.Helper()
	c := NewClient(se.s.url, "")
	c.HTTP = clientFrom(se.from)
	h := http.Header{}
	if se.cookie != "" {
		h.Set("Cookie", "stackhub_session="+se.cookie)
		h.Set("X-CSRF-Token", se.csrf)
	}
	for k, v := range header {
		h.Set(k, v)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp, err := c.Do(context.Background(), method, path, rd, h)
	require.NoError(se.t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp
}

// login logs name in from se.from with password and, when not empty, a
// second factor; it keeps the session and returns the answer.
func (se *session) login(name, password, second string) (int, map[string]any) {
	se.t.Helper()
	body := map[string]string{"name": name, "password": password}
	if second != "" {
		if len(second) == 6 {
			body["otp"] = second
		} else {
			body["recovery"] = second
		}
	}
	b, _ := json.Marshal(body)
	se.cookie, se.csrf = "", ""
	status, out, resp := se.send(http.MethodPost, "/api/v1/auth/login", string(b), nil)
	if status == http.StatusOK {
		for _, c := range resp.Cookies() {
			if c.Name == "stackhub_session" {
				se.cookie = c.Value
			}
		}
		se.csrf, _ = out["csrf"].(string)
	}
	return status, out
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return c
}

// TestHTTPPeople: through the real server, an admin invites a viewer and
// an operator who join with their codes; each role is held to its routes;
// the viewer sets up a second factor, which login then asks for (a code
// once, a recovery code once); failed logins lock the (account, address)
// pair only; a form-encoded state change is refused.
func TestHTTPPeople(t *testing.T) {
	dockertest.RequireDocker(t)
	s := startServer(t)
	createAdmin(t, s)
	admin := &session{t: t, s: s, from: "127.0.0.1"}
	status, out := admin.login("admin", consolePassword, "")
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.Equal(t, "admin", out["role"])

	invite := func(role string) string {
		status, out, _ := admin.send(http.MethodPost, "/api/v1/invites", `{"role":"`+role+`"}`, nil)
		require.Equal(t, http.StatusCreated, status, "%v", out)
		code, _ := out["code"].(string)
		require.True(t, strings.HasPrefix(code, "shi_"), "%v", out)
		return code
	}
	const pw = "people-Pw-3b7f21"
	for _, p := range []struct{ name, role string }{{"vera", "viewer"}, {"otto", "operator"}} {
		code := invite(p.role)
		joined, err := NewClient(s.url, "").Join(t.Context(), code, p.name, pw)
		require.NoError(t, err)
		assert.Equal(t, p.role, joined.Role)
		_, err = NewClient(s.url, "").Join(t.Context(), code, p.name+"2", pw)
		assertAPIStatus(t, err, http.StatusUnauthorized) // an invite works once
	}
	users, err := s.client().Users(t.Context())
	require.NoError(t, err)
	require.Len(t, users, 3)

	vera := &session{t: t, s: s, from: "127.0.0.1"}
	status, out = vera.login("vera", pw, "")
	require.Equal(t, http.StatusOK, status, "%v", out)
	status, _, _ = vera.send(http.MethodGet, "/api/v1/apps", "", nil)
	assert.Equal(t, http.StatusOK, status, "a viewer reads")
	status, out, _ = vera.send(http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"itest-vera"}`, nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, out["message"], "vera is a viewer: this needs the operator role")
	status, _, _ = vera.send(http.MethodPost, "/api/v1/invites", `{"role":"admin"}`, nil)
	assert.Equal(t, http.StatusForbidden, status, "a viewer invites nobody")

	otto := &session{t: t, s: s, from: "127.0.0.1"}
	status, out = otto.login("otto", pw, "")
	require.Equal(t, http.StatusOK, status, "%v", out)
	status, out, _ = otto.send(http.MethodGet, "/api/v1/tokens", "", nil)
	assert.Equal(t, http.StatusForbidden, status, "an operator manages no tokens: %v", out)
	status, out, _ = otto.send(http.MethodPost, "/api/v1/catalog/pull", `{"reference":"127.0.0.1:1/x:v1"}`, nil)
	assert.Equal(t, http.StatusForbidden, status, "nor the catalog: %v", out)
	status, out, _ = otto.send(http.MethodPost, "/api/v1/apps/none/actions/restart", "", nil)
	assert.Equal(t, http.StatusNotFound, status, "an operator may run actions (this app does not exist): %v", out)
	status, out, _ = otto.send(http.MethodPost, "/api/v1/apps", "app=demo", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": ""})
	assert.Equal(t, http.StatusUnsupportedMediaType, status, "%v", out)

	// Vera sets up a second factor; login then wants it.
	status, enr, _ := vera.send(http.MethodPost, "/api/v1/auth/totp/enroll", "", nil)
	require.Equal(t, http.StatusOK, status, "%v", enr)
	secret, _ := enr["secret"].(string)
	now := time.Now()
	status, rec, _ := vera.send(http.MethodPost, "/api/v1/auth/totp/confirm", `{"code":"`+totpCode(t, secret, now)+`"}`, nil)
	require.Equal(t, http.StatusOK, status, "%v", rec)
	codes, _ := rec["recoveryCodes"].([]any)
	require.Len(t, codes, 10)
	status, out = vera.login("vera", pw, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "second_factor", out["error"], "the console then asks for the code")
	next := totpCode(t, secret, now.Add(30*time.Second))
	status, out = vera.login("vera", pw, next)
	require.Equal(t, http.StatusOK, status, "%v", out)
	status, out = vera.login("vera", pw, next)
	assert.Equal(t, http.StatusUnauthorized, status, "a code works once: %v", out)
	status, out = vera.login("vera", pw, codes[0].(string))
	assert.Equal(t, http.StatusOK, status, "%v", out)
	status, _ = vera.login("vera", pw, codes[0].(string))
	assert.Equal(t, http.StatusUnauthorized, status, "a recovery code works once")
	users, err = s.client().Users(t.Context())
	require.NoError(t, err)
	for _, u := range users {
		assert.Equal(t, u.Name == "vera", u.SecondFactor, u.Name)
	}

	// Someone guessing the admin's password from 127.0.0.2 locks only
	// that address out for the admin; the admin logs in from 127.0.0.1.
	mallory := &session{t: t, s: s, from: "127.0.0.2"}
	for range 5 {
		status, _ = mallory.login("admin", "guess-guess-guess", "")
		assert.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = mallory.login("admin", consolePassword, "")
	assert.Equal(t, http.StatusTooManyRequests, status, "locked from that address")
	status, out = admin.login("admin", consolePassword, "")
	assert.Equal(t, http.StatusOK, status, "not from elsewhere: %v", out)

	// The last admin stays one.
	status, out, _ = admin.send(http.MethodPatch, "/api/v1/users/admin", `{"role":"viewer"}`, nil)
	assert.Equal(t, http.StatusConflict, status, "%v", out)
	status, out, _ = admin.send(http.MethodDelete, "/api/v1/users/otto", "", nil)
	assert.Equal(t, http.StatusNoContent, status, "%v", out)
	status, _, _ = otto.send(http.MethodGet, "/api/v1/apps", "", nil)
	assert.Equal(t, http.StatusUnauthorized, status, "a deleted user's session ends")
	// The same through the CLI, with the admin token.
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		code := run(t.Context(), append(args, "--url", s.url, "--token", s.token), func(string) string { return "" }, &out, &errOut)
		require.Equal(t, 0, code, "%v: %s", args, errOut.String())
		return out.String()
	}
	lines := strings.Split(strings.TrimSpace(cli("users", "invite", "--role", "viewer")), "\n")
	code := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(code, "shi_"), "the code is printed last: %v", lines)
	_, err = NewClient(s.url, "").Join(t.Context(), code, "cleo", pw)
	require.NoError(t, err)
	cli("users", "role", "cleo", "operator")
	cli("users", "require-second-factor", "cleo", "true")
	var listed []struct {
		Name, Role          string
		RequireSecondFactor bool
	}
	require.NoError(t, json.Unmarshal([]byte(cli("users", "list", "-o", "json")), &listed))
	assert.Contains(t, listed, struct {
		Name, Role          string
		RequireSecondFactor bool
	}{"cleo", "operator", true})
	cli("users", "delete", "cleo")
	assert.NotContains(t, cli("users", "list"), "cleo")

	assert.NotContains(t, s.logs.String(), pw, "passwords never reach the log")
	assert.NotContains(t, s.logs.String(), secret, "nor the second factor's secret")
}
