package manifest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func templateData() map[string]any {
	return map[string]any{
		"installation": map[string]any{"name": "demo", "namespace": ""},
		"bundle": map[string]any{
			"name": "wordpress",
			"parameters": map[string]any{
				"port": "9001", "html": "<b>&</b>", "obj": map[string]any{"a": 1, "b": "x"},
				"on": true, "off": false, "blank": "  ", "zero": 0, "empty": map[string]any{},
			},
			"images": map[string]any{"web": map[string]any{"repository": "nginx", "labels": map[string]string{"tier": "front"}}},
			"list":   []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}},
			"words":  []string{"x", "y"},
			"none":   []any{},
			"null":   nil,
		},
	}
}

// TestRender covers what Porter's mustache renders (cbroglie/mustache in raw
// mode with ${ } delimiters).
func TestRender(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "spaces", in: "app: ${ installation.name }", want: "app: demo"},
		{name: "no spaces", in: "app: ${installation.name}", want: "app: demo"},
		{name: "no html escaping", in: "${ bundle.parameters.html }", want: "<b>&</b>"},
		{name: "triple mustache", in: "${{ bundle.parameters.html }}", want: "<b>&</b>"},
		{name: "ampersand", in: "${& bundle.parameters.html }", want: "<b>&</b>"},
		{name: "object as json", in: "${ bundle.parameters.obj }", want: `{"a":1,"b":"x"}`},
		{name: "object field", in: "${ bundle.parameters.obj.b }", want: "x"},
		{name: "bool and number", in: "${ bundle.parameters.on } ${ bundle.parameters.zero }", want: "true 0"},
		{name: "null is empty", in: "[${ bundle.null }]", want: "[]"},
		{name: "string map", in: "${ bundle.images.web.labels.tier }", want: "front"},
		{name: "two tags", in: "${ installation.name }:${ bundle.parameters.port }", want: "demo:9001"},
		{name: "empty string value", in: "[${ installation.namespace }]", want: "[]"},
		{name: "dollar without brace", in: "cost: $5 ${ bundle.parameters.port }", want: "cost: $5 9001"},

		{name: "section true", in: "${#bundle.parameters.on}yes${/bundle.parameters.on}", want: "yes"},
		{name: "section false", in: "${#bundle.parameters.off}yes${/bundle.parameters.off}", want: ""},
		{name: "section missing", in: "${#bundle.parameters.nope}yes${/bundle.parameters.nope}", want: ""},
		{name: "section blank string", in: "${#bundle.parameters.blank}yes${/bundle.parameters.blank}", want: ""},
		{name: "section zero is truthy", in: "${#bundle.parameters.zero}yes${/bundle.parameters.zero}", want: "yes"},
		{name: "section empty map is truthy", in: "${#bundle.parameters.empty}yes${/bundle.parameters.empty}", want: "yes"},
		{name: "section empty list", in: "${#bundle.none}yes${/bundle.none}", want: ""},
		{name: "section over a list of maps", in: "${#bundle.list}<${ name }>${/bundle.list}", want: "<a><b>"},
		{name: "section over a list of strings", in: "${#bundle.words}${ . },${/bundle.words}", want: "x,y,"},
		{name: "section over a map", in: "${#bundle.parameters.obj}${ b }-${ installation.name }${/bundle.parameters.obj}", want: "x-demo"},
		{name: "nested sections", in: "${#bundle.list}${#bundle.parameters.on}${ name }${/bundle.parameters.on}${/bundle.list}", want: "ab"},
		{name: "inverted false", in: "${^bundle.parameters.off}no${/bundle.parameters.off}", want: "no"},
		{name: "inverted missing", in: "${^bundle.nope}no${/bundle.nope}", want: "no"},
		{name: "inverted true", in: "${^bundle.parameters.on}no${/bundle.parameters.on}", want: ""},
		{name: "comment", in: "a${! ignored ${ text }b", want: "ab"},
		{name: "set delimiters", in: "${=<% %>=}<% installation.name %> ${ x }", want: "demo ${ x }"},
		{name: "standalone section lines vanish", in: "a:\n  ${#bundle.parameters.on}\n  b: 1\n  ${/bundle.parameters.on}\nc: 2\n", want: "a:\n  b: 1\nc: 2\n"},
		{name: "standalone comment line vanishes", in: "a: 1\n${! note }\nb: 2\n", want: "a: 1\nb: 2\n"},
		{name: "inline section keeps the line", in: "a: ${#bundle.parameters.on}1${/bundle.parameters.on}\n", want: "a: 1\n"},
		{name: "variable alone keeps its indent", in: "  ${ installation.name }\n", want: "  demo\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.in, templateData())
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRenderMissingVariable(t *testing.T) {
	tests := []struct {
		name, in, missing string
	}{
		{name: "top level", in: "${ bundle.parameters.nope }", missing: "bundle.parameters.nope"},
		{name: "field of a string", in: "${ installation.name.x }", missing: "installation.name.x"},
		{name: "inside a section", in: "${#bundle.parameters.on}${ nope }${/bundle.parameters.on}", missing: "nope"},
		{name: "shell variable", in: "echo ${HOME}", missing: "HOME"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.in, templateData())
			mv, ok := errors.AsType[*MissingVariableError](err)
			require.True(t, ok, "got %v, want a missing variable", err)
			assert.Equal(t, tc.missing, mv.Variable)
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
		line           int
	}{
		{name: "unclosed tag", in: "a\nb: ${ x", want: `unclosed tag "${ x"`, line: 2},
		{name: "empty tag", in: "${ }", want: "empty tag", line: 1},
		{name: "unclosed section", in: "\n${#a}\nx", want: `section "a" has no closing tag`, line: 2},
		{name: "mismatched close", in: "${#a}${/b}", want: `closing tag "b" does not match section "a"`, line: 1},
		{name: "stray close", in: "${/a}", want: `closing tag "a" closes no section`, line: 1},
		{name: "partial", in: "${> header}", want: `partial "header" is not supported`, line: 1},
		{name: "bad delimiters", in: "${=<%=}", want: "invalid set-delimiter tag", line: 1},
		{name: "bad triple", in: "${{ x }", want: "unclosed tag", line: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.in, DollarDelims)
			se, ok := errors.AsType[*TemplateSyntaxError](err)
			require.True(t, ok, "got %v, want a syntax error", err)
			assert.Contains(t, se.Message, tc.want)
			assert.Equal(t, tc.line, se.Line)
		})
	}
}

