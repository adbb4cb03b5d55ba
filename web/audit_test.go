package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

type fakeAudit struct{ gotInstallation string }

func (f *fakeAudit) Refusals(_ context.Context, installation string, limit int) ([]orchestrator.PolicyRefusal, error) {
	f.gotInstallation = installation
	if limit > orchestrator.MaxRefusalsLimit {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "limit must be between 1 and %d", orchestrator.MaxRefusalsLimit)
	}
	return []orchestrator.PolicyRefusal{{At: time.Unix(1, 0).UTC(), Installation: "x", RunID: "r1", Rule: "privileged", Call: "POST /containers/create", Detail: "d"}}, nil
}

// TestAuditRefusals: the audit log answers admins, refuses read tokens,
// and says when none is kept.
func TestAuditRefusals(t *testing.T) {
	audit := &fakeAudit{}
	get := func(s *Server, token, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/audit/refusals"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Audit: audit}
	rec := get(s, "shk_good", "?installation=x")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Len(t, out, 1)
	assert.Equal(t, "privileged", out[0]["rule"])
	assert.Equal(t, "r1", out[0]["run"])
	assert.Equal(t, "x", audit.gotInstallation)

	assert.Equal(t, http.StatusForbidden, get(s, "shk_read", "").Code, "a read token does not see the audit log")
	assert.Equal(t, http.StatusBadRequest, get(s, "shk_good", "?limit=lots").Code)
	assert.Equal(t, http.StatusBadRequest, get(s, "shk_good", "?limit=5000").Code)
	assert.Equal(t, http.StatusUnauthorized, get(s, "nope", "").Code)
	assert.Equal(t, http.StatusServiceUnavailable, get(&Server{Auth: fakeAuth{}, Engine: fakeEngine{}}, "shk_good", "").Code)
}
