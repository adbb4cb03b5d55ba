package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"

	"github.com/websoft9/stackhub/orchestrator"
)

// publicRoutes are the only routes answered without credentials.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true,
	"POST /api/v1/auth/login": true, "POST /api/v1/auth/setup": true, "GET /api/v1/auth/setup": true,
	"POST /api/v1/auth/join": true,                                               // an invite's code is the credential
	"GET /":                  true, "GET /console": true, "GET /console/*": true, // the console's static files
}

// sessionOnly are the routes about the logged-in person, which a token
// (not a person) is refused whatever its role.
var sessionOnly = map[string]bool{"POST /api/v1/auth/password": true}

// TestRouteWalk walks every registered route: without credentials (from a
// loopback peer, with forwarded headers) each non-public one answers 401,
// with a forged token 401, and a viewer's or an operator's token is
// refused (403) exactly where the route's role is above theirs.
func TestRouteWalk(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Accounts: &fakeAccounts{}, Metrics: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	e := s.Handler()
	param := regexp.MustCompile(`:[a-zA-Z]+`)
	walked := 0
	for _, r := range e.Routes() {
		if r.Method == "echo_route_not_found" || publicRoutes[r.Method+" "+r.Path] {
			continue
		}
		walked++
		target := param.ReplaceAllString(r.Path, "x")
		for _, auth := range []string{"", "Bearer shk_forged", "Bearer ", "cookie"} {
			req := httptest.NewRequest(r.Method, target, nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			req.Header.Set("X-Real-IP", "127.0.0.1")
			switch auth {
			case "":
			case "cookie":
				req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "forged-session"})
			default:
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %q", r.Method, r.Path, auth)
		}
		need := routeRole(&fakeContext{method: r.Method, path: r.Path})
		for _, tok := range []struct {
			secret string
			role   orchestrator.Role
		}{{"shk_read", orchestrator.RoleViewer}, {"shk_operator", orchestrator.RoleOperator}} {
			req := httptest.NewRequest(r.Method, target, nil)
			req.Header.Set("Authorization", "Bearer "+tok.secret)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if tok.role.Allows(need) && !sessionOnly[r.Method+" "+r.Path] {
				assert.NotEqual(t, http.StatusForbidden, rec.Code, "%s %s (needs %s) with a %s token: %s", r.Method, r.Path, need, tok.role, rec.Body)
			} else {
				assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s (needs %s) with a %s token", r.Method, r.Path, need, tok.role)
			}
		}
	}
	assert.GreaterOrEqual(t, walked, 30, "the walk reached the routes")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

// fakeContext is just enough of an echo.Context for routeRole.
type fakeContext struct {
	echo.Context
	method, path string
}

func (f *fakeContext) Request() *http.Request { return httptest.NewRequest(f.method, "/", nil) }
func (f *fakeContext) Path() string           { return f.path }

// TestEveryRouteHasARole: every authenticated route is placed in
// routeRoles (a missing one would default to admin, closed but
// unintended), and the table names no route that does not exist.
func TestEveryRouteHasARole(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Accounts: &fakeAccounts{}, DebugRuntime: true, Metrics: http.NotFoundHandler()}
	registered := map[string]bool{}
	for _, r := range s.Handler().Routes() {
		key := r.Method + " " + r.Path
		if r.Method == "echo_route_not_found" || publicRoutes[key] {
			continue
		}
		registered[key] = true
		_, ok := routeRoles[key]
		assert.True(t, ok, "%s has no role in routeRoles", key)
	}
	for key := range routeRoles {
		assert.True(t, registered[key], "routeRoles names %s, which is not a route", key)
	}
}
