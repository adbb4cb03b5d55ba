package build_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
)

func TestBundle_Golden(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		golden   string
	}{
		{"demo", filepath.Join(demoDir, "porter.yaml"), "testdata/demo.bundle.json"},
		{"full", "testdata/full/porter.yaml", "testdata/full.bundle.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := build.Bundle(mustParse(t, tc.manifest), build.BundleOptions{})
			require.NoError(t, err)
			data, err := build.MarshalBundle(b)
			require.NoError(t, err)
			assertGolden(t, tc.golden, indentJSON(t, data))

			// The bytes are canonical: decoding and encoding again changes nothing.
			again, err := bundle.Unmarshal(data)
			require.NoError(t, err)
			data2, err := again.Marshal()
			require.NoError(t, err)
			assert.Equal(t, string(data), string(data2))
		})
	}
}

// allManifests is every porter.yaml the builder should accept: the catalog,
// the repository's test bundles and this package's testdata.
func allManifests(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"../../bundles/*/porter.yaml", "../../bundles/testdata/*/porter.yaml", "testdata/*/porter.yaml"} {
		matches, err := filepath.Glob(pattern)
		require.NoError(t, err)
		paths = append(paths, matches...)
	}
	require.NotEmpty(t, paths)
	return paths
}

func TestBundle_EveryBundleIsValidCNAB(t *testing.T) {
	for _, path := range allManifests(t) {
		t.Run(path, func(t *testing.T) {
			b, err := build.Bundle(mustParse(t, path), build.BundleOptions{})
			require.NoError(t, err)
			require.NoError(t, b.Validate())

			data, err := build.MarshalBundle(b)
			require.NoError(t, err)
			valErrs, err := schema.ValidateBundle(data)
			require.NoError(t, err)
			assert.Empty(t, valErrs, "bundle.json does not match the CNAB bundle schema")

			assert.Len(t, b.InvocationImages, 1)
			assert.Empty(t, b.InvocationImages[0].Digest, "contentDigest must stay empty until the image is pushed")
			assert.Contains(t, b.Custom, build.StampKey)
		})
	}
}

