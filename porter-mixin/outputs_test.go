package portermixin

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webInspect is the part of `docker inspect` the output tests read.
const webInspect = `{
  "Id": "0123abcd",
  "Name": "/websoft9-demo",
  "State": {"Status": "running", "Running": true, "Pid": 42, "Health": {"Status": "healthy", "FailingStreak": 0}},
  "Config": {"Labels": {"sh.websoft9.app": "demo", "com.docker.compose.service": "web"}, "Env": ["A=1", "B=2"]},
  "NetworkSettings": {"Ports": {
    "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9001"}],
    "9090/tcp": null,
    "53/udp": [{"HostIp": "", "HostPort": ""}, {"HostIp": "0.0.0.0", "HostPort": "10053"}]
  }}
}`

func fakeInspect(services map[string]string) func(string) (json.RawMessage, error) {
	return func(service string) (json.RawMessage, error) {
		doc, ok := services[service]
		if !ok {
			return nil, errors.New("no container")
		}
		return json.RawMessage(doc), nil
	}
}

func TestOutputValue(t *testing.T) {
	str := func(s string) *string { return &s }
	p := Plan{App: "demo", Main: "web", Env: map[string]string{"WEB_PORT": "9001"}}
	inspect := fakeInspect(map[string]string{"web": webInspect})
	tests := []struct {
		name    string
		out     OutputSpec
		want    string
		wantErr string
	}{
		{"value", OutputSpec{Name: "o", Value: str("hello")}, "hello", ""},
		{"empty value", OutputSpec{Name: "o", Value: str("")}, "", ""},
		{"env", OutputSpec{Name: "o", Env: "WEB_PORT"}, "9001", ""},
		{"env missing", OutputSpec{Name: "o", Env: "NOPE"}, "", "env NOPE is not set in the step"},
		{"main container", OutputSpec{Name: "o", Container: "web"}, "websoft9-demo", ""},
		{"other container", OutputSpec{Name: "o", Container: "db"}, "websoft9-demo-db", ""},
		{"port", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: 8080}}, "9001", ""},
		{"port as string", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: "8080", Protocol: "tcp"}}, "9001", ""},
		{"udp port, first binding empty", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: 53, Protocol: "udp"}}, "10053", ""},
		{"port not published", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: 9090}}, "", "service web does not publish 9090/tcp"},
		{"port of unknown service", OutputSpec{Name: "o", Port: &PortSelector{Service: "db", Target: 5432}}, "", "inspect service db: no container"},
		{"port without service", OutputSpec{Name: "o", Port: &PortSelector{Target: 1}}, "", "port: service is required"},
		{"port bad target", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: 70000}}, "", "target 70000 is not a port number"},
		{"port bad protocol", OutputSpec{Name: "o", Port: &PortSelector{Service: "web", Target: 80, Protocol: "sctp"}}, "", `protocol "sctp" is neither tcp nor udp`},
		{"jsonPath health", OutputSpec{Name: "o", Container: "web", JSONPath: "$.State.Health.Status"}, "healthy", ""},
		{"jsonPath number", OutputSpec{Name: "o", Container: "web", JSONPath: "$.State.Pid"}, "42", ""},
		{"jsonPath bool", OutputSpec{Name: "o", Container: "web", JSONPath: "$.State.Running"}, "true", ""},
		{"jsonPath index", OutputSpec{Name: "o", Container: "web", JSONPath: "$.Config.Env[1]"}, "B=2", ""},
		{"jsonPath quoted key", OutputSpec{Name: "o", Container: "web", JSONPath: `$.Config.Labels["sh.websoft9.app"]`}, "demo", ""},
		{"jsonPath port binding", OutputSpec{Name: "o", Container: "web", JSONPath: `$.NetworkSettings.Ports['8080/tcp'][0].HostPort`}, "9001", ""},
		{"jsonPath object", OutputSpec{Name: "o", Container: "web", JSONPath: "$.State.Health"}, `{"FailingStreak":0,"Status":"healthy"}`, ""},
		{"jsonPath without $", OutputSpec{Name: "o", Container: "web", JSONPath: "State.Status"}, "running", ""},
		{"jsonPath missing", OutputSpec{Name: "o", Container: "web", JSONPath: "$.State.Nope"}, "", `jsonPath on service web: $.State has no key "Nope"`},
		{"no source", OutputSpec{Name: "o"}, "", "no source"},
		{"two sources", OutputSpec{Name: "o", Container: "web", Env: "WEB_PORT"}, "", "several sources (env, container)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := outputValue(tc.out, p, inspect)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOutputValue_ContainerWithoutMain(t *testing.T) {
	p := Plan{App: "demo"} // e.g. a stop step: main unknown
	inspect := fakeInspect(map[string]string{"web": webInspect})
	got, err := outputValue(OutputSpec{Name: "o", Container: "web"}, p, inspect)
	require.NoError(t, err)
	assert.Equal(t, "websoft9-demo", got, "read from the container")
	_, err = outputValue(OutputSpec{Name: "o", Container: "db"}, p, inspect)
	require.ErrorContains(t, err, "the step sets no main, so the name is read from the container): no container")
}

func TestSelectJSON_Errors(t *testing.T) {
	doc := []byte(`{"a": {"b": [1, {"c": "x"}]}, "s": "str"}`)
	tests := []struct{ expr, wantErr string }{
		{"", "empty selector"},
		{"$.", "empty name"},
		{"$..a", "empty name"},
		{"$.a[", "unclosed ["},
		{"$.a[x]", "[x] is neither an index nor a quoted key"},
		{"$.a[-1]", "neither an index"},
		{"$a", `want . or [ at "a"`},
		{"$.a.b[5]", "$.a.b has 2 elements, no index 5"},
		{"$.a[0]", "$.a is an object, not an array"},
		{"$.a.b.c", "$.a.b is an array, not an object"},
		{"$.s.x", "$.s is a scalar (str), cannot select .x"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := selectJSON(doc, tc.expr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	got, err := selectJSON(doc, "$")
	require.NoError(t, err)
	assert.JSONEq(t, string(doc), got)
	got, err = selectJSON(doc, "$.a.b[1].c")
	require.NoError(t, err)
	assert.Equal(t, "x", got)
}
