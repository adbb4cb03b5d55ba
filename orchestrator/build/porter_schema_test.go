package build_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"
)

// Porter's published manifest schema and the schema it references, stored
// as fixtures so the test needs no network:
//
//   - testdata/porter-schema/manifest.schema.json is getporter/porter
//     pkg/schema/manifest.schema.json at commit
//     0adcbe213fffc328400e874aa871b7d184f57c47;
//   - testdata/porter-schema/json-schema.json is getporter/porter
//     docs/static/schema/json-schema.json at commit
//     f0715134f2f971102fb94259ae5a5321ed1a32fc, served by Porter as
//     https://porter.sh/schema/json-schema.json (draft 7 with the type file).
//
// The validator is xeipuuv/gojsonschema, already in the module graph
// through cnab-go's schema package and the one Porter uses: qri-io's
// jsonschema implements draft 2019-09, which ignores draft 7's
// "definitions", so Porter's #/definitions/... references would not resolve.
const (
	porterManifestSchema = "testdata/porter-schema/manifest.schema.json"
	porterJSONSchema     = "testdata/porter-schema/json-schema.json"
	porterJSONSchemaURL  = "https://porter.sh/schema/json-schema.json"
	websoft9Schema       = "../../porter-mixin/schema/schema.json"
)

// mergeMixinSchema adds a mixin's step schema to Porter's manifest schema as
// `porter schema` does (getporter/porter pkg/porter/schema.go
// injectMixinSchemas): the mixin schema's "#/" references move under
// "#/mixin.<name>/", the schema is embedded at mixin.<name>, the name joins
// the enum of mixin declarations (and its config definition, if any, the
// declaration forms), each of install, upgrade and uninstall accepts
// <action>Step, and custom actions accept invokeStep when it is defined.
func mergeMixinSchema(manifestSchema map[string]any, name string, mixinSchema []byte) error {
	moved := strings.ReplaceAll(string(mixinSchema), "#/", "#/mixin."+name+"/")
	var mixin map[string]any
	if err := json.Unmarshal([]byte(moved), &mixin); err != nil {
		return fmt.Errorf("mixin schema %s: %w", name, err)
	}
	defs, _ := mixin["definitions"].(map[string]any)
	props, ok := manifestSchema["properties"].(map[string]any)
	if !ok {
		return fmt.Errorf("manifest schema: properties is %T", manifestSchema["properties"])
	}
	mixinItems := props["mixins"].(map[string]any)["items"].(map[string]any)
	decls := mixinItems["oneOf"].([]any)
	nameDecl := decls[0].(map[string]any)
	nameDecl["enum"] = append(nameDecl["enum"].([]any), name)
	if _, ok := defs["config"]; ok {
		mixinItems["oneOf"] = append(decls, map[string]any{"$ref": "#/mixin." + name + "/definitions/config"})
	}
	manifestSchema["mixin."+name] = mixin
	for _, action := range []string{"install", "upgrade", "uninstall"} {
		if _, ok := defs[action+"Step"]; !ok {
			return fmt.Errorf("mixin schema %s has no definitions.%sStep", name, action)
		}
		items := props[action].(map[string]any)["items"].(map[string]any)
		items["anyOf"] = append(items["anyOf"].([]any), map[string]any{"$ref": "#/mixin." + name + "/definitions/" + action + "Step"})
	}
	if _, ok := defs["invokeStep"]; ok {
		items := manifestSchema["additionalProperties"].(map[string]any)["items"].(map[string]any)
		items["anyOf"] = append(items["anyOf"].([]any), map[string]any{"$ref": "#/mixin." + name + "/definitions/invokeStep"})
	}
	return nil
}

