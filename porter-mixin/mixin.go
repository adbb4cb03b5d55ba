package portermixin

import (
	"context"
	"io"
	"os"
	"path/filepath"
)

// Name is the mixin's name as Porter knows it.
const Name = "websoft9"

// Version and Commit are stamped at build time with -ldflags.
var (
	Version = "v0.1.0"
	Commit  = "dev"
)

// DefaultOutputsDir is where step outputs go inside an invocation image.
const DefaultOutputsDir = "/cnab/app/porter/outputs"

// Mixin runs the websoft9 verbs. Its I/O and directories are fields so tests
// can replace them.
type Mixin struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Getenv reads the process environment.
	Getenv func(string) string
	// WorkDir is the directory relative compose paths resolve against
	// (/cnab/app in an invocation image).
	WorkDir string
	// OutputsDir receives one file per step output.
	OutputsDir string
	// Compose brings projects up and down; New sets the SDK-backed one.
	Compose Composer
}

// Composer is the part of the compose SDK the runtime verbs use.
type Composer interface {
	// Up loads the compose file of p, checks it with p.Check, and brings the
	// project up, waiting for health up to p.Wait.
	Up(ctx context.Context, p Plan) error
	// Down removes the project's containers and networks, and its volumes
	// when p.Purge is set. p.ComposeFile may be empty.
	Down(ctx context.Context, p Plan) error
}

// New returns a Mixin on the process's standard streams, working in the
// current directory and writing outputs to /cnab/app/porter/outputs.
func New() *Mixin {
	wd, _ := os.Getwd()
	return &Mixin{
		In:         os.Stdin,
		Out:        os.Stdout,
		Err:        os.Stderr,
		Getenv:     os.Getenv,
		WorkDir:    wd,
		OutputsDir: DefaultOutputsDir,
	}
}

func (m *Mixin) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(m.WorkDir, p)
}
