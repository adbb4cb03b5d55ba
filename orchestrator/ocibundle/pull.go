package ocibundle

import (
	"context"
	"fmt"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-to-oci/relocation"
	"github.com/cnabio/cnab-to-oci/remotes"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/websoft9/stackhub/orchestrator"
)

// Pulled is a bundle read from a registry.
type Pulled struct {
	// Reference is the reference pulled, fully qualified.
	Reference string
	// Digest is the digest of the bundle's OCI index.
	Digest string
	// Bundle is bundle.json as stored.
	Bundle *bundle.Bundle
	// RelocationMap maps each image of bundle.json to its copy in the
	// bundle repository (repo@sha256:…), rebuilt from the index.
	RelocationMap relocation.ImageRelocationMap
}

// Pull reads the bundle at ref (REGISTRY/REPOSITORY:TAG or @sha256:…; no
// tag means latest) with cnab-to-oci: bundle.json, the relocation map and
// the index digest. It checks that the invocation image has a
// contentDigest (as Porter, which refuses bundles without one) and that
// every image's contentDigest is the digest the index records for it.
// Nothing is written locally.
//
// Returns ENOTFOUND when the registry has no such repository or tag,
// EINVALID when ref is malformed, when what it names is not a CNAB bundle
// (e.g. a plain image) or when bundle.json and the index disagree on a
// digest, EUNAUTHORIZED when the registry refuses the credentials and
// EUNAVAILABLE when it does not answer.
func Pull(ctx context.Context, ref string, reg Registry) (*Pulled, error) {
	ctx = quiet(ctx)
	named, err := parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	shown := reference.FamiliarString(named)
	c, err := reg.connect(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", shown, err)
	}
	// Resolve first so that failures are classified by type: cnab-to-oci
	// formats the errors of later steps with %s.
	_, desc, err := c.resolver.Resolve(ctx, named.String())
	if err != nil {
		return nil, classify(err, "pull "+shown, "", "")
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex && desc.MediaType != images.MediaTypeDockerSchema2ManifestList {
		return nil, orchestrator.Errorf(orchestrator.EINVALID,
			"pull %s: not a CNAB bundle: the reference names a %s, not an image index", shown, desc.MediaType)
	}
	b, rm, digest, err := remotes.Pull(ctx, named, c.resolver)
	if err != nil {
		return nil, classify(err, "pull "+shown, orchestrator.EINVALID, "not a CNAB bundle (its index has no readable bundle.json)")
	}
	if err := checkDigests(b, rm); err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "pull %s: %s", shown, orchestrator.ErrorMessage(err))
	}
	return &Pulled{Reference: named.String(), Digest: digest.String(), Bundle: b, RelocationMap: rm}, nil
}

// checkDigests checks that the invocation image has a contentDigest and
// that each image's contentDigest, when set, is the digest of its
// relocated copy. Returns EINVALID otherwise.
func checkDigests(b *bundle.Bundle, rm relocation.ImageRelocationMap) error {
	if len(b.InvocationImages) != 1 {
		return orchestrator.Errorf(orchestrator.EINVALID, "bundle.json has %d invocation images, want 1", len(b.InvocationImages))
	}
	inv := b.InvocationImages[0]
	if inv.Digest == "" {
		return orchestrator.Errorf(orchestrator.EINVALID, "the invocation image %s has no contentDigest: publish the bundle again", inv.Image)
	}
	check := func(what string, img bundle.BaseImage) error {
		if img.Digest == "" {
			return nil
		}
		loc, ok := rm[img.Image]
		if !ok {
			return orchestrator.Errorf(orchestrator.EINVALID, "%s %s is missing from the bundle's index", what, img.Image)
		}
		named, err := reference.ParseNormalizedNamed(loc)
		if err != nil {
			return orchestrator.WrapError(orchestrator.EINVALID, err, "%s %s: bad relocated reference %q", what, img.Image, loc)
		}
		d, ok := named.(reference.Digested)
		if !ok || d.Digest().String() != img.Digest {
			return orchestrator.Errorf(orchestrator.EINVALID,
				"digest mismatch: %s %s has contentDigest %s in bundle.json but the index holds %s", what, img.Image, img.Digest, loc)
		}
		return nil
	}
	if err := check("invocation image", inv.BaseImage); err != nil {
		return err
	}
	for alias, img := range b.Images {
		if err := check("image "+alias, img.BaseImage); err != nil {
			return err
		}
	}
	return nil
}
