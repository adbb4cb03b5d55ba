package portermixin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ExecSpec is one entry of a step's exec list: a command run inside the
// container of a service once install or upgrade has brought every service
// up and healthy. The entries run in list order; the first that fails
// fails the step.
type ExecSpec struct {
	// Service is a service of the compose model; its container runs the
	// command.
	Service string `yaml:"service"`
	// Command is the argv, run as it is: no shell parses it, so bundle and
	// user data belong in PassEnv or Env, never pasted into a shell string.
	Command Argv `yaml:"command"`
	// PassEnv names variables of the invocation image's environment (a
	// parameter site_title is SITE_TITLE) given to the command's
	// environment as they are: never rendered into the step's YAML, never
	// logged.
	PassEnv []string `yaml:"passEnv"`
	// Env holds literal scalars (usually rendered templates) given to the
	// command's environment.
	Env map[string]any `yaml:"env"`
	// User runs the command as this user (name or uid[:gid]) instead of the
	// container's.
	User string `yaml:"user"`
}

// Argv is a command as a list of arguments. It refuses a single string:
// an exec command is never a shell string.
type Argv []string

// UnmarshalYAML implements yaml.Unmarshaler: a sequence of scalars, each
// taken as written (5 is "5").
func (a *Argv) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*a = nil
			return nil
		}
		return fmt.Errorf("line %d: command must be a list of arguments, such as [rails, runner, \"...\"], not the string %q: no shell parses it", n.Line, n.Value)
	default:
		return fmt.Errorf("line %d: command must be a list of arguments", n.Line)
	}
	out := make(Argv, 0, len(n.Content))
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			return fmt.Errorf("line %d: command argument %d must be a string", item.Line, len(out)+1)
		}
		out = append(out, item.Value)
	}
	*a = out
	return nil
}

// ExecCommand is an exec entry resolved for a run.
type ExecCommand struct {
	Service string
	Command []string
	// Env is the command's added environment as KEY=value, sorted by key:
	// the entry's env and its passEnv variables with their values.
	Env  []string
	User string
}

// Execer runs commands in the containers of a compose project. It is
// apart from Composer because only install and upgrade need it.
type Execer interface {
	// Exec runs c in the container of c.Service in the project of p,
	// without a TTY or stdin and never privileged, writes its stdout and
	// stderr to out as they come, and returns its exit code once it has
	// ended. An error means the command could not be run or followed (no
	// such container, Docker refused, ctx done), not that it failed.
	Exec(ctx context.Context, p Plan, c ExecCommand, out io.Writer) (int, error)
}

// execActions are the actions whose steps run their exec entries.
var execActions = []string{"install", "upgrade"}

// resolve checks e and gives its passEnv variables their values from
// getenv.
func (e ExecSpec) resolve(getenv func(string) string) (ExecCommand, error) {
	switch {
	case e.Service == "":
		return ExecCommand{}, errors.New("service is required: the service whose container runs the command")
	case len(e.Command) == 0 || e.Command[0] == "":
		return ExecCommand{}, errors.New("command is required: the program and its arguments, such as [rails, runner, \"...\"]")
	}
	env := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		if !envName.MatchString(k) {
			return ExecCommand{}, fmt.Errorf("env %q is not an environment variable name", k)
		}
		v, err := scalarString(e.Env[k])
		if err != nil {
			return ExecCommand{}, fmt.Errorf("env %s: %v", k, err)
		}
		env[k] = v
	}
	for _, k := range e.PassEnv {
		if err := checkPassEnv(k, e.Env, env); err != nil {
			return ExecCommand{}, err
		}
		env[k] = getenv(k)
	}
	c := ExecCommand{Service: e.Service, Command: slices.Clone(e.Command), User: e.User}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		c.Env = append(c.Env, k+"="+env[k])
	}
	return c, nil
}

// checkPassEnv reports why k cannot be a passEnv variable of an exec entry
// whose env is literal and whose variables so far are seen.
func checkPassEnv(k string, literal map[string]any, seen map[string]string) error {
	if !envName.MatchString(k) {
		return fmt.Errorf("passEnv %q is not an environment variable name", k)
	}
	if _, dup := literal[k]; dup {
		return fmt.Errorf("passEnv %s is also in env: give it one source", k)
	}
	if _, dup := seen[k]; dup {
		return fmt.Errorf("passEnv %s is listed twice", k)
	}
	return nil
}

// runExecs runs the plan's exec commands in order, each command's output
// streamed to m.Out as log lines, and fails at the first command that
// cannot run or exits non-zero, naming its service, its exit code and its
// last lines of output.
func (m *Mixin) runExecs(ctx context.Context, in stepInput, p Plan) error {
	if len(p.Exec) == 0 {
		return nil
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s step %q: %s", in.Action, in.Step.Description, fmt.Sprintf(format, a...))
	}
	if m.Exec == nil {
		return fail("exec: this runtime cannot run commands in containers")
	}
	for i, c := range p.Exec {
		// Only the program is logged: the arguments may hold rendered
		// secrets, which the bundle runtime masks only when whole.
		as := ""
		if c.User != "" {
			as = " as " + c.User
		}
		m.logf("exec %d/%d in service %s%s: %s (%d arguments)", i+1, len(p.Exec), c.Service, as, c.Command[0], len(c.Command)-1)
		out := &execOutput{w: m.Out, prefix: Name + ": " + c.Service + " | "}
		code, err := m.Exec.Exec(ctx, p, c, out)
		if ferr := out.flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("%s step %q: exec %d in service %s: %w", in.Action, in.Step.Description, i+1, c.Service, err)
		}
		if code != 0 {
			last := "it printed nothing"
			if len(out.tail) > 0 {
				last = "its last lines:\n" + strings.Join(out.tail, "\n")
			}
			return fail("exec %d in service %s (%s) exited with code %d; %s", i+1, c.Service, c.Command[0], code, last)
		}
		m.logf("exec %d/%d in service %s: exit code 0", i+1, len(p.Exec), c.Service)
	}
	return nil
}

// Bounds of execOutput: longer lines are cut (and written in pieces), and
// the error of a failed command quotes this many lines.
const (
	execMaxLine   = 16 << 10
	execTailLines = 10
)

// execOutput turns a command's output into log lines "websoft9: <service>
// | <line>", one Write per line so that the bundle runtime's masking sees
// whole values, and keeps the last lines for an error. Not safe for
// concurrent use (stdcopy writes stdout and stderr from one goroutine).
type execOutput struct {
	w      io.Writer
	prefix string
	buf    []byte
	tail   []string
}

func (o *execOutput) Write(p []byte) (int, error) {
	o.buf = append(o.buf, p...)
	rest := o.buf
	for {
		nl := bytes.IndexByte(rest, '\n')
		end := nl
		if nl < 0 || nl > execMaxLine {
			if len(rest) < execMaxLine {
				break // a partial line: wait for its end
			}
			end = execMaxLine
		}
		line := rest[:end]
		if end == nl {
			end++ // drop the newline
		}
		rest = rest[end:]
		if err := o.line(line); err != nil {
			return 0, err
		}
	}
	o.buf = append(o.buf[:0], rest...)
	return len(p), nil
}

func (o *execOutput) line(b []byte) error {
	s := strings.TrimSuffix(string(b), "\r")
	o.tail = append(o.tail, s)
	if len(o.tail) > execTailLines {
		o.tail = o.tail[len(o.tail)-execTailLines:]
	}
	_, err := io.WriteString(o.w, o.prefix+s+"\n")
	return err
}

// flush writes a last line that had no newline.
func (o *execOutput) flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	err := o.line(o.buf)
	o.buf = nil
	return err
}
