package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// fakeAccounts knows one user, admin/a-long-password, and one session.
type fakeAccounts struct {
	lastIP string
}

func (f *fakeAccounts) NeedsSetup(context.Context) (bool, error) { return false, nil }
func (f *fakeAccounts) Setup(context.Context, string, string, string) (orchestrator.User, error) {
	return orchestrator.User{}, orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "wrong setup code")
}
func (f *fakeAccounts) Login(_ context.Context, r orchestrator.LoginRequest) (orchestrator.Session, string, error) {
	f.lastIP = r.ClientIP
	if r.Name != "admin" || r.Password != "a-long-password" {
		return orchestrator.Session{}, "", orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "wrong user name or password")
	}
	return orchestrator.Session{User: "admin", Role: orchestrator.RoleAdmin, CSRF: "csrf-1"}, "sess-1", nil
}
func (f *fakeAccounts) Session(_ context.Context, secret string) (orchestrator.Session, error) {
	if secret != "sess-1" {
		return orchestrator.Session{}, orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "not logged in")
	}
	return orchestrator.Session{User: "admin", Role: orchestrator.RoleAdmin, CSRF: "csrf-1"}, nil
}
func (f *fakeAccounts) Logout(context.Context, string) error                         { return nil }
func (f *fakeAccounts) ChangePassword(context.Context, string, string, string) error { return nil }

func TestSessionCookieAndCSRF(t *testing.T) {
	acc := &fakeAccounts{}
	s := &Server{Auth: fakeAuth{}, Accounts: acc, Apps: fakeApps{
		info: func(string) (orchestrator.Installation, error) { return orchestrator.Installation{Name: "x"}, nil },
	}, Lifecycle: fakeLifecycle{
		install: func(r orchestrator.InstallRequest) (orchestrator.Installation, error) {
			return orchestrator.Installation{Name: r.App}, nil
		},
	}}
	h := s.Handler()

	req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"name":"admin","password":"a-long-password"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "198.51.100.4:4000"
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "198.51.100.4", acc.lastIP, "the rate limit keys on the socket peer, never X-Forwarded-For")
	assert.JSONEq(t, `{"user":"admin","csrf":"csrf-1","scope":"admin","role":"admin"}`, rec.Body.String())
	cookie := rec.Result().Cookies()[0]
	assert.Equal(t, SessionCookie, cookie.Name)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.False(t, cookie.Secure, "plain HTTP here; Secure under TLS")

	call := func(method, target, csrf string) int {
		req := httptest.NewRequest(method, target, nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "sess-1"})
		if csrf != "" {
			req.Header.Set(CSRFHeader, csrf)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/getAppInfo?appName=x", ""), "reads need no CSRF token")
	assert.Equal(t, http.StatusForbidden, call(http.MethodGet, "/installApp?appName=demo", ""), "a mutating seed GET needs it")
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/apps/x/actions/stop", "csrf-wrong"))
	assert.Equal(t, http.StatusAccepted, call(http.MethodPost, "/api/v1/apps/x/actions/stop", "csrf-1"))
	assert.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/auth/me", ""))

	req = httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"name":"admin","password":"nope"}`))
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, rec.Result().Cookies())
}

func TestTrustedProxy(t *testing.T) {
	_, proxies, err := net.ParseCIDR("192.0.2.0/24")
	require.NoError(t, err)
	for _, tc := range []struct {
		trusted []*net.IPNet
		peer    string
		want    string
	}{
		{nil, "192.0.2.10:1000", "192.0.2.10"},                     // no proxy configured: the peer
		{[]*net.IPNet{proxies}, "192.0.2.10:1000", "198.51.100.9"}, // a trusted proxy: its X-Forwarded-For
		{[]*net.IPNet{proxies}, "203.0.113.5:1000", "203.0.113.5"}, // anyone else: the peer
		{[]*net.IPNet{proxies}, "127.0.0.1:1000", "127.0.0.1"},     // loopback is not trusted by default
	} {
		acc := &fakeAccounts{}
		s := &Server{Auth: fakeAuth{}, Accounts: acc, Engine: fakeEngine{}, TrustedProxies: tc.trusted}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"name":"x","password":"y"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		s.Handler().ServeHTTP(httptest.NewRecorder(), req)
		assert.Equal(t, tc.want, acc.lastIP, "peer %s", tc.peer)
	}
}
