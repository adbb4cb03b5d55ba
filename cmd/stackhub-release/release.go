package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options is one release build.
type Options struct {
	// Version is the release's version (git describe's when empty).
	Version string
	// Arches are the Linux architectures built: amd64, arm64.
	Arches []string
	// Out is the release directory; its files are replaced.
	Out string
	// Root is the repository's root.
	Root string
	// Log receives progress and the compilers' output.
	Log io.Writer
}

// Release builds the release into opts.Out and returns its files:
// per architecture the four binaries as NAME-linux-ARCH and the .deb,
// then install.sh and SHA256SUMS (of all the others).
func Release(ctx context.Context, opts Options) ([]string, error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	stamp, err := gitStamp(ctx, root, opts.Version)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var made []string
	for _, arch := range opts.Arches {
		if !slices.Contains([]string{"amd64", "arm64"}, arch) {
			return nil, fmt.Errorf("arch %q: want amd64 or arm64", arch)
		}
		bin := filepath.Join(out, "build", arch)
		if err := buildArch(ctx, root, arch, bin, stamp, opts.Log); err != nil {
			return nil, err
		}
		for _, b := range binaries {
			dst := filepath.Join(out, b.Name+"-linux-"+arch)
			if err := copyFile(filepath.Join(bin, b.Name), dst, 0o755); err != nil {
				return nil, err
			}
			made = append(made, dst)
		}
		deb, err := Deb(DebOptions{Stamp: stamp, Arch: arch, BinDir: bin, Packaging: filepath.Join(root, "packaging", "deb"), Out: out})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "stackhub-release: %s\n", deb)
		made = append(made, deb)
		if err := os.RemoveAll(bin); err != nil {
			return nil, err
		}
	}
	if err := os.Remove(filepath.Join(out, "build")); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	install := filepath.Join(out, "install.sh")
	if err := copyFile(filepath.Join(root, "packaging", "install.sh"), install, 0o755); err != nil {
		return nil, err
	}
	made = append(made, install)
	sums, err := writeSums(out, made)
	if err != nil {
		return nil, err
	}
	return append(made, sums), nil
}

// writeSums writes dir/SHA256SUMS over files (all in dir), in the format
// `sha256sum -c` reads.
func writeSums(dir string, files []string) (string, error) {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(f))
	}
	path := filepath.Join(dir, "SHA256SUMS")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
