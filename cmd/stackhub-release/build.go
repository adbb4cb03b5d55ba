package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// binary is one program a release ships.
type binary struct {
	// Name is the file's name in the package (and, with -linux-ARCH, in dist/).
	Name string
	// Pkg is the Go package it is built from.
	Pkg string
	// Dest is where the .deb installs it; "" leaves it out of the package.
	Dest string
	// CopyOf names a binary built before that this one is a copy of.
	CopyOf string
}

// binaries are the release's programs. websoft9-runtime is the mixin built
// again under the name the bundle images run; /usr/lib/stackhub is serve's
// --runtimes-dir in the package.
var binaries = []binary{
	{Name: "stackhub", Pkg: "./cmd/stackhub", Dest: "/usr/bin/stackhub"},
	// The mixin's client, for Porter users (make mixin-dist): serve needs
	// only its runtime.
	{Name: "websoft9", Pkg: "./cmd/websoft9"},
	{Name: "websoft9-runtime", CopyOf: "websoft9", Dest: "/usr/lib/stackhub/websoft9-runtime"},
	{Name: "bundle-runtime", Pkg: "./cmd/bundle-runtime", Dest: "/usr/lib/stackhub/bundle-runtime"},
	// The node volume helper: serve makes the image stackhub/volumes:1 of
	// it on a Swarm manager's engine (docs/swarm-apps.md).
	{Name: "stackhub-volumes", Pkg: "./cmd/stackhub-volumes", Dest: "/usr/lib/stackhub/stackhub-volumes"},
}

// mixinPkg holds the mixin's Version and Commit.
const mixinPkg = "github.com/websoft9/stackhub/porter-mixin"

// ldflags stamps a binary: main.version/commit/date for every program,
// and the mixin's own Version and Commit (its `websoft9 version`).
func ldflags(s Stamp) string {
	date := s.Date.UTC().Format(time.RFC3339)
	return fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s -X %s.Version=%s -X %s.Commit=%s",
		s.Version, s.Commit, date, mixinPkg, s.Version, mixinPkg, s.Commit)
}

// goBuild builds pkg for linux/arch into out, static (CGO_ENABLED=0) and
// without the machine's paths (-trimpath), so one commit builds the same
// bytes anywhere with one Go version.
func goBuild(ctx context.Context, root, arch, pkg, out string, s Stamp, log io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags(s), "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w", pkg, arch, err)
	}
	return nil
}

// buildArch builds every binary for arch into dir, named as in the package.
func buildArch(ctx context.Context, root, arch, dir string, s Stamp, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, b := range binaries {
		fmt.Fprintf(log, "stackhub-release: %s %s linux/%s\n", b.Name, s.Version, arch)
		if b.CopyOf != "" {
			if err := copyFile(filepath.Join(dir, b.CopyOf), filepath.Join(dir, b.Name), 0o755); err != nil {
				return err
			}
			continue
		}
		if err := goBuild(ctx, root, arch, b.Pkg, filepath.Join(dir, b.Name), s, log); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies from to to with mode perm.
func copyFile(from, to string, perm os.FileMode) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, perm)
}
