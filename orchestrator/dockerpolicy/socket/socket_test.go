package socket

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
)

// TestRouterRefusesEndpoints: a call outside the routes a run needs is
// refused by the endpoint rule before anything is asked of Docker.
func TestRouterRefusesEndpoints(t *testing.T) {
	s := &Server{o: Options{Policy: dockerpolicy.Policy{Installation: "app"}}}
	for _, c := range []struct{ method, path string }{
		{"POST", "/swarm/init"}, {"POST", "/build"}, {"POST", "/commit"}, {"GET", "/plugins"}, {"POST", "/containers/prune"},
		{"DELETE", "/images/redmine:5"}, {"POST", "/images/load"}, {"POST", "/images/create?fromSrc=-"}, {"GET", "/system/df"},
		{"POST", "/containers/x/update"}, {"POST", "/containers/x/export"}, {"GET", "/containers/x/export"},
		{"POST", "/secrets/create"}, {"POST", "/services/create"}, {"POST", "/session"}, {"POST", "/auth"},
	} {
		r, err := http.NewRequestWithContext(t.Context(), c.method, "http://docker/v1.41"+c.path, nil)
		require.NoError(t, err)
		out, err := s.check(r, r.URL.Path[len("/v1.41"):])
		require.NoError(t, err)
		require.Len(t, out, 1, "%s %s", c.method, c.path)
		assert.Equal(t, dockerpolicy.RuleEndpoint, out[0].Rule, "%s %s", c.method, c.path)
	}
}
