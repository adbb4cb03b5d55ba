package ocibundle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-to-oci/relocation"
	"github.com/cnabio/cnab-to-oci/remotes"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
)

// DockerClient is the part of the Docker client this package uses to read
// images from and load images into the local engine. *client.Client from
// github.com/moby/moby/client satisfies it (create it with API version
// negotiation: Debian's docker.io speaks API 1.41).
type DockerClient = daemon.Client

// PublishOptions says what Publish pushes where.
type PublishOptions struct {
	// Reference is REGISTRY/REPOSITORY[:TAG]. Without a tag the tag is
	// v<bundle version> with '+' written '_' (as porter publish).
	Reference string
	// Bundle is bundle.json as built (build.Result.Bundle). Publish works
	// on a copy; the caller's value is not modified.
	Bundle *bundle.Bundle
	// InvocationImage is the built invocation image (build.Result.Image).
	InvocationImage v1.Image
	// Force replaces an existing tag. Without it, Publish refuses (ECONFLICT).
	Force bool
	// Registry holds credentials and plain-HTTP settings.
	Registry Registry
	// Docker, when set, is where images: entries are looked up first: an
	// entry without contentDigest that the local engine holds is read
	// from it (go-containerregistry's daemon package, i.e. docker save)
	// and pushed by digest into the bundle repository. Entries not found
	// there are copied registry to registry by cnab-to-oci.
	Docker DockerClient
	// Logger receives one line per pushed image; nil discards them.
	Logger *slog.Logger
}

// Published describes a bundle in a registry.
type Published struct {
	// Reference is the bundle's tag, fully qualified
	// (e.g. docker.io/library/x:v1 or 127.0.0.1:5000/stackhub/demo:v0.1.0).
	Reference string
	// Digest is the digest of the bundle's OCI index.
	Digest string
	// Bundle is bundle.json as stored: every image with its digest
	// reference and contentDigest.
	Bundle *bundle.Bundle
	// RelocationMap maps each image of the bundle as written in
	// bundle.json to its copy in the bundle repository (repo@sha256:…).
	RelocationMap relocation.ImageRelocationMap
}

// Tag returns ref with the tag Porter gives a bundle when ref has none:
// v<version> with '+' written '_'. A ref with a tag is returned as given.
// Returns EINVALID for a malformed reference, a digest reference or a
// version that makes no valid tag.
func Tag(ref, version string) (string, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(ref))
	if err != nil {
		return "", orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid OCI reference", ref)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", orchestrator.Errorf(orchestrator.EINVALID, "%q: a bundle is published under a tag, not a digest", ref)
	}
	if _, ok := named.(reference.Tagged); ok {
		return named.String(), nil
	}
	tagged, err := reference.WithTag(named, "v"+strings.ReplaceAll(version, "+", "_"))
	if err != nil {
		return "", orchestrator.WrapError(orchestrator.EINVALID, err, "version %q does not make a valid tag for %s", version, ref)
	}
	return tagged.String(), nil
}

