package portermixin

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func schemaMap(t *testing.T) map[string]any {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal(schemaJSON, &s), "schema.json is valid JSON")
	return s
}

func object(t *testing.T, v any, at string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s is an object", at)
	return m
}

// walkJSON calls f for every object in v with its JSON pointer.
func walkJSON(v any, at string, f func(at string, obj map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(at, v)
		for k, x := range v {
			walkJSON(x, at+"/"+k, f)
		}
	case []any:
		for i, x := range v {
			walkJSON(x, at+"/"+strconv.Itoa(i), f)
		}
	}
}

func TestSchema_Shape(t *testing.T) {
	s := schemaMap(t)
	assert.Equal(t, "http://json-schema.org/draft-07/schema#", s["$schema"])
	assert.Equal(t, "object", s["type"])
	defs := object(t, s["definitions"], "definitions")
	for _, d := range []string{"installStep", "upgradeStep", "uninstallStep", "invokeStep", "config"} {
		assert.Contains(t, defs, d)
	}
	props := object(t, s["properties"], "properties")
	assert.ElementsMatch(t, []string{"install", "upgrade", "uninstall"}, slices.Collect(maps.Keys(props)))
	for action, def := range map[string]string{"install": "installStep", "upgrade": "upgradeStep", "uninstall": "uninstallStep"} {
		assert.Equal(t, map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/" + def}}, props[action])
	}
	assert.Equal(t, map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/invokeStep"}}, s["additionalProperties"],
		"custom actions take invoke steps")
	for _, d := range []string{"installStep", "upgradeStep", "uninstallStep", "invokeStep"} {
		step := object(t, defs[d], d)
		assert.Equal(t, []any{Name}, step["required"], d)
		assert.Equal(t, false, step["additionalProperties"], d)
		assert.Contains(t, object(t, step["properties"], d+".properties"), Name, d)
	}
}

// TestSchema_MergeRules checks what Porter's merge needs: only relative
// #/definitions/ refs, to definitions that exist and are not bare refs
// themselves; no $id; and "#/" nowhere but in refs, because Porter rewrites
// every "#/" of the text to "#/mixin.websoft9/".
func TestSchema_MergeRules(t *testing.T) {
	s := schemaMap(t)
	defs := object(t, s["definitions"], "definitions")
	refs := 0
	walkJSON(s, "", func(at string, obj map[string]any) {
		assert.NotContains(t, obj, "$id", at)
		ref, ok := obj["$ref"]
		if !ok {
			return
		}
		refs++
		name, ok := strings.CutPrefix(ref.(string), "#/definitions/")
		require.True(t, ok, "%s: $ref %q is not #/definitions/…", at, ref)
		target, ok := defs[name].(map[string]any)
		require.True(t, ok, "%s: $ref %q names no definition", at, ref)
		assert.NotContains(t, target, "$ref", "%s: $ref %q points at a $ref", at, ref)
	})
	assert.Positive(t, refs)
	assert.Equal(t, refs, strings.Count(string(schemaJSON), "#/"), `"#/" only in $ref values`)
}

// TestSchema_Fields keeps schema.json and the structs the runtime decodes
// in step: every field decoded is described, and nothing else.
func TestSchema_Fields(t *testing.T) {
	defs := object(t, schemaMap(t)["definitions"], "definitions")
	for def, fields := range map[string][]string{"websoft9": stepFields, "output": outputFields, "port": portFields, "execCommand": execFields} {
		props := object(t, object(t, defs[def], def)["properties"], def+".properties")
		assert.ElementsMatch(t, fields, slices.Collect(maps.Keys(props)), "definitions.%s.properties vs the Go struct", def)
		assert.Equal(t, false, object(t, defs[def], def)["additionalProperties"], def)
	}
}

// compile compiles the schema as Porter embeds it: rewritten under
// mixin.websoft9 in a manifest schema whose actions point into it.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	rewritten := strings.ReplaceAll(string(schemaJSON), "#/", "#/mixin."+Name+"/")
	mixin, err := jsonschema.UnmarshalJSON(strings.NewReader(rewritten))
	require.NoError(t, err)
	root := map[string]any{
		"$schema":       "http://json-schema.org/draft-07/schema#",
		"mixin." + Name: mixin,
		"type":          "object",
		"properties": map[string]any{
			"install":   map[string]any{"$ref": "#/mixin." + Name + "/properties/install"},
			"upgrade":   map[string]any{"$ref": "#/mixin." + Name + "/properties/upgrade"},
			"uninstall": map[string]any{"$ref": "#/mixin." + Name + "/properties/uninstall"},
			"mixins":    map[string]any{"type": "array", "items": map[string]any{"$ref": "#/mixin." + Name + "/definitions/config"}},
		},
		"additionalProperties": map[string]any{"$ref": "#/mixin." + Name + "/additionalProperties"},
	}
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("manifest.json", root))
	sch, err := c.Compile("manifest.json")
	require.NoError(t, err, "every ref resolves after Porter's rewrite")
	return sch
}

