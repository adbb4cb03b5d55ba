package orchestrator

import (
	"slices"

	"github.com/cnabio/cnab-go/bundle"
)

// Extensions are the CNAB required extensions StackHub implements for
// bundles built elsewhere (porter-compat.md §9): Porter's file parameters
// and parameter sources, and the Docker socket.
var Extensions = []string{"sh.porter.file-parameters", "io.cnab.parameter-sources", "io.cnab.docker"}

// CheckBundle refuses, with EINVALID and the reason, a bundle pulled or
// imported from elsewhere that StackHub cannot run: invalid bundle.json,
// a schema version it does not know, not exactly one invocation image, or
// a required extension it does not implement (Porter's dependencies v2
// among them).
func CheckBundle(b *bundle.Bundle) error {
	if err := b.Validate(); err != nil {
		return WrapError(EINVALID, err, "bundle %s is not valid: %v", b.Name, err)
	}
	if !slices.Contains([]string{"1.0.0", "1.1.0", "1.2.0", "v1.0.0", "v1.1.0", "v1.2.0"}, string(b.SchemaVersion)) {
		return Errorf(EINVALID, "bundle %s: schemaVersion %q is not one StackHub runs (1.0.0, 1.1.0, 1.2.0)", b.Name, b.SchemaVersion)
	}
	if len(b.InvocationImages) != 1 {
		return Errorf(EINVALID, "bundle %s has %d invocation images; StackHub runs bundles with exactly one", b.Name, len(b.InvocationImages))
	}
	for _, ext := range b.RequiredExtensions {
		if !slices.Contains(Extensions, ext) {
			return Errorf(EINVALID, "bundle %s requires the extension %s, which StackHub does not implement (it implements %v)", b.Name, ext, Extensions)
		}
	}
	if b.InvocationImages[0].Digest == "" {
		return Errorf(EINVALID, "bundle %s: its invocation image has no contentDigest, so it cannot be verified", b.Name)
	}
	return nil
}