func TestBundle_Deterministic(t *testing.T) {
	m := mustParse(t, "testdata/full/porter.yaml")
	first, err := build.Bundle(m, build.BundleOptions{})
	require.NoError(t, err)
	want, err := build.MarshalBundle(first)
	require.NoError(t, err)
	for range 20 {
		b, err := build.Bundle(m, build.BundleOptions{})
		require.NoError(t, err)
		got, err := build.MarshalBundle(b)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

func TestBundle_Stamp(t *testing.T) {
	m := mustParse(t, filepath.Join(demoDir, "porter.yaml"))
	opts := build.BundleOptions{MixinVersion: "v0.2.0", BuilderVersion: "v1.0.0", BuilderCommit: "abc1234"}
	b, err := build.Bundle(m, opts)
	require.NoError(t, err)

	data, err := json.Marshal(b.Custom[build.StampKey])
	require.NoError(t, err)
	var stamp build.Stamp
	require.NoError(t, json.Unmarshal(data, &stamp))

	manifest, err := base64.StdEncoding.DecodeString(stamp.Manifest)
	require.NoError(t, err)
	assert.Equal(t, string(m.Raw), string(manifest))
	assert.Equal(t, map[string]build.MixinRecord{"websoft9": {Version: "v0.2.0"}}, stamp.Mixins)
	assert.Equal(t, "v1.0.0", stamp.Version)
	assert.Equal(t, "abc1234", stamp.Commit)
	assert.False(t, stamp.PreserveTags)
	sum := sha256.Sum256([]byte(string(m.Raw) + "v1.0.0" + "websoft9" + "v0.2.0"))
	assert.Equal(t, hex.EncodeToString(sum[:]), stamp.ManifestDigest)
}

func TestBundle_Mapping(t *testing.T) {
	b, err := build.Bundle(mustParse(t, "testdata/full/porter.yaml"), build.BundleOptions{})
	require.NoError(t, err)

	t.Run("sensitive parameters and outputs are writeOnly", func(t *testing.T) {
		require.NotNil(t, b.Definitions["admin-password-parameter"].WriteOnly)
		assert.True(t, *b.Definitions["admin-password-parameter"].WriteOnly)
		require.NotNil(t, b.Definitions["secret-output"].WriteOnly)
		assert.True(t, *b.Definitions["secret-output"].WriteOnly)
	})
	t.Run("files are base64 strings", func(t *testing.T) {
		for _, def := range []string{"config-parameter", "notype-file-parameter", "tfstate-parameter", "tfstate-output"} {
			assert.Equal(t, "string", b.Definitions[def].Type, def)
			assert.Equal(t, "base64", b.Definitions[def].ContentEncoding, def)
		}
		assert.Equal(t, "/cnab/app/config/app.json", b.Parameters["config"].Destination.Path)
	})
	t.Run("required iff no default", func(t *testing.T) {
		assert.False(t, b.Parameters["port"].Required)
		assert.True(t, b.Parameters["admin-password"].Required)
	})
	t.Run("a parameter sourced from an output skips install", func(t *testing.T) {
		assert.Equal(t, []string{"backup", "status", "uninstall", "upgrade"}, b.Parameters["tfstate"].ApplyTo)
	})
	t.Run("templated outputs get a wiring parameter", func(t *testing.T) {
		for _, o := range []string{"url", "secret"} {
			wiring := "porter-" + o + "-output"
			p, ok := b.Parameters[wiring]
			require.True(t, ok, wiring)
			assert.False(t, p.Required)
			assert.Equal(t, build.InternalComment, b.Definitions[wiring].Comment)
		}
		assert.NotContains(t, b.Parameters, "porter-tfstate-output")
		assert.Equal(t, "PORTER_URL_OUTPUT", b.Parameters["porter-url-output"].Destination.EnvironmentVariable)
	})
	t.Run("custom actions", func(t *testing.T) {
		assert.Equal(t, map[string]bundle.Action{
			"backup": {Description: "Back up the data"},
			"status": {Description: "Print a human readable status message to the standard output"},
		}, b.Actions)
	})
	t.Run("docker with config", func(t *testing.T) {
		assert.Equal(t, map[string]any{"privileged": true}, b.Custom[build.DockerExtension])
		assert.Equal(t, []string{build.FileParametersExtension, build.ParameterSourcesKey, build.DockerExtension}, b.RequiredExtensions)
	})
}

func TestReference(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantRef  string
		wantTag  string
		errorHas string
	}{
		{
			name:    "registry, name and version",
			yaml:    "registry: localhost:5000\nname: mybuns\nversion: 0.1.2\n",
			wantRef: "localhost:5000/mybuns:v0.1.2",
			wantTag: "localhost:5000/mybuns:porter-332dd75c541511a27fc332bdcd049d5b", // Porter's mybuns testdata
		},
		{
			name:    "reference with tag wins over version",
			yaml:    "registry: ignored.example\nreference: example.com/mybuns:v1.0.0\nname: mybuns\nversion: 0.1.2\n",
			wantRef: "example.com/mybuns:v1.0.0",
			wantTag: "example.com/mybuns:porter-a3ffa80326b2e3a64e9ed3f377204ab2", // Porter's bundle_reference_test.go
		},
		{
			name:    "reference without tag takes v<version>, + as _",
			yaml:    "reference: example.com/apps/x\nname: x\nversion: 1.0.0+build.7\n",
			wantRef: "example.com/apps/x:v1.0.0_build.7",
		},
		{
			name:    "Docker Hub in familiar form",
			yaml:    "registry: docker.io/websoft9\nname: wordpress\nversion: 6.5.2\n",
			wantRef: "websoft9/wordpress:v6.5.2",
		},
		{
			name:     "neither registry nor reference",
			yaml:     "name: x\nversion: 1.0.0\n",
			errorHas: "registry or reference is required",
		},
		{
			name:     "digest reference",
			yaml:     "reference: example.com/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nname: x\nversion: 1.0.0\n",
			errorHas: "not a digest",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := parseYAML(t, "schemaVersion: 1.0.1\nmixins: [websoft9]\ninstall: []\nuninstall: []\n"+tc.yaml)
			ref, err := build.Reference(m)
			if tc.errorHas != "" {
				require.ErrorContains(t, err, tc.errorHas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRef, ref)
			img, err := build.InvocationImage(ref)
			require.NoError(t, err)
			if tc.wantTag != "" {
				assert.Equal(t, tc.wantTag, img)
			}
			b, err := build.Bundle(m, build.BundleOptions{})
			require.NoError(t, err)
			assert.Equal(t, img, b.InvocationImages[0].Image)
		})
	}
}

func TestBundle_Errors(t *testing.T) {
	const head = "schemaVersion: 1.0.1\nname: x\nversion: 1.0.0\nregistry: example.com\n"
	const steps = "install: []\nuninstall: []\n"
	tests := []struct {
		name     string
		yaml     string
		errorHas string
	}{
		{"unknown mixin", "mixins: [exec]\n" + steps, `mixin "exec" is not supported`},
		{"reserved parameter name", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: porter-x\n", "reserved"},
		{"reserved output name", "mixins: [websoft9]\n" + steps + "outputs:\n  - name: porter-state\n", "reserved"},
		{"unknown JSON-schema keyword", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: integer\n    mininum: 1\n", `unknown JSON-schema keyword "mininum"`},
		{"invalid type", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: port\n", "not a valid type"},
		{"applyTo an undeclared action", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    default: a\n    applyTo: [backup]\n", `applyTo names "backup"`},
		{"file parameter without path", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: file\n", "needs a path"},
		{"default outside its schema", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: integer\n    minimum: 10\n    default: 1\n", "default value"},
		{"customActions without steps", "mixins: [websoft9]\n" + steps + "customActions:\n  backup:\n    description: b\n", `"backup" has no steps`},
		{"source.dependency", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    source:\n      dependency: db\n      output: url\n", "dependencies"},
		{"source.output of no output", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    source:\n      output: url\n", `source.output "url" is not an output`},
		{"image without repository", "mixins: [websoft9]\n" + steps + "images:\n  web:\n    tag: latest\n", "repository is required"},
		{"unknown image field", "mixins: [websoft9]\n" + steps + "images:\n  web:\n    repository: nginx\n    tags: latest\n", `unknown field "tags"`},
		{"parameter path under outputs", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    path: outputs/p\n    default: ''\n", "/cnab/app/outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build.Bundle(parseYAML(t, head+tc.yaml), build.BundleOptions{})
			require.ErrorContains(t, err, tc.errorHas)
		})
	}
}