// instance turns YAML into the JSON value a validator sees.
func instance(t *testing.T, doc string) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(doc), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return inst
}

func TestSchema_ValidatesSteps(t *testing.T) {
	sch := compile(t)
	for _, file := range []string{"testdata/lint/demo.yaml", "testdata/lint/inline.yaml"} {
		t.Run(file, func(t *testing.T) {
			var in struct {
				Actions yaml.Node `yaml:"actions"`
			}
			require.NoError(t, yaml.NewDecoder(mustOpen(t, file)).Decode(&in))
			b, err := yaml.Marshal(&in.Actions)
			require.NoError(t, err)
			assert.NoError(t, sch.Validate(instance(t, string(b))))
		})
	}
	for _, file := range []string{"testdata/step/install.yaml", "testdata/step/install-inline.yaml", "testdata/step/uninstall.yaml"} {
		t.Run(file, func(t *testing.T) {
			b, err := yaml.Marshal(yamlFile(t, file))
			require.NoError(t, err)
			assert.NoError(t, sch.Validate(instance(t, string(b))))
		})
	}

	valid := "install:\n- websoft9: {app: a, compose: c.yml, main: web}\n"
	require.NoError(t, sch.Validate(instance(t, valid)))
	withExec := "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web, command: [occ, config, 5], passEnv: [TITLE], env: {A: b}, user: www-data}]}\n"
	require.NoError(t, sch.Validate(instance(t, withExec)))
	invalid := []struct{ name, doc string }{
		{"install without main", "install:\n- websoft9: {app: a, compose: c.yml}\n"},
		{"install without model", "install:\n- websoft9: {app: a, main: web}\n"},
		{"compose and services", "install:\n- websoft9: {app: a, main: web, compose: c.yml, services: {web: {image: x}}}\n"},
		{"no app", "uninstall:\n- websoft9: {purge: true}\n"},
		{"unknown field", "uninstall:\n- websoft9: {app: a, servcies: {}}\n"},
		{"unknown field in custom action", "stop:\n- websoft9: {app: a, force: true}\n"},
		{"two sources", "uninstall:\n- websoft9: {app: a, outputs: [{name: o, value: v, env: A}]}\n"},
		{"no source", "uninstall:\n- websoft9: {app: a, outputs: [{name: o}]}\n"},
		{"jsonPath without container", "uninstall:\n- websoft9: {app: a, outputs: [{name: o, jsonPath: $.Id}]}\n"},
		{"container and port", "uninstall:\n- websoft9: {app: a, outputs: [{name: o, container: web, port: {service: web, target: 80}}]}\n"},
		{"bad protocol", "uninstall:\n- websoft9: {app: a, outputs: [{name: o, port: {service: web, target: 80, protocol: sctp}}]}\n"},
		{"another mixin's key", "install:\n- websoft9: {app: a, compose: c.yml, main: web}\n  exec: {}\n"},
		{"exec without command", "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web}]}\n"},
		{"exec with a shell string", "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web, command: \"rails runner x\"}]}\n"},
		{"exec with an empty command", "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web, command: []}]}\n"},
		{"exec unknown field", "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web, command: [x], privileged: true}]}\n"},
		{"exec bad passEnv", "install:\n- websoft9: {app: a, compose: c.yml, main: web, exec: [{service: web, command: [x], passEnv: [1A]}]}\n"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			assert.Error(t, sch.Validate(instance(t, tc.doc)))
		})
	}
	assert.Error(t, sch.Validate(instance(t, "mixins: [{composeVersion: v5}]\n")), "config takes no keys")
	assert.NoError(t, sch.Validate(instance(t, "mixins: [{}]\n")))
}

func yamlFile(t *testing.T, path string) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.NewDecoder(mustOpen(t, path)).Decode(&v))
	return v
}

func TestPrintSchema(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, (&Mixin{Out: &out}).PrintSchema())
	assert.True(t, json.Valid(out.Bytes()))
	assert.Equal(t, schemaJSON, out.Bytes())
}
