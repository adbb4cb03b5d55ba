package ocibundle

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/registry"
	dockerclient "github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
)

// InvocationImage returns where the pulled bundle's invocation image is:
// its relocated copy when the index lists one, else bundle.json's image.
func (p *Pulled) InvocationImage() string {
	img := p.Bundle.InvocationImages[0].Image
	if to, ok := p.RelocationMap[img]; ok {
		return to
	}
	return img
}

// maxAppFile bounds one file of /cnab/app copied out of an invocation
// image (manifests, compose files, icons; the binaries stay in the image),
// maxAppTotal and maxAppFiles all of them.
const (
	maxAppFile  = 16 << 20
	maxAppTotal = 256 << 20
	maxAppFiles = 10000
)

// ExtractApp writes the /cnab/app tree of the pulled bundle's invocation
// image (porter.yaml, the compose files, everything the bundle author
// put there) into dir, reading only the image's layers from the registry.
// Directories and regular files only; paths that leave dir are refused.
func ExtractApp(ctx context.Context, p *Pulled, reg Registry, dir string) error {
	imgRef := p.InvocationImage()
	named, err := parseRef(imgRef)
	if err != nil {
		return err
	}
	c, err := reg.connect(ctx, named)
	if err != nil {
		return err
	}
	ref, err := c.parse(imgRef)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "invocation image %q is not a valid reference", imgRef)
	}
	// The digest is checked on what the reference names (a manifest, or
	// an index for a multi-platform image); the files come from this
	// platform's image.
	desc, err := remote.Get(ref, c.remote...)
	if err != nil {
		return classify(err, "pull invocation image "+imgRef, "", "")
	}
	if want := p.Bundle.InvocationImages[0].Digest; want != "" && desc.Digest.String() != want {
		return orchestrator.Errorf(orchestrator.EINVALID, "invocation image %s has digest %s, but the bundle says %s", imgRef, desc.Digest, want)
	}
	img, err := remote.Image(ref, append(c.remote, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))...)
	if err != nil {
		return classify(err, "pull invocation image "+imgRef, "", "")
	}
	return extractApp(img, imgRef, dir)
}

// extractApp writes img's /cnab/app into dir.
func extractApp(img v1.Image, imgRef, dir string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	found := false
	var total int64
	files := 0
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return classify(err, "read invocation image "+imgRef, "", "")
		}
		rel, ok := strings.CutPrefix(path.Clean("/"+hdr.Name), "/cnab/app/")
		if !ok || rel == "" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if hdr.Size > maxAppFile {
				continue
			}
			total += hdr.Size
			files++
			if total > maxAppTotal || files > maxAppFiles {
				return orchestrator.Errorf(orchestrator.EINVALID, "invocation image %s: /cnab/app holds more than %d files or %d MiB", imgRef, maxAppFiles, maxAppTotal>>20)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, io.LimitReader(tr, maxAppFile))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", rel, err)
			}
			found = found || rel == "porter.yaml"
		}
	}
	if !found {
		return orchestrator.Errorf(orchestrator.EINVALID,
			"invocation image %s has no /cnab/app/porter.yaml: StackHub installs Porter bundles", imgRef)
	}
	return nil
}

// ImagePuller is the part of the Docker client PullImage uses.
type ImagePuller interface {
	ImagePull(ctx context.Context, ref string, options dockerclient.ImagePullOptions) (dockerclient.ImagePullResponse, error)
}

// PullImage has Docker pull ref with the credentials the Docker client
// configuration holds for its registry (Docker keeps the repository
// digest, which the run checks against the bundle's contentDigest).
func PullImage(ctx context.Context, docker ImagePuller, ref string, reg Registry) error {
	named, err := parseRef(ref)
	if err != nil {
		return err
	}
	cfg, err := config.Load(reg.ConfigDir)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "read the Docker client configuration")
	}
	host := reference.Domain(named)
	key := host
	if host == "docker.io" {
		key = "https://index.docker.io/v1/" // where docker login keeps Docker Hub's
	}
	a, err := cfg.GetAuthConfig(key)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "credentials for %s", host)
	}
	js, err := json.Marshal(registry.AuthConfig{Username: a.Username, Password: a.Password, ServerAddress: host,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
	if err != nil {
		return err
	}
	resp, err := docker.ImagePull(ctx, named.String(), dockerclient.ImagePullOptions{RegistryAuth: base64.URLEncoding.EncodeToString(js)})
	if err == nil {
		err = resp.Wait(ctx)
		resp.Close()
	}
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return orchestrator.WrapError(orchestrator.ENOTFOUND, err, "Docker could not pull %s: not found in its registry", ref)
	case cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err):
		return orchestrator.WrapError(orchestrator.EUNAUTHORIZED, err, "Docker could not pull %s: the registry refused the credentials (docker login to its host, or set DOCKER_CONFIG)", ref)
	}
	return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "Docker could not pull %s (is its registry reachable from dockerd, and insecure registries allowed for plain HTTP?)", ref)
}
