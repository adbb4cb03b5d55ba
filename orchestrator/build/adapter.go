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
// paths, sizes, modes and times); Load then only checks that the engine
// still has the image.
type Builder struct {
	// RuntimesDir holds bundle-runtime and websoft9-runtime.
	RuntimesDir string
	Docker      ImageClient

	mu    sync.Mutex
	cache map[string]cachedBuild
}

type cachedBuild struct {
	key string
	res *Result
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
	c, ok := b.cache[app.Name]
	if !ok || c.key != key {
		res, err := Build(ctx, Options{Dir: app.Dir, RuntimesDir: b.RuntimesDir})
		if err != nil {
			return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bundle %s cannot be built (see the server log)", app.Name)
		}
		c = cachedBuild{key: key, res: res}
		b.cache[app.Name] = c
	}
	if err := Load(ctx, b.Docker, c.res); err != nil {
		code := orchestrator.EINTERNAL
		if cerrdefs.IsUnavailable(err) || client.IsErrConnectionFailed(err) {
			code = orchestrator.EUNAVAILABLE
		}
		return nil, orchestrator.WrapError(code, err, "the invocation image of %s cannot be loaded into Docker", app.Name)
	}
	return c.res.Bundle, nil
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
