package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/cnabio/cnab-go/bundle"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
)

// Builder implements orchestrator.Builder: it builds an app's bundle from
// its directory and makes sure the engine holds its invocation image. A
// build is reused while the bundle files and runtimes are unchanged (same
// paths, sizes, modes and times) and the engine still has its image; only
// the bundle and the image's IDs are kept, not the image (30 MiB each), so
// a bundle whose image left the engine is built again.
type Builder struct {
	// RuntimesDir holds bundle-runtime and websoft9-runtime.
	RuntimesDir string
	Docker      ImageClient
	// AfterBuild, when set, is called after each build that ran (not a
	// reuse), whether it succeeded or not. A build holds the image's
	// layers in memory; the server hands that memory back here.
	AfterBuild func()

	mu    sync.Mutex
	cache map[string]cachedBuild
}

type cachedBuild struct {
	key    string
	bundle *bundle.Bundle
	ref    string
	ids    map[string]bool
}

var _ orchestrator.Builder = (*Builder)(nil)

// NewBuilder returns a Builder taking runtimes from dir and loading images
// through docker.
func NewBuilder(dir string, docker ImageClient) *Builder {
	return &Builder{RuntimesDir: dir, Docker: docker, cache: map[string]cachedBuild{}}
}

// Bundle implements orchestrator.Builder. Builds are serialized, so two
// installs of one app never write its .cnab/bundle.json at once.
func (b *Builder) Bundle(ctx context.Context, app orchestrator.App) (*bundle.Bundle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key, err := fingerprint(app.Dir, b.RuntimesDir)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bundle %s cannot be built (see the server log)", app.Name)
	}
	if c, ok := b.cache[app.Name]; ok && c.key == key {
		id, err := imageID(ctx, b.Docker, c.ref)
		if err != nil {
			return nil, loadError(app, err)
		}
		if c.ids[id] {
			return c.bundle, nil
		}
	}
	if b.AfterBuild != nil {
		defer b.AfterBuild()
	}
	res, err := Build(ctx, Options{Dir: app.Dir, RuntimesDir: b.RuntimesDir})
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bundle %s cannot be built (see the server log)", app.Name)
	}
	ids, err := imageIDs(res.Image)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bundle %s cannot be built (see the server log)", app.Name)
	}
	if err := Load(ctx, b.Docker, res); err != nil {
		return nil, loadError(app, err)
	}
	b.cache[app.Name] = cachedBuild{key: key, bundle: res.Bundle, ref: res.ImageRef, ids: ids}
	return res.Bundle, nil
}

func loadError(app orchestrator.App, err error) error {
	code := orchestrator.EINTERNAL
	if cerrdefs.IsUnavailable(err) || client.IsErrConnectionFailed(err) {
		code = orchestrator.EUNAVAILABLE
	}
	return orchestrator.WrapError(code, err, "the invocation image of %s cannot be loaded into Docker", app.Name)
}

// fingerprint summarises what a build reads: every file of the bundle
// directory but .cnab/, and the runtimes, by path, mode, size and time.
// Directories themselves do not count: writing .cnab/ changes their times.
func fingerprint(dir, runtimes string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == GeneratedDir && path != dir {
				return fs.SkipDir
			}
			return nil // a directory's time changes with .cnab/; its files count
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\n", path, info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, f := range []string{BundleRuntime, "websoft9-runtime"} {
		info, err := os.Stat(filepath.Join(runtimes, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\n", f, info.Mode(), info.Size(), info.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