// porterSchema compiles Porter's manifest schema with the websoft9 step
// schema merged in, read at test time from the mixin's source.
func porterSchema(t *testing.T) *gojsonschema.Schema {
	t.Helper()
	var manifestSchema map[string]any
	raw, err := os.ReadFile(porterManifestSchema)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &manifestSchema))
	mixin, err := os.ReadFile(websoft9Schema)
	require.NoError(t, err)
	require.NoError(t, mergeMixinSchema(manifestSchema, "websoft9", mixin), "merging the websoft9 step schema as `porter schema` does")

	// Porter's code treats upgrade as optional (pkg/manifest Validate checks
	// install and uninstall only; porter-compat.md §1.2) though the schema
	// lists it, and bundles such as the demo need none: drop it from required.
	manifestSchema["required"] = slices.DeleteFunc(manifestSchema["required"].([]any), func(v any) bool { return v == "upgrade" })

	draft7, err := os.ReadFile(porterJSONSchema)
	require.NoError(t, err)

	sl := gojsonschema.NewSchemaLoader()
	sl.Draft = gojsonschema.Draft7
	require.NoError(t, sl.AddSchema(porterJSONSchemaURL, gojsonschema.NewBytesLoader(draft7)))
	schema, err := sl.Compile(gojsonschema.NewGoLoader(manifestSchema))
	require.NoError(t, err, "compile the merged manifest schema")
	return schema
}

// yamlToJSON decodes porter.yaml text into JSON-compatible values.
func yamlToJSON(t *testing.T, text []byte) any {
	t.Helper()
	var doc any
	require.NoError(t, yaml.Unmarshal(text, &doc))
	data, err := json.Marshal(jsonCompatible(doc))
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

func jsonCompatible(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonCompatible(e)
		}
		return t
	case map[any]any:
		out := map[string]any{}
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = jsonCompatible(e)
		}
	}
	return v
}

func validateManifest(t *testing.T, schema *gojsonschema.Schema, text []byte) []string {
	t.Helper()
	res, err := schema.Validate(gojsonschema.NewGoLoader(yamlToJSON(t, text)))
	require.NoError(t, err)
	var problems []string
	for _, e := range res.Errors() {
		problems = append(problems, e.String())
	}
	return problems
}

func TestPorterSchema_EveryManifest(t *testing.T) {
	schema := porterSchema(t)
	for _, path := range allManifests(t) {
		t.Run(path, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Empty(t, validateManifest(t, schema, raw), "%s does not match Porter's manifest schema with the websoft9 step schema", path)
		})
	}
}

// TestPorterSchema_Rejects makes sure the merged schema is in force, so that
// the test above cannot pass vacuously.
func TestPorterSchema_Rejects(t *testing.T) {
	const head = "schemaVersion: 1.0.1\nname: x\nversion: 1.0.0\nregistry: example.com\n"
	const step = "  - websoft9:\n      description: d\n      app: x\n"
	const steps = "install:\n  - websoft9:\n      description: d\n      app: x\n      compose: c.yml\n      main: web\nuninstall:\n" + step
	tests := []struct {
		name, yaml, want string
	}{
		{"undeclared mixin", head + "mixins: [helm3]\n" + steps, "mixins.0"},
		{"unknown image field", head + "mixins: [websoft9]\n" + steps + "images:\n  web:\n    repository: nginx\n    tags: latest\n", "tags"},
		{"unknown websoft9 field", head + "mixins: [websoft9]\n" + steps + "upgrade:\n  - websoft9:\n      description: d\n      app: x\n      compose: c.yml\n      main: web\n      colour: blue\n", "upgrade.0"},
		{"custom action of another mixin", head + "mixins: [websoft9]\n" + steps + "backup:\n  - exec:\n      command: tar\n", "backup.0"},
		{"scalar top-level field", head + "mixins: [websoft9]\n" + steps + "colour: blue\n", "colour"},
		{"unknown parameter type", head + "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: filez\n", "parameters.0"},
		{"no install", head + "mixins: [websoft9]\nuninstall:\n" + step, "install"},
	}
	schema := porterSchema(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems := validateManifest(t, schema, []byte(tc.yaml))
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}