func TestRenderMustacheDelims(t *testing.T) {
	got, err := RenderDelims("app: {{ installation.name }} ${HOME} {{#bundle.list}}{{name}}{{/bundle.list}}", templateData(), MustacheDelims)
	require.NoError(t, err)
	assert.Equal(t, "app: demo ${HOME} ab", got, "alpha.1 templates use {{ }}; ${ } is plain text there")
}

func TestTemplateVariables(t *testing.T) {
	tmpl, err := ParseTemplate("${ a } ${#s}${ inner }${/s} ${ b.c } ${ a } ${! c }", DollarDelims)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b.c"}, tmpl.Variables(), "variables outside sections, once each, as Porter scans them")
}

func TestRenderStep(t *testing.T) {
	m, err := Parse([]byte(minimal + `parameters:
  - {name: port, type: integer, default: 1}
upgrade:
  - websoft9:
      description: Start ${ bundle.name }
      # a comment ${ installation.name } stays a comment
      app: ${ installation.name }
      env:
        PORT: ${ bundle.parameters.port }
        QUOTED: "${ bundle.parameters.port }"
        SINGLE: '${ bundle.parameters.port }'
`))
	require.NoError(t, err)
	data := map[string]any{
		"installation": map[string]any{"name": "demo"},
		"bundle":       map[string]any{"name": "wordpress", "parameters": map[string]any{"port": "9001"}},
	}
	got, err := m.RenderStep(m.Actions["upgrade"][0], data)
	require.NoError(t, err)
	assert.Equal(t, "Start wordpress", got.Description())
	assert.Equal(t, "demo", got.Data["app"])
	assert.Equal(t, map[string]any{"PORT": 9001, "QUOTED": "9001", "SINGLE": "9001"}, got.Data["env"],
		"an unquoted template becomes a typed scalar, a quoted one stays a string, as in Porter")
	assert.Equal(t, m.Actions["upgrade"][0].Line, got.Line)

	_, err = m.RenderStep(m.Actions["upgrade"][0], map[string]any{"installation": map[string]any{"name": "demo"}})
	require.ErrorContains(t, err, `render step "Start ${ bundle.name }" (websoft9)`)
	mv, ok := errors.AsType[*MissingVariableError](err)
	require.True(t, ok)
	assert.Equal(t, "bundle.name", mv.Variable)
}

func TestRenderStepBuiltInCode(t *testing.T) {
	s := Step{Mixin: "websoft9", Data: map[string]any{"description": "Start", "env": map[string]any{"PORT": "${ bundle.parameters.port }"}}}
	got, err := RenderStep(s, map[string]any{"bundle": map[string]any{"parameters": map[string]any{"port": "9001"}}})
	require.NoError(t, err)
	assert.Equal(t, 9001, got.Data["env"].(map[string]any)["PORT"])

	_, err = RenderStep(Step{Mixin: "websoft9", Data: map[string]any{"v": "${ x }"}}, map[string]any{"x": "a: b: c"})
	require.ErrorContains(t, err, "the rendered step is not valid YAML")
}

func TestRenderStepAlpha(t *testing.T) {
	m, err := Parse([]byte(`schemaVersion: 1.0.0-alpha.1
name: x
version: 1.0.0
registry: localhost:5000
mixins: [websoft9]
install:
  - websoft9:
      description: "Install {{ installation.name }}"
      port: "{{ bundle.parameters.port }}"
      shell: ${NOT_A_TAG}
uninstall:
  - websoft9: {description: b}
parameters:
  - {name: port, type: integer, default: 1}
`))
	require.NoError(t, err)
	got, err := m.RenderStep(m.Actions["install"][0], map[string]any{
		"installation": map[string]any{"name": "demo"},
		"bundle":       map[string]any{"parameters": map[string]any{"port": "9001"}},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"description": "Install demo", "port": "9001", "shell": "${NOT_A_TAG}"}, got.Data)
}
