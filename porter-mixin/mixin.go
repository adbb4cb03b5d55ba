package portermixin

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"io"
	"os"
	"slices"
)

// Name is the mixin's name as Porter knows it.
const Name = "websoft9"

// Version and Commit are stamped at build time with -ldflags -X. Version
// must parse as semver (Porter checks `websoft9@<constraint>` against it).
var (
	Version = "v0.1.0"
	Commit  = "dev"
)

// DefaultOutputsDir is where step outputs go inside an invocation image.
const DefaultOutputsDir = "/cnab/app/porter/outputs"

// Mixin runs the websoft9 verbs. Its I/O, environment and directories are
// fields so tests can replace them. A Mixin serves one verb; it is not
// safe for concurrent use.
type Mixin struct {
	// In carries the verb's input (BuildInput YAML for build and lint, the
	// step for the runtime verbs).
	In io.Reader
	// Out receives results (version, schema, build, lint) or, for the
	// runtime verbs, log lines and event lines (events.Prefix).
	Out io.Writer
	// Err receives nothing from the verbs themselves: the caller prints the
	// returned error there.
	Err io.Writer
	// Getenv reads the process environment.
	Getenv func(string) string
	// WorkDir is the directory relative compose paths resolve against and
	// the project directory (/cnab/app in an invocation image).
	WorkDir string
	// OutputsDir receives one file per step output.
	OutputsDir string
	// Compose acts on compose projects; cmd/websoft9 sets the SDK-backed one.
	Compose Composer
	// Exec runs a step's exec commands (install and upgrade); cmd/websoft9
	// sets the same SDK. A step with exec fails when it is nil.
	Exec Execer
}

// Composer is what the runtime verbs need from compose. Every method names
// the step in its errors' context through the caller; implementations
// report progress as events on their own writer.
type Composer interface {
	// Up builds the project of p (compose file or inline services), checks
	// it (see Check), and converges it: creates what is missing, recreates
	// only services whose configuration changed, keeps named volumes, and
	// waits up to p.Wait for services to be healthy or running. p.Start
	// limits it to those services and their dependencies.
	Up(ctx context.Context, p Plan) error
	// Down removes the project's containers and networks, and its named
	// volumes only when p.Purge is set. The model is optional.
	Down(ctx context.Context, p Plan) error
	// Start starts the project's stopped containers (p.Start: only those
	// services and their dependencies) and waits up to p.Wait.
	Start(ctx context.Context, p Plan) error
	// Stop stops the project's containers (p.Start: only those services).
	Stop(ctx context.Context, p Plan) error
	// Restart restarts the project's containers (p.Start: only those services).
	Restart(ctx context.Context, p Plan) error
	// Inspect returns `docker inspect` of the container of service in the
	// project of p, as raw JSON.
	Inspect(ctx context.Context, p Plan, service string) (json.RawMessage, error)
}

// New returns a Mixin on the process's standard streams, working in the
// current directory and writing outputs to DefaultOutputsDir. Compose is
// left nil: the client verbs do not need it.
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

// emit writes one event line to m.Out.
func (m *Mixin) emit(e events.Event) {
	_, _ = m.Out.Write(events.Format(e))
}

// logf writes one human log line to m.Out.
func (m *Mixin) logf(format string, a ...any) {
	fmt.Fprintf(m.Out, Name+": "+format+"\n", a...)
}

// run brackets a runtime verb with begin and done/failed events, and
// warns about the step fields it ignores.
func (m *Mixin) run(in stepInput, do func() error) error {
	for _, f := range in.Unknown {
		m.logf("warning: %s step %q: unknown field %s ignored", in.Action, in.Step.Description, f)
	}
	if len(in.Step.Exec) > 0 && !slices.Contains(execActions, in.Action) {
		m.logf("warning: %s step %q: exec ignored: only install and upgrade run it", in.Action, in.Step.Description)
	}
	app := in.Step.App
	m.emit(events.Event{Stage: events.StageBegin, Action: in.Action, App: app})
	if err := do(); err != nil {
		m.emit(events.Event{Stage: events.StageFailed, Action: in.Action, App: app, Message: err.Error()})
		return err
	}
	m.emit(events.Event{Stage: events.StageDone, Action: in.Action, App: app})
	return nil
}
