package ocibundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-to-oci/relocation"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	dockerclient "github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Loaded is a bundle read from an archive whose images are in Docker.
type Loaded struct {
	// Bundle is the archive's bundle.json.
	Bundle *bundle.Bundle
	// RelocationMap maps each image of bundle.json to the tag it was
	// loaded under in Docker (see the package doc).
	RelocationMap relocation.ImageRelocationMap
	// InvocationID is the Docker image ID of the invocation image: its
	// content, which a run may name instead of a tag.
	InvocationID string
}

// archived is one verified image of an archive.
type archived struct {
	what, ref string // for messages; the image as in bundle.json
	digest    string
	image     v1.Image // the platform image to load
}

// ReadArchive unpacks and verifies an archive without Docker: bundle.json,
// every image's manifest against its contentDigest, and every config and
// layer blob against its manifest. It returns the bundle.
//
// Returns EINVALID for anything that is not such an archive, an image
// without contentDigest, an image missing from the layout, or a digest
// mismatch.
func ReadArchive(ctx context.Context, r io.Reader) (*bundle.Bundle, error) {
	b, _, cleanup, err := readArchive(ctx, r)
	cleanup()
	return b, err
}

// LoadArchive reads an archive written by [Archive] (or `porter archive`),
// verifies it as [ReadArchive] does, and only then loads every image into
// Docker (docker load), so that an engine with no registry can run the
// bundle. Images already present (same image ID) are only tagged.
//
// Returns the errors of [ReadArchive], EUNAVAILABLE when Docker does not
// answer, and EINTERNAL-class wrapped errors when Docker refuses a load.
func LoadArchive(ctx context.Context, r io.Reader, docker DockerClient) (*Loaded, error) {
	return loadArchive(ctx, r, docker, "", nil)
}

// ImportArchive is LoadArchive for the server: it also writes the
// invocation image's /cnab/app (porter.yaml, compose files) into appDir, as
// ExtractApp does for a pulled bundle, and it loads every image under a
// name of its own (ImportTag), never under the archive's: an uploaded
// archive cannot replace an image the host already runs (mariadb:10.11 of
// another app), and the bundle runs its images through the relocation map.
// Before any image is loaded it refuses a bundle the engine cannot run, and
// one accept refuses (nil accepts all): accept sees the bundle and appDir,
// already written.
func ImportArchive(ctx context.Context, r io.Reader, docker DockerClient, appDir string, accept func(b *bundle.Bundle, appDir string) error) (*Loaded, error) {
	return loadArchive(ctx, r, docker, appDir, accept)
}

func loadArchive(ctx context.Context, r io.Reader, docker DockerClient, appDir string, accept func(*bundle.Bundle, string) error) (*Loaded, error) {
	b, images, cleanup, err := readArchive(ctx, r)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	if appDir != "" {
		// Importing: refuse a bundle the engine cannot run before any of
		// its images reaches Docker.
		if err := naming.ValidateApp(b.Name); err != nil {
			return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "archive: the bundle's name cannot name an app")
		}
		if err := orchestrator.CheckBundle(b); err != nil {
			return nil, err
		}
		// The app's files come from the invocation image as read, so that
		// accept may look at them before anything reaches Docker.
		inv := images[len(images)-1] // checked last by readArchive
		if err := extractApp(inv.image, inv.ref, appDir); err != nil {
			return nil, err
		}
		if accept != nil {
			if err := accept(b, appDir); err != nil {
				return nil, err
			}
		}
	}
	rm := relocation.ImageRelocationMap{}
	for _, a := range images {
		tagOf := localTag
		if appDir != "" {
			tagOf = ImportTag
		}
		tag, err := tagOf(a.ref)
		if err != nil {
			return nil, fmt.Errorf("load archive: %s %s: %w", a.what, a.ref, err)
		}
		if err := loadImage(ctx, docker, tag, a.image); err != nil {
			return nil, fmt.Errorf("load archive: %s %s: %w", a.what, a.ref, err)
		}
		rm[a.ref] = tag
	}
	loaded := &Loaded{Bundle: b, RelocationMap: rm}
	// The invocation image is checked last by readArchive.
	inv := images[len(images)-1]
	// The ID Docker gives it: the config digest, or the manifest digest
	// with the containerd image store (loadImage checked it is one of
	// them).
	res, err := docker.ImageInspect(ctx, rm[inv.ref])
	if err != nil {
		return nil, dockerError(err, "inspect the loaded invocation image")
	}
	loaded.InvocationID = res.ID
	return loaded, nil
}

