package orchestrator

import (
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/stretchr/testify/assert"
)

func TestCheckBundle(t *testing.T) {
	good := func() *bundle.Bundle {
		return &bundle.Bundle{SchemaVersion: "1.2.0", Name: "app", Version: "1.0.0",
			InvocationImages: []bundle.InvocationImage{{BaseImage: bundle.BaseImage{ImageType: "docker",
				Image:  "r.test/app@sha256:0123456789012345678901234567890123456789012345678901234567890123",
				Digest: "sha256:0123456789012345678901234567890123456789012345678901234567890123"}}},
			RequiredExtensions: []string{"sh.porter.file-parameters", "io.cnab.parameter-sources", "io.cnab.docker"},
			Custom: map[string]any{"sh.porter.file-parameters": map[string]any{}, "io.cnab.parameter-sources": map[string]any{},
				"io.cnab.docker": map[string]any{}, "org.getporter.dependencies@v2": map[string]any{}}}
	}
	assert.NoError(t, CheckBundle(good()))
	for name, tc := range map[string]struct {
		edit func(*bundle.Bundle)
		has  string
	}{
		"dependencies v2": {func(b *bundle.Bundle) {
			b.RequiredExtensions = append(b.RequiredExtensions, "org.getporter.dependencies@v2")
		}, "requires the extension org.getporter.dependencies@v2"},
		"schema":     {func(b *bundle.Bundle) { b.SchemaVersion = "2.0.0" }, `schemaVersion "2.0.0"`},
		"two images": {func(b *bundle.Bundle) { b.InvocationImages = append(b.InvocationImages, b.InvocationImages[0]) }, "2 invocation images"},
		"no digest":  {func(b *bundle.Bundle) { b.InvocationImages[0].Digest = "" }, "no contentDigest"},
		"invalid":    {func(b *bundle.Bundle) { b.RequiredExtensions = append(b.RequiredExtensions, "io.cnab.undeclared") }, "is not valid"},
	} {
		b := good()
		tc.edit(b)
		err := CheckBundle(b)
		assert.Equal(t, EINVALID, ErrorCode(err), name)
		assert.ErrorContains(t, err, tc.has, name)
	}
}
