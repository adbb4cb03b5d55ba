package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/websoft9/stackhub/orchestrator/build"
)

// BuildResult is one bundle's builds and its invocation image.
type BuildResult struct {
	Bundle string `json:"bundle"`
	// Ms is each `stackhub bundle build --no-load` run, exec → exit.
	Ms     []Num  `json:"ms"`
	Digest string `json:"digest"`
	// Layers, CompressedBytes (gzip, what a push sends) and
	// UncompressedBytes (what `docker images` shows) size the image.
	Layers            int   `json:"layers"`
	CompressedBytes   int64 `json:"compressedBytes"`
	UncompressedBytes int64 `json:"uncompressedBytes"`
}

// benchBuilds times `stackhub bundle build --no-load` on a copy of each
// bundle directory (so nothing is written into the repository), BuildRuns
// times, and sizes the image by building it again in process with the same
// builder, checking the digest is the one the CLI printed.
func (b *bench) benchBuilds(ctx context.Context, res *Results) error {
	dirs, err := b.bundleDirs()
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		copyDir := filepath.Join(b.tmp, "build", name)
		if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
			return fmt.Errorf("copy %s: %w", dir, err)
		}
		if err := os.RemoveAll(filepath.Join(copyDir, ".cnab")); err != nil {
			return err
		}
		br := BuildResult{Bundle: name}
		for range b.o.BuildRuns {
			t0 := time.Now()
			out, err := exec.CommandContext(ctx, b.bin, "bundle", "build", "--no-load", "--runtimes-dir", b.runtimes, copyDir).Output()
			d := time.Since(t0)
			if err != nil {
				return fmt.Errorf("bundle build %s: %w", name, exitDetail(err))
			}
			br.Ms = append(br.Ms, ms(d))
			m := buildDigest.FindSubmatch(out)
			if m == nil {
				return fmt.Errorf("bundle build %s printed no digest: %s", name, out)
			}
			br.Digest = string(m[1])
		}
		if err := sizeImage(ctx, copyDir, b.runtimes, &br); err != nil {
			return fmt.Errorf("size %s: %w", name, err)
		}
		b.logf("build %s: %v ms, %d layers, %.1f MiB (%.1f MiB compressed)", name, br.Ms, br.Layers,
			float64(br.UncompressedBytes)/(1<<20), float64(br.CompressedBytes)/(1<<20))
		res.Builds = append(res.Builds, br)
	}
	return nil
}

var buildDigest = regexp.MustCompile(`invocation image: \S+ \((sha256:[0-9a-f]{64})\)`)

// bundleDirs lists the real bundles (subdirectories of Bundles with a
// porter.yaml) and the test catalog's demo, filtered by BuildOnly.
func (b *bench) bundleDirs() ([]string, error) {
	entries, err := os.ReadDir(b.o.Bundles)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		dir := filepath.Join(b.o.Bundles, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "porter.yaml")); e.IsDir() && err == nil {
			dirs = append(dirs, dir)
		}
	}
	dirs = append(dirs, filepath.Join(b.o.Bundles, "testdata", "demo"))
	if len(b.o.BuildOnly) > 0 {
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return !slices.Contains(b.o.BuildOnly, filepath.Base(d)) })
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no bundle to build in %s (build-only %v)", b.o.Bundles, b.o.BuildOnly)
	}
	return dirs, nil
}

// sizeImage builds dir in process and sums its layers.
func sizeImage(ctx context.Context, dir, runtimes string, br *BuildResult) error {
	r, err := build.Build(ctx, build.Options{Dir: dir, RuntimesDir: runtimes})
	if err != nil {
		return err
	}
	digest, err := r.Image.Digest()
	if err != nil {
		return err
	}
	if digest.String() != br.Digest {
		return fmt.Errorf("in-process build gives %s, the CLI printed %s", digest, br.Digest)
	}
	layers, err := r.Image.Layers()
	if err != nil {
		return err
	}
	br.Layers = len(layers)
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			return err
		}
		br.CompressedBytes += size
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
		br.UncompressedBytes += n
	}
	return nil
}