func readArchive(ctx context.Context, r io.Reader) (*bundle.Bundle, []archived, func(), error) {
	dir, err := os.MkdirTemp("", "stackhub-archive-*")
	if err != nil {
		return nil, nil, func() {}, fmt.Errorf("read archive: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	fail := func(err error) (*bundle.Bundle, []archived, func(), error) {
		if _, ok := errors.AsType[*orchestrator.Error](err); ok {
			return nil, nil, cleanup, err
		}
		return nil, nil, cleanup, fmt.Errorf("read archive: %w", err)
	}
	if err := extractTarGz(r, dir, DefaultLimits); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if err != nil {
		return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: not a CNAB archive: no %s", BundleFile))
	}
	b, err := bundle.Unmarshal(data)
	if err != nil {
		return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: %s is not a bundle", BundleFile))
	}
	if len(b.InvocationImages) != 1 {
		return fail(orchestrator.Errorf(orchestrator.EINVALID, "read archive: bundle.json has %d invocation images, want 1", len(b.InvocationImages)))
	}
	rm := relocation.ImageRelocationMap{}
	if data, err := os.ReadFile(filepath.Join(dir, RelocationFile)); err == nil {
		if err := json.Unmarshal(data, &rm); err != nil {
			return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: %s", RelocationFile))
		}
	}
	lp, err := layout.FromPath(filepath.Join(dir, filepath.FromSlash(LayoutDir)))
	if err != nil {
		return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: not a CNAB archive: no OCI layout in %s", LayoutDir))
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: %s/index.json", LayoutDir))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fail(orchestrator.WrapError(orchestrator.EINVALID, err, "read archive: %s/index.json", LayoutDir))
	}

	var out []archived
	check := func(what string, img bundle.BaseImage) error {
		a, err := verifyImage(lp, im, rm, what, img)
		if err != nil {
			return err
		}
		out = append(out, *a)
		return nil
	}
	for _, alias := range slices.Sorted(maps.Keys(b.Images)) {
		if err := check("image "+alias, b.Images[alias].BaseImage); err != nil {
			return fail(err)
		}
	}
	if err := check("invocation image", b.InvocationImages[0].BaseImage); err != nil {
		return fail(err)
	}
	return b, out, cleanup, nil
}

// verifyImage finds img in the layout (by the ref.name annotation of its
// relocated reference, else by digest), checks the manifest blob hashes to
// contentDigest, picks the platform image of an index, and validates its
// config and layers.
func verifyImage(lp layout.Path, im *v1.IndexManifest, rm relocation.ImageRelocationMap, what string, img bundle.BaseImage) (*archived, error) {
	prefix := fmt.Sprintf("read archive: %s %s", what, img.Image)
	if img.Digest == "" {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s: no contentDigest in bundle.json, so it cannot be verified", prefix)
	}
	want, err := v1.NewHash(img.Digest)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: bad contentDigest %q", prefix, img.Digest)
	}
	loc := img.Image
	if l, ok := rm[img.Image]; ok {
		loc = l
	}
	var desc *v1.Descriptor
	for i, d := range im.Manifests {
		if d.Annotations[RefNameAnnotation] == loc {
			desc = &im.Manifests[i]
			break
		}
	}
	if desc == nil {
		for i, d := range im.Manifests {
			if d.Digest == want {
				desc = &im.Manifests[i]
				break
			}
		}
	}
	if desc == nil {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s: missing from the archive's layout", prefix)
	}
	if desc.Digest != want {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%s: digest mismatch: bundle.json says %s, the layout holds %s", prefix, want, desc.Digest)
	}
	if err := verifyBlob(lp, want); err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: digest mismatch: %v", prefix, err)
	}
	h := want
	if desc.MediaType.IsIndex() {
		child, err := lp.ImageIndex()
		if err == nil {
			var ii v1.ImageIndex
			if ii, err = child.ImageIndex(want); err == nil {
				h, err = platformManifest(ii)
			}
		}
		if err != nil {
			return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: multi-platform index", prefix)
		}
		if err := verifyBlob(lp, h); err != nil {
			return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: digest mismatch: %v", prefix, err)
		}
	}
	image, err := lp.Image(h)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: read from the layout", prefix)
	}
	if err := validate.Image(image); err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: digest mismatch: a blob does not match its manifest", prefix)
	}
	return &archived{what: what, ref: img.Image, digest: want.String(), image: image}, nil
}

