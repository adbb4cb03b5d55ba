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
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

func TestBundle_Golden(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		golden   string
	}{
		{"demo", filepath.Join(demoDir, "porter.yaml"), "testdata/demo.bundle.json"},
		{"full", "testdata/full/porter.yaml", "testdata/full.bundle.json"},
		{"types", "testdata/types/porter.yaml", "testdata/types.bundle.json"},
		{"state", "testdata/state/porter.yaml", "testdata/state.bundle.json"},
		{"alpha", "testdata/alpha/porter.yaml", "testdata/alpha.bundle.json"},
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
		name    string
		yaml    string
		wantRef string
		wantTag string
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := parseYAML(t, "schemaVersion: 1.0.1\nmixins: [websoft9]\ninstall: []\nuninstall: []\n"+tc.yaml)
			ref, err := build.Reference(m)
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

// TestReference_Errors builds manifests by hand: Parse already refuses
// these, but Reference must not rely on it.
func TestReference_Errors(t *testing.T) {
	tests := []struct {
		name     string
		m        manifest.Manifest
		errorHas string
	}{
		{"neither registry nor reference", manifest.Manifest{Name: "x", Version: "1.0.0"}, "registry or reference is required"},
		{"digest reference", manifest.Manifest{Name: "x", Version: "1.0.0",
			Reference: "example.com/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, "not a digest"},
		{"invalid repository", manifest.Manifest{Name: "X Y", Version: "1.0.0", Registry: "example.com"}, "bundle repository"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build.Reference(&tc.m)
			require.ErrorContains(t, err, tc.errorHas)
		})
	}
}

// TestBundle_Errors covers what only bundle generation can refuse; the
// manifest checks (names, types, applyTo, sources…) are manifest's tests.
func TestBundle_Errors(t *testing.T) {
	const head = "schemaVersion: 1.0.1\nname: x\nversion: 1.0.0\nregistry: example.com\n"
	const steps = "install: []\nuninstall: []\n"
	tests := []struct {
		name     string
		yaml     string
		errorHas string
	}{
		{"unknown mixin", "mixins: [exec]\n" + steps, `mixin "exec" is not supported`},
		{"default outside its schema", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    type: integer\n    minimum: 10\n    default: 1\n", "default value"},
		{"default not in enum", "mixins: [websoft9]\n" + steps + "parameters:\n  - name: p\n    enum: [a, b]\n    default: c\n", "default value"},
		{"output default outside its schema", "mixins: [websoft9]\n" + steps + "outputs:\n  - name: o\n    type: string\n    maxLength: 1\n    default: long\n", "default value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build.Bundle(parseYAML(t, head+tc.yaml), build.BundleOptions{})
			require.ErrorContains(t, err, tc.errorHas)
		})
	}

	_, err := build.Bundle(&manifest.Manifest{Name: "x", Version: "1.0.0", Registry: "example.com", Mixins: []string{"websoft9"}}, build.BundleOptions{})
	require.ErrorContains(t, err, "no Raw bytes", "a manifest made by hand has nothing to stamp")
}

func TestBundle_MappingOfEveryField(t *testing.T) {
	bundleOf := func(path string) *bundle.Bundle {
		b, err := build.Bundle(mustParse(t, path), build.BundleOptions{})
		require.NoError(t, err)
		return b
	}
	types := bundleOf("testdata/types/porter.yaml")
	t.Run("destinations", func(t *testing.T) {
		assert.Equal(t, &bundle.Location{EnvironmentVariable: "BOTH_VALUE", Path: "/cnab/app/both.txt"}, types.Parameters["both"].Destination)
		assert.Equal(t, &bundle.Location{Path: "/cnab/app/tls/cert.pem"}, types.Parameters["certificate"].Destination)
		assert.True(t, types.Parameters["certificate"].Required, "no default: required")
		assert.Equal(t, &bundle.Location{EnvironmentVariable: "DEBUG_MODE"}, types.Parameters["debug-mode"].Destination, "UPPER(name) with - as _")
	})
	t.Run("definitions", func(t *testing.T) {
		settings := types.Definitions["settings-parameter"]
		assert.Equal(t, "object", settings.Type)
		assert.Equal(t, map[string]any{"user": "admin", "password": "changeme"}, settings.Default)
		require.NotNil(t, settings.WriteOnly)
		assert.Equal(t, []string{"user"}, settings.Required)
		assert.Equal(t, "array", types.Definitions["hosts-parameter"].Type)
		assert.Equal(t, "^[A-Za-z ]+$", types.Definitions["title-parameter"].Pattern.String())
		assert.Equal(t, "base64", types.Definitions["report-output"].ContentEncoding, "a file output is a base64 string")
		assert.Equal(t, "no default, so required", types.Definitions["token-parameter"].Comment)
	})
	t.Run("credentials", func(t *testing.T) {
		assert.Equal(t, bundle.Credential{Location: bundle.Location{Path: "/home/nonroot/.kube/config"}, Description: "Delivered in a file, optional"}, types.Credentials["kubeconfig"])
		assert.Equal(t, bundle.Credential{Location: bundle.Location{EnvironmentVariable: "BOTH_CRED", Path: "/cnab/app/creds/both"}, Required: true, ApplyTo: []string{"upgrade"}}, types.Credentials["both"])
	})
	t.Run("maintainers and version", func(t *testing.T) {
		assert.Equal(t, []bundle.Maintainer{{Name: "Types Team", Email: "types@example.com"}}, types.Maintainers)
		assert.Equal(t, "2.0.0", types.Version)
		assert.Equal(t, "registry.example/apps/types:porter-18207363ad81fc02a26a28f56f68c298", types.InvocationImages[0].Image, "the reference, tag included, wins over registry")
	})

	state := bundleOf("testdata/state/porter.yaml")
	t.Run("images", func(t *testing.T) {
		web := state.Images["web"]
		assert.Equal(t, "docker.io/library/nginx:1.27", web.Image)
		assert.Equal(t, map[string]string{"tier": "front"}, web.Labels)
		assert.Equal(t, uint64(1024), web.Size)
		assert.Equal(t, "The web server", web.Description)
		db := state.Images["db"]
		assert.Equal(t, "ghcr.io/example/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", db.Image)
		assert.Equal(t, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", db.Digest)
		assert.Equal(t, "docker", db.ImageType)
	})
	t.Run("parameter sources", func(t *testing.T) {
		assert.Equal(t, []string{"backup", "help", "status", "uninstall", "upgrade"}, state.Parameters["connection"].ApplyTo,
			"sourced from an output, without applyTo or default: every action but install")
		assert.Equal(t, []string{"backup"}, state.Parameters["backup-target"].ApplyTo, "an explicit applyTo is kept")
		sources := state.Custom[build.ParameterSourcesKey].(map[string]any)
		assert.Equal(t, map[string]any{"priority": []any{"output"}, "sources": map[string]any{"output": map[string]any{"name": "last-backup"}}}, sources["backup-target"])
		assert.Contains(t, sources, build.StateName)
	})
	t.Run("actions", func(t *testing.T) {
		assert.Equal(t, map[string]bundle.Action{
			"backup": {Description: "Back up the data"},
			"help":   {Description: "Print help", Stateless: true},
			"status": {Description: "Print a human readable status message to the standard output"},
		}, state.Actions)
	})
	t.Run("docker without config and custom as written", func(t *testing.T) {
		assert.Contains(t, state.Custom, build.DockerExtension)
		assert.Nil(t, state.Custom[build.DockerExtension])
		assert.Equal(t, map[string]any{"title": "State bundle"}, state.Custom["app"])
	})

	alpha := bundleOf("testdata/alpha/porter.yaml")
	t.Run("alpha.1 templates wire outputs", func(t *testing.T) {
		assert.Contains(t, alpha.Parameters, "porter-url-output", "{{ bundle.outputs.url }} is a template in 1.0.0-alpha.1")
		assert.Equal(t, map[string]any{"privileged": true}, alpha.Custom[build.DockerExtension])
	})
}
