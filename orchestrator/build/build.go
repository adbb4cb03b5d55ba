package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cnabio/cnab-go/bundle"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Options says what Build builds.
type Options struct {
	// Dir is the bundle directory: porter.yaml and the files its steps use
	// (compose files and the like). Build writes Dir/.cnab/bundle.json.
	Dir string
	// RuntimesDir holds the programs copied into the image: bundle-runtime
	// (→ /cnab/app/run) and <mixin>-runtime for each declared mixin (→
	// /cnab/app/mixins/<mixin>/runtimes/<mixin>-runtime). Each must be a
	// static linux/amd64 executable.
	RuntimesDir string
	// BundleOptions are the versions recorded in bundle.json's stamp.
	BundleOptions
}

// Result is a built bundle. Its fields describe the same build and are not
// modified by this package afterwards.
type Result struct {
	// Manifest is Dir/porter.yaml, parsed.
	Manifest *manifest.Manifest
	// Reference is the bundle's OCI reference (see [Reference]).
	Reference string
	// Bundle is bundle.json as a reader of BundleJSON sees it.
	Bundle *bundle.Bundle
	// BundleJSON is canonical bundle.json, as written to Dir/.cnab/bundle.json
	// and /cnab/bundle.json in the image.
	BundleJSON []byte
	// Image is the invocation image, held in memory.
	Image v1.Image
	// ImageRef is the tag to load the image under:
	// Bundle.InvocationImages[0].Image.
	ImageRef string
}

// Build does what `porter build` does for a bundle directory, without
// Docker: it parses opts.Dir/porter.yaml, generates bundle.json ([Bundle]),
// assembles the invocation image FROM scratch in memory and writes
// opts.Dir/.cnab/bundle.json (creating .cnab). Building unchanged input
// again gives byte-identical bundle.json and the same image digest. It
// reads the bundle files and runtimes once; the image is not loaded
// anywhere (see [Load]).
//
// Errors name the step: the manifest cannot be read or parsed, bundle.json
// cannot be generated (see [Bundle]), a runtime is missing or is not a
// static linux/amd64 executable, a mixin other than websoft9 is declared, a
// bundle file sits on a path the runtime owns (run, mixins/, outputs/,
// porter/outputs/) or is not a regular file, directory or symlink, or
// ctx is done.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Dir == "" {
		return nil, errors.New("build: the bundle directory is not set")
	}
	raw, err := os.ReadFile(filepath.Join(opts.Dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", opts.Dir, err)
	}
	b, data, err := generate(m, opts.BundleOptions)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	ref, err := Reference(m)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	img, err := assemble(ctx, m, opts, data)
	if err != nil {
		return nil, fmt.Errorf("build %s: invocation image: %w", m.Name, err)
	}
	if err := writeBundleJSON(opts.Dir, data); err != nil {
		return nil, fmt.Errorf("build %s: %w", m.Name, err)
	}
	return &Result{
		Manifest:   m,
		Reference:  ref,
		Bundle:     b,
		BundleJSON: data,
		Image:      img,
		ImageRef:   b.InvocationImages[0].Image,
	}, nil
}

// writeBundleJSON replaces dir/.cnab/bundle.json atomically.
func writeBundleJSON(dir string, data []byte) error {
	gen := filepath.Join(dir, GeneratedDir)
	if err := os.MkdirAll(gen, 0o755); err != nil {
		return fmt.Errorf("write bundle.json: %w", err)
	}
	tmp, err := os.CreateTemp(gen, ".bundle.json-*")
	if err != nil {
		return fmt.Errorf("write bundle.json: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write bundle.json: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write bundle.json: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bundle.json: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(gen, "bundle.json")); err != nil {
		return fmt.Errorf("write bundle.json: %w", err)
	}
	return nil
}
