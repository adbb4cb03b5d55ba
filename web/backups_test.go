package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/web/wire"
)

func TestBackupRoutes(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	call := func(method, target, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	add := `{"id":"offsite","kind":"s3","endpoint":"s3.example:9000","bucket":"b","accessKey":"AK","secretKey":"s3cr3t-key","password":"p4ssw0rd-long","create":true}`
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/repositories", "shk_operator", add).Code, "repositories are admins'")
	rec := call(http.MethodPost, "/api/v1/repositories", "shk_good", add)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "s3cr3t-key", "the S3 secret key is never answered")
	assert.NotContains(t, rec.Body.String(), "p4ssw0rd-long", "nor the repository's password")
	var repo wire.Repository
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &repo))
	assert.Equal(t, "https://s3.example:9000/b/", strings.TrimPrefix(repo.Where, "s3 "))
	rec = call(http.MethodPost, "/api/v1/repositories", "shk_good", `{"id":"x","kind":"filesystem","path":"/srv/x","password":"wrong-password"}`)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "wrong repository password")
	assert.Equal(t, http.StatusBadRequest, call(http.MethodPost, "/api/v1/repositories", "shk_good", `{"id":"x","passwd":"y"}`).Code, "unknown fields are refused")

	rec = call(http.MethodPost, "/api/v1/apps/demo/backups", "shk_operator", `{}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.Equal(t, "/api/v1/jobs/j7", rec.Header().Get("Location"))
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/api/v1/apps/demo/backups", "shk_read", `{}`).Code, "a viewer cannot back up")
	assert.Equal(t, http.StatusNotFound, call(http.MethodPost, "/api/v1/apps/nope/backups", "shk_operator", `{}`).Code)

	rec = call(http.MethodGet, "/api/v1/apps/demo/backups", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var list []wire.Backup
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list, 1)
	assert.Equal(t, "stopped", list[0].Quiesce)

	rec = call(http.MethodPost, "/api/v1/backups/b1/restore", "shk_operator", `{"name":"demo-copy"}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"appName":"demo-copy"`)
	assert.Equal(t, "/api/v1/jobs/j8", rec.Header().Get("Location"))
	assert.Equal(t, http.StatusNotFound, call(http.MethodPost, "/api/v1/backups/zz/restore", "shk_operator", `{}`).Code)

	rec = call(http.MethodPost, "/api/v1/backups/all/verify", "shk_operator", `{}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"backups":1,"bytes":42,"files":3,"errors":[]}`, rec.Body.String())
	assert.Equal(t, http.StatusBadRequest, call(http.MethodPost, "/api/v1/backups/prune", "shk_operator", `{"keep":{"last":1}}`).Code, "prune names an app")
	rec = call(http.MethodPost, "/api/v1/backups/prune", "shk_operator", `{"app":"demo","keep":{"last":1}}`)
	assert.JSONEq(t, `{"removed":["b0"]}`, rec.Body.String())
	assert.Equal(t, http.StatusNoContent, call(http.MethodDelete, "/api/v1/backups/b1", "shk_operator", "").Code)
}
