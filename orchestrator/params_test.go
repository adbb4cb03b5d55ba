package orchestrator

import (
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/bundle/definition"
	"github.com/stretchr/testify/assert"
)

func TestResolveParameters(t *testing.T) {
	bun := &bundle.Bundle{
		Parameters: map[string]bundle.Parameter{
			"port":              {Definition: "port-parameter"},
			"purge":             {Definition: "purge-parameter", ApplyTo: []string{"uninstall"}},
			"porter-state":      {Definition: "porter-state"},
			"porter-url-output": {Definition: "porter-url-output"},
			"admin":             {Definition: "admin-parameter"},
		},
		Definitions: definition.Definitions{
			"port-parameter":    {Type: "integer"},
			"purge-parameter":   {Type: "boolean"},
			"porter-state":      {Type: "string", ContentEncoding: "base64"},
			"porter-url-output": {Type: "string"},
			"admin-parameter":   {Type: "string"},
		},
		Custom: map[string]any{parameterSourcesKey: map[string]any{
			"porter-state":      map[string]any{"priority": []any{"output"}, "sources": map[string]any{"output": map[string]any{"name": "porter-state"}}},
			"porter-url-output": map[string]any{"priority": []any{"output"}, "sources": map[string]any{"output": map[string]any{"name": "url"}}},
			"admin":             map[string]any{"priority": []any{"output"}, "sources": map[string]any{"output": map[string]any{"name": "admin"}}},
		}},
	}
	outputs := map[string][]byte{"porter-state": {0x1f, 0x8b}, "url": []byte("http://x"), "admin": []byte("from-output")}
	stored := map[string]any{"port": float64(9001), "purge": true, "gone": 1}
	request := map[string]any{"admin": "from-request"}

	got := resolveParameters(bun, "upgrade", outputs, stored, request)
	assert.Equal(t, map[string]any{
		"port":              9001,       // stored JSON number back to an int for an integer parameter
		"porter-state":      "H4s=",     // base64 for a base64 string definition
		"porter-url-output": "http://x", // from the output named by the source
		"admin":             "from-request",
	}, got, "purge does not apply to upgrade; unknown parameters are dropped; the request wins")

	got = resolveParameters(bun, "uninstall", nil, stored, nil)
	assert.Equal(t, map[string]any{"port": 9001, "purge": true}, got)
}
