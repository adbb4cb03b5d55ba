package socket

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
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

// TestRouterSwarmCalls: a run of an installation placed on a Swarm node
// reaches its services, tasks, the nodes and its configs; the rest of the Swarm API is
// refused, as all of it is for a run that is not placed.
func TestRouterSwarmCalls(t *testing.T) {
	s := &Server{o: Options{Policy: dockerpolicy.Policy{Installation: "app", Node: "n1"}}}
	for _, c := range []struct{ method, path string }{
		{"POST", "/swarm/init"}, {"POST", "/swarm/join"}, {"POST", "/swarm/leave"}, {"POST", "/swarm/update"}, {"GET", "/swarm"},
		{"GET", "/swarm/unlockkey"}, {"POST", "/secrets/create"}, {"GET", "/secrets"}, {"POST", "/configs/x/update"},
		{"GET", "/plugins"}, {"POST", "/plugins/pull"}, {"POST", "/nodes/n1/update"}, {"DELETE", "/nodes/n2"}, {"GET", "/services/x/logs"},
		{"GET", "/tasks/t1/logs"},
	} {
		r, err := http.NewRequestWithContext(t.Context(), c.method, "http://docker/v1.41"+c.path, nil)
		require.NoError(t, err)
		out, err := s.check(r, r.URL.Path[len("/v1.41"):])
		require.NoError(t, err)
		require.Len(t, out, 1, "%s %s", c.method, c.path)
		assert.Equal(t, dockerpolicy.RuleEndpoint, out[0].Rule, "%s %s", c.method, c.path)
	}
	for _, path := range []string{"/nodes", "/nodes/n1"} {
		r, err := http.NewRequestWithContext(t.Context(), "GET", "http://docker"+path, nil)
		require.NoError(t, err)
		out, err := s.check(r, path)
		require.NoError(t, err)
		assert.Empty(t, out, "GET %s reads the nodes", path)
	}
	r, err := http.NewRequestWithContext(t.Context(), "GET", "http://docker/tasks", nil)
	require.NoError(t, err)
	out, err := s.check(r, "/tasks")
	require.NoError(t, err)
	require.Len(t, out, 1, "tasks are listed by service")
	assert.Equal(t, dockerpolicy.RuleForeign, out[0].Rule)

	// Configs: the list sees the installation's own; a create is checked
	// and labelled.
	r, err = http.NewRequestWithContext(t.Context(), "GET", "http://docker/configs", nil)
	require.NoError(t, err)
	out, err = s.check(r, "/configs")
	require.NoError(t, err)
	assert.Empty(t, out)
	assert.Contains(t, r.URL.Query().Get("filters"), `"sh.websoft9.app=app":true`)
	create := func(body string) (*http.Request, []dockerpolicy.Refusal) {
		r, err := http.NewRequestWithContext(t.Context(), "POST", "http://docker/configs/create", strings.NewReader(body))
		require.NoError(t, err)
		out, err := s.check(r, "/configs/create")
		require.NoError(t, err)
		return r, out
	}
	r, out = create(`{"Name":"websoft9-app_cfg-0123456789ab","Data":"eA=="}`)
	assert.Empty(t, out)
	var spec swarm.ConfigSpec
	require.NoError(t, json.NewDecoder(r.Body).Decode(&spec))
	assert.Equal(t, "app", spec.Labels["sh.websoft9.app"], "labelled with the installation")
	_, out = create(`{"Name":"websoft9-other_cfg-0123456789ab","Data":"eA=="}`)
	require.Len(t, out, 1)
	assert.Equal(t, dockerpolicy.RuleObjectName, out[0].Rule)

	unplaced := &Server{o: Options{Policy: dockerpolicy.Policy{Installation: "app"}}}
	for _, path := range []string{"/services", "/tasks", "/nodes", "/configs"} {
		r, err := http.NewRequestWithContext(t.Context(), "GET", "http://docker"+path, nil)
		require.NoError(t, err)
		out, err := unplaced.check(r, path)
		require.NoError(t, err)
		require.Len(t, out, 1, "GET %s of a run not placed on a node", path)
		assert.Equal(t, dockerpolicy.RuleEndpoint, out[0].Rule)
	}
}
