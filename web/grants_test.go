package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// grantCall sends one request to s with a bearer token ("" for none) or,
// with session set, the console session and its CSRF header.
func grantCall(t *testing.T, s *Server, method, target, body, token string, session bool) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "sess-1"})
		req.Header.Set(CSRFHeader, "csrf-1")
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// TestAppPermissions: what a bundle declares, in plain words, with its
// grant and what an install lacks; an app declaring nothing answers empty
// lists, an unknown one 404; read tokens may look.
func TestAppPermissions(t *testing.T) {
	grants := &fakeGrants{}
	s := &Server{Auth: fakeAuth{}, Grants: grants}
	rec := grantCall(t, s, http.MethodGet, "/api/v1/catalog/vpn/permissions", "", "shk_read", false)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"app":"vpn","version":"1.0.0","digest":"sha256:aa",
		"permissions":[{"permission":"cap-add:NET_ADMIN","description":"add the Linux capability NET_ADMIN to a container: configure network interfaces, routes and firewall rules"}],
		"grant":null,"missing":["cap-add:NET_ADMIN"]}`, rec.Body.String())

	rec = grantCall(t, s, http.MethodGet, "/api/v1/catalog/demo/permissions", "", "shk_good", false)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"app":"demo","version":"0.1.0","digest":"sha256:dd","permissions":[],"grant":null,"missing":[]}`, rec.Body.String())
	assert.Equal(t, http.StatusNotFound, grantCall(t, s, http.MethodGet, "/api/v1/catalog/nope/permissions", "", "shk_good", false).Code)
	assert.Equal(t, http.StatusUnauthorized, grantCall(t, s, http.MethodGet, "/api/v1/catalog/vpn/permissions", "", "", false).Code)
}

// TestGrantAndRevoke: admins grant exactly the declared set and revoke;
// the grant records who (a token's name, a console user); read tokens get
// 403; a second identical grant answers 200 with the first.
func TestGrantAndRevoke(t *testing.T) {
	grants := &fakeGrants{}
	s := &Server{Auth: fakeAuth{}, Accounts: &fakeAccounts{}, Grants: grants}
	body := `{"digest":"sha256:aa","permissions":["cap-add:NET_ADMIN"]}`

	assert.Equal(t, http.StatusForbidden, grantCall(t, s, http.MethodPost, "/api/v1/catalog/vpn/grants", body, "shk_read", false).Code)
	rec := grantCall(t, s, http.MethodPost, "/api/v1/catalog/vpn/grants", `{"digest":"sha256:aa","permissions":["privileged"]}`, "shk_good", false)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "not the declared set")
	assert.Contains(t, rec.Body.String(), "grant exactly what vpn 1.0.0 declares")
	assert.Equal(t, http.StatusBadRequest, grantCall(t, s, http.MethodPost, "/api/v1/catalog/vpn/grants", `{"digest":"sha256:aa","perms":[]}`, "shk_good", false).Code,
		"unknown fields are refused")
	assert.Nil(t, grants.granted, "no refusal granted anything")

	rec = grantCall(t, s, http.MethodPost, "/api/v1/catalog/vpn/grants", body, "", true)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"id":"g1","app":"vpn","version":"1.0.0","digest":"sha256:aa","permissions":["cap-add:NET_ADMIN"],
		"grantedBy":"admin","grantedAt":"1970-01-01T00:00:01Z"}`, rec.Body.String())
	rec = grantCall(t, s, http.MethodPost, "/api/v1/catalog/vpn/grants", body, "shk_good", false)
	assert.Equal(t, http.StatusOK, rec.Code, "the same grant again")
	assert.Equal(t, "token:", grants.by, "a token grants as token:<name>")

	rec = grantCall(t, s, http.MethodGet, "/api/v1/catalog/vpn/permissions", "", "shk_read", false)
	var ap appPermissionsDTO
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ap))
	require.NotNil(t, ap.Grant)
	assert.Equal(t, "admin", ap.Grant.GrantedBy)
	assert.Empty(t, ap.Missing)

	rec = grantCall(t, s, http.MethodGet, "/api/v1/grants", "", "shk_read", false)
	require.Equal(t, http.StatusOK, rec.Code)
	var list []grantDTO
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list, 1)
	assert.Equal(t, "g1", list[0].ID)

	assert.Equal(t, http.StatusForbidden, grantCall(t, s, http.MethodDelete, "/api/v1/grants/g1", "", "shk_read", false).Code)
	assert.Equal(t, http.StatusNoContent, grantCall(t, s, http.MethodDelete, "/api/v1/grants/g1", "", "", true).Code)
	assert.Equal(t, "admin", grants.by, "who revoked")
	assert.Equal(t, http.StatusNotFound, grantCall(t, s, http.MethodDelete, "/api/v1/grants/g1", "", "shk_good", false).Code)
	rec = grantCall(t, s, http.MethodGet, "/api/v1/grants", "", "shk_good", false)
	assert.JSONEq(t, `[]`, rec.Body.String())
}

// TestGrantor is the one authorization decision for grants: console
// users and admin tokens, by name; read tokens never; nobody else.
func TestGrantor(t *testing.T) {
	e := echo.New()
	for _, tc := range []struct {
		who  any
		want string
		code string
	}{
		{orchestrator.Session{User: "alice", Role: orchestrator.RoleAdmin}, "alice", ""},
		{orchestrator.Session{User: "otto", Role: orchestrator.RoleOperator}, "", orchestrator.EFORBIDDEN},
		{orchestrator.Token{Name: "ci", Scope: orchestrator.ScopeAdmin}, "token:ci", ""},
		{orchestrator.Token{Name: "ops", Scope: orchestrator.ScopeOperator}, "", orchestrator.EFORBIDDEN},
		{orchestrator.Token{Name: "ro", Scope: orchestrator.ScopeRead}, "", orchestrator.EFORBIDDEN},
		{nil, "", orchestrator.EUNAUTHORIZED},
	} {
		c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), httptest.NewRecorder())
		c.Set("who", tc.who)
		got, err := grantor(c)
		assert.Equal(t, tc.want, got)
		assert.Equal(t, tc.code, orchestrator.ErrorCode(err))
	}
}

// TestInstallRefusedForPermissions: an install the engine refuses for
// permissions not granted answers 403 with the engine's message, plain
// JSON under /api/v1 and the seed envelope (code "0") at /installApp.
func TestInstallRefusedForPermissions(t *testing.T) {
	const why = "install vpn: vpn 1.0.0 asks for permissions beyond StackHub's default bundle policy that no admin granted to its bundle sha256:aa: cap-add:NET_ADMIN (…)"
	s := &Server{Auth: fakeAuth{}, Lifecycle: fakeLifecycle{install: func(orchestrator.InstallRequest) (orchestrator.Installation, error) {
		return orchestrator.Installation{}, orchestrator.Errorf(orchestrator.EFORBIDDEN, "%s", why)
	}}}
	rec := grantCall(t, s, http.MethodPost, "/api/v1/apps", `{"app":"vpn"}`, "shk_good", false)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	var apiErr apiError
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &apiErr))
	assert.Equal(t, apiError{Error: orchestrator.EFORBIDDEN, Message: why}, apiErr)

	req := httptest.NewRequest(http.MethodPost, "/installApp", strings.NewReader(`{"appName":"vpn"}`))
	req.Header.Set("Authorization", "Bearer shk_good")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", "en")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	var env envelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	assert.Equal(t, "0", env.Code)
	assert.Equal(t, why, env.Message)
}