// Publish does what `porter publish` does (porter-compat.md §8): it pushes
// the invocation image to the bundle repository under Porter's
// porter-<md5> tag, points invocationImages[0] at it by digest with its
// contentDigest, copies every images: entry into the bundle repository
// (remotes.FixupBundle), and pushes bundle.json and the OCI index with
// cnab-to-oci's media types and annotations (remotes.Push, fallbacks
// allowed).
//
// Returns ECONFLICT when the tag exists and opts.Force is false (nothing is
// pushed then), EUNAUTHORIZED when the registry refuses the credentials,
// EUNAVAILABLE when it does not answer, EINVALID for a bad reference or
// bundle; messages name the reference, never credentials.
func Publish(ctx context.Context, opts PublishOptions) (*Published, error) {
	if opts.Bundle == nil || opts.InvocationImage == nil {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "publish: the bundle and its invocation image are required")
	}
	if len(opts.Bundle.InvocationImages) != 1 {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "publish: bundle %s has %d invocation images, want 1", opts.Bundle.Name, len(opts.Bundle.InvocationImages))
	}
	ctx = quiet(ctx)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raw, err := Tag(opts.Reference, opts.Bundle.Version)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	ref, err := reference.ParseNormalizedNamed(raw)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "publish: %q is not a valid OCI reference", raw)
	}
	shown := reference.FamiliarString(ref)
	c, err := opts.Registry.connect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", shown, err)
	}

	// Refuse to overwrite before pushing anything.
	_, _, err = c.resolver.Resolve(ctx, ref.String())
	switch {
	case err == nil && !opts.Force:
		return nil, orchestrator.Errorf(orchestrator.ECONFLICT, "publish %s: the tag already exists; use --force to replace it", shown)
	case err != nil && !cerrdefs.IsNotFound(err):
		return nil, classify(err, "publish "+shown, "", "")
	}

	bun, err := copyBundle(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", shown, err)
	}
	repo := reference.TrimNamed(ref)

	// 1-2. The invocation image, by Porter's tag, then by digest in bundle.json.
	invTag, err := build.InvocationImage(shown)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "publish %s", shown)
	}
	desc, err := pushImage(ctx, c, invTag, opts.InvocationImage)
	if err != nil {
		return nil, classify(err, "publish "+shown+": push the invocation image "+invTag, "", "")
	}
	log.Info("pushed invocation image", "image", invTag, "digest", desc.Digest.String())
	inv := &bun.InvocationImages[0]
	inv.Image = repo.String() + "@" + desc.Digest.String()
	inv.Digest = desc.Digest.String()
	inv.MediaType = string(desc.MediaType)
	inv.Size = uint64(desc.Size)

	// 3. images: entries the local engine holds are pushed from it; the
	// relocation map tells FixupBundle they are already in the repository.
	relocationMap := relocation.ImageRelocationMap{}
	for _, alias := range slices.Sorted(maps.Keys(bun.Images)) {
		img := bun.Images[alias]
		if img.Digest != "" || opts.Docker == nil {
			continue
		}
		local, err := daemonImage(ctx, opts.Docker, img.Image)
		if err != nil {
			return nil, fmt.Errorf("publish %s: image %s (%s): %w", shown, alias, img.Image, err)
		}
		if local == nil {
			continue // not in the engine: FixupBundle copies it from its registry
		}
		d, err := local.Digest()
		if err != nil {
			return nil, fmt.Errorf("publish %s: image %s (%s) from Docker: %w", shown, alias, img.Image, err)
		}
		target := repo.String() + "@" + d.String()
		if _, err := pushImage(ctx, c, target, local); err != nil {
			return nil, classify(err, fmt.Sprintf("publish %s: push image %s (%s)", shown, alias, img.Image), "", "")
		}
		log.Info("pushed image from Docker", "alias", alias, "image", img.Image, "to", target)
		relocationMap[img.Image] = target
	}
	relocationMap, err = remotes.FixupBundle(ctx, bun, ref, c.resolver,
		remotes.WithAutoBundleUpdate(), remotes.WithRelocationMap(relocationMap))
	if err != nil {
		return nil, classify(err, "publish "+shown+": copy the bundle's images", orchestrator.EINVALID, "an image cannot be found or copied")
	}

	// 4. bundle.json and the index.
	index, err := remotes.Push(ctx, bun, relocationMap, ref, c.resolver, true)
	if err != nil {
		return nil, classify(err, "publish "+shown+": push bundle.json and the index", "", "")
	}
	log.Info("pushed bundle", "reference", shown, "digest", index.Digest.String())
	return &Published{Reference: ref.String(), Digest: index.Digest.String(), Bundle: bun, RelocationMap: relocationMap}, nil
}

// pushImage writes img to target (a tag or a digest reference) and returns
// its descriptor.
func pushImage(ctx context.Context, c *client, target string, img v1.Image) (*v1.Descriptor, error) {
	ref, err := c.parse(target)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid image reference", target)
	}
	if err := remote.Write(ref, img, c.remote...); err != nil {
		return nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{Digest: d, MediaType: mt, Size: int64(len(raw))}, nil
}

// daemonImage returns the image ref names in the local engine, or nil when
// the engine does not hold it or does not answer (the caller falls back to
// a registry).
func daemonImage(ctx context.Context, docker DockerClient, ref string) (v1.Image, error) {
	if _, err := docker.ImageInspect(ctx, ref); err != nil {
		return nil, nil // absent or unreachable: the registry is the source
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid image reference", ref)
	}
	img, err := daemon.Image(r, daemon.WithClient(docker), daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
	if err != nil {
		return nil, fmt.Errorf("read from Docker: %w", err)
	}
	return img, nil
}

// copyBundle returns a deep copy of b.
func copyBundle(b *bundle.Bundle) (*bundle.Bundle, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("copy bundle.json: %w", err)
	}
	var out bundle.Bundle
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("copy bundle.json: %w", err)
	}
	return &out, nil
}
