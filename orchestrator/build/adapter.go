package build

import (
	"context"
	"sync"

	"github.com/cnabio/cnab-go/bundle"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
)

// Builder implements orchestrator.Builder: it builds an app's bundle from
// its directory and makes sure the engine holds its invocation image. Same
// input gives the same image, so an unchanged bundle is not loaded again.
type Builder struct {
	// RuntimesDir holds bundle-runtime and websoft9-runtime.
	RuntimesDir string
	Docker      ImageClient

	mu sync.Mutex
}

var _ orchestrator.Builder = (*Builder)(nil)

// NewBuilder returns a Builder taking runtimes from dir and loading images
// through docker.
func NewBuilder(dir string, docker ImageClient) *Builder {
	return &Builder{RuntimesDir: dir, Docker: docker}
}

// Bundle implements orchestrator.Builder. Builds are serialized, so two
// installs of one app never write its .cnab/bundle.json at once.
func (b *Builder) Bundle(ctx context.Context, app orchestrator.App) (*bundle.Bundle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	res, err := Build(ctx, Options{Dir: app.Dir, RuntimesDir: b.RuntimesDir})
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "build bundle %s: %v", app.Name, err)
	}
	if err := Load(ctx, b.Docker, res); err != nil {
		code := orchestrator.EINTERNAL
		if cerrdefs.IsUnavailable(err) || client.IsErrConnectionFailed(err) {
			code = orchestrator.EUNAVAILABLE
		}
		return nil, orchestrator.WrapError(code, err, "load the invocation image of %s into Docker: %v", app.Name, err)
	}
	return res.Bundle, nil
}
