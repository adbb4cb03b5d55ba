package manifest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	data := map[string]any{
		"installation": map[string]any{"name": "demo"},
		"bundle": map[string]any{
			"parameters": map[string]any{"port": "9001", "html": "<b>&</b>", "obj": map[string]any{"a": 1}},
		},
	}
	tests := []struct {
		name, in, want, missing string
	}{
		{name: "spaces", in: "app: ${ installation.name }", want: "app: demo"},
		{name: "no spaces", in: "app: ${installation.name}", want: "app: demo"},
		{name: "no html escaping", in: "${ bundle.parameters.html }", want: "<b>&</b>"},
		{name: "object as json", in: "${ bundle.parameters.obj }", want: `{"a":1}`},
		{name: "two tags", in: "${ installation.name }:${ bundle.parameters.port }", want: "demo:9001"},
		{name: "missing", in: "${ bundle.parameters.nope }", missing: "bundle.parameters.nope"},
		{name: "missing leaf of a string", in: "${ installation.name.x }", missing: "installation.name.x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.in, data)
			if tc.missing != "" {
				var mv *MissingVariableError
				require.True(t, errors.As(err, &mv), "got %v, want a missing variable", err)
				assert.Equal(t, tc.missing, mv.Variable)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRenderRefusesSections(t *testing.T) {
	_, err := Render("${# bundle.parameters }x${/ bundle.parameters }", map[string]any{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not supported")
}

func TestRenderStepTypesAndErrors(t *testing.T) {
	s := Step{Mixin: "websoft9", Data: map[string]any{
		"description": "Start",
		"app":         "${ installation.name }",
		"env":         map[string]any{"PORT": "${ bundle.parameters.port }", "QUOTED": "'${ bundle.parameters.port }'"},
	}}
	data := map[string]any{"installation": map[string]any{"name": "demo"}, "bundle": map[string]any{"parameters": map[string]any{"port": "9001"}}}
	got, err := RenderStep(s, data)
	require.NoError(t, err)
	env := got.Data["env"].(map[string]any)
	assert.Equal(t, 9001, env["PORT"], "an unquoted template becomes a typed scalar, as in Porter")
	assert.Equal(t, "demo", got.Data["app"])

	_, err = RenderStep(s, map[string]any{"installation": map[string]any{"name": "demo"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `step "Start"`)
	assert.Contains(t, err.Error(), "bundle.parameters.port")
}
