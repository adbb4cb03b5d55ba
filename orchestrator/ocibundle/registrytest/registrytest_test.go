//go:build integration

package registrytest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
)

func TestStart(t *testing.T) {
	r := registrytest.Start(t)
	status, _, _ := r.Get(t, "/v2/")
	assert.Equal(t, http.StatusOK, status)
	r.Stop()
	_, err := http.Get(r.URL + "/v2/")
	assert.Error(t, err, "the registry still answers after Stop")
}

func TestStart_BasicAuth(t *testing.T) {
	r := registrytest.Start(t, registrytest.WithBasicAuth("alice", "s3cret"))
	status, _, _ := r.Get(t, "/v2/")
	assert.Equal(t, http.StatusOK, status, "with credentials")
	resp, err := http.Get(r.URL + "/v2/")
	if assert.NoError(t, err) {
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "without credentials")
	}
}
