package orchestrator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Deps are the adapters an Engine drives.
type Deps struct {
	Catalog       Catalog
	Builder       Builder
	Runner        Runner
	Host          Host
	Installations Installations
	Runs          Runs
	Logger        *slog.Logger
	// RunLogDir receives one <run id>.log per run with the bundle's output.
	RunLogDir string
	Now       Clock
	NewID     IDGen
}

// Engine is StackHub's use cases: install, uninstall, info. It is safe for
// concurrent use; the store's constraints arbitrate races.
type Engine struct {
	d    Deps
	log  *slog.Logger
	jobs *Jobs
}

// New returns an Engine over d.
func New(d Deps) *Engine {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{d: d, log: log.With("component", "engine"), jobs: NewJobs()}
}

// Shutdown stops taking jobs, cancels running ones when ctx ends, and waits
// for them to record their outcome.
func (e *Engine) Shutdown(ctx context.Context) { e.jobs.Shutdown(ctx) }

func validateName(field, name string) error {
	if err := naming.ValidateApp(name); err != nil {
		return WrapError(EINVALID, err, "%s: %s", field, err.Error())
	}
	return nil
}

// runLog opens the log of run id; output goes nowhere if it cannot be made.
func (e *Engine) runLog(id string) io.WriteCloser {
	if e.d.RunLogDir == "" {
		return nopCloser{io.Discard}
	}
	f, err := os.OpenFile(filepath.Join(e.d.RunLogDir, id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		e.log.Warn("run log", "run", id, "err", err)
		return nopCloser{io.Discard}
	}
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// RunLog returns the output of run id.
func (e *Engine) RunLog(id string) ([]byte, error) {
	if err := validateName("run", id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(e.d.RunLogDir, id+".log"))
	if err != nil {
		return nil, WrapError(ENOTFOUND, err, "no log for run %s", id)
	}
	return b, nil
}

// Info returns the installation called name. Returns EINVALID for a bad
// name and ENOTFOUND when nothing of that name is installed.
func (e *Engine) Info(ctx context.Context, name string) (Installation, error) {
	if err := validateName("appName", name); err != nil {
		return Installation{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return Installation{}, fmt.Errorf("info %s: %w", name, err)
	}
	return inst, nil
}