// verifyBlob checks that the layout's blob h hashes to h.
func verifyBlob(lp layout.Path, h v1.Hash) error {
	rc, err := lp.Blob(h)
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	defer rc.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, rc); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); h.Algorithm != "sha256" || got != h.String() {
		return fmt.Errorf("blob %s hashes to %s", h, got)
	}
	return nil
}

// platformManifest returns the manifest of ii for linux/GOARCH.
func platformManifest(ii v1.ImageIndex) (v1.Hash, error) {
	m, err := ii.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return d.Digest, nil
		}
	}
	return v1.Hash{}, fmt.Errorf("no linux/%s image in it", runtime.GOARCH)
}

// localTag is the tag an archived image is loaded under: its own reference
// when that has a tag, else <repository>:<algorithm>-<hex>.
func localTag(ref string) (string, error) {
	named, err := parseImageRef(ref)
	if err != nil {
		return "", err
	}
	tagged, err := reference.WithTag(reference.TrimNamed(named), tagOf(named))
	if err != nil {
		return "", err
	}
	return reference.FamiliarString(tagged), nil
}

// ImportPrefix is the repository prefix of the images ImportArchive loads.
const ImportPrefix = "stackhub.local/import/"

// ImportTag is the tag ImportArchive loads an archived image under:
// ImportPrefix, the reference's registry (a port's colon made a dash) and
// path, and the tag localTag would give, e.g.
// stackhub.local/import/docker.io/library/mariadb:10.11.
func ImportTag(ref string) (string, error) {
	named, err := parseImageRef(ref)
	if err != nil {
		return "", err
	}
	repo := ImportPrefix + strings.ReplaceAll(reference.Domain(named), ":", "-") + "/" + reference.Path(named)
	out, err := reference.ParseNormalizedNamed(repo + ":" + tagOf(named))
	if err != nil {
		return "", orchestrator.WrapError(orchestrator.EINVALID, err, "%q cannot be imported under %s", ref, ImportPrefix)
	}
	return out.String(), nil
}

func parseImageRef(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid image reference", ref)
	}
	return named, nil
}

// tagOf is the tag an image is loaded under: the reference's own, else
// <algorithm>-<hex> of its digest, else latest.
func tagOf(named reference.Named) string {
	if t, ok := named.(reference.Tagged); ok {
		return t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		return string(d.Digest().Algorithm()) + "-" + d.Digest().Encoded()
	}
	return "latest"
}

// loadImage loads img into Docker under tag and checks that tag then names
// it (image ID = config digest, or manifest digest with the containerd
// image store).
func loadImage(ctx context.Context, docker DockerClient, tag string, img v1.Image) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid tag", tag)
	}
	if _, err := daemon.Write(t, img, daemon.WithClient(docker), daemon.WithContext(ctx)); err != nil {
		return dockerError(err, "docker load "+tag)
	}
	res, err := docker.ImageInspect(ctx, tag)
	if err != nil {
		return dockerError(err, "inspect "+tag+" after loading")
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return err
	}
	mf, err := img.Digest()
	if err != nil {
		return err
	}
	if res.ID != cfg.String() && res.ID != mf.String() {
		return fmt.Errorf("after docker load, %s names image %s, not %s", tag, res.ID, cfg)
	}
	return nil
}

// dockerError classifies a Docker client error.
func dockerError(err error, step string) error {
	if dockerclient.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err) || isUnreachable(err) {
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "%s: Docker does not answer", step)
	}
	return fmt.Errorf("%s: %w", step, err)
}
