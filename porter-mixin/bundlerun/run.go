package bundlerun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Options locate the files of an invocation image; DefaultOptions gives the
// in-image paths, tests point them into a temporary directory.
type Options struct {
	// AppDir is /cnab/app: the manifest, bundle files and working directory.
	// Relative paths in porter.yaml are relative to it.
	AppDir string
	// OutputsDir is /cnab/app/outputs, read back by the CNAB driver.
	OutputsDir string
	// StepOutputsDir is /cnab/app/porter/outputs, written by mixins.
	StepOutputsDir string
	// MixinsDir holds <m>/runtimes/<m>-runtime.
	MixinsDir string
	// BundleFile is /cnab/bundle.json, written by the CNAB driver. When it is
	// missing, parameters and images are taken from porter.yaml alone.
	BundleFile string
	// RelocationFile is /cnab/app/relocation-mapping.json, present only when
	// the bundle was relocated to another registry.
	RelocationFile string
	// StateFile is /porter/state.tgz, the porter-state parameter: the state
	// of the previous run, base64 as the driver writes it, or "null".
	StateFile string
	// Root is prefixed to the absolute paths porter.yaml and bundle.json
	// name (parameter, credential, state and output files). It is "" in the
	// image; tests set it to the temporary directory that holds AppDir.
	Root string
	// Getenv and Environ read the process environment.
	Getenv  func(string) string
	Environ func() []string
	// Out receives the runtime's messages and the mixins' output.
	Out io.Writer
	// KillDelay is how long a mixin gets after SIGTERM before SIGKILL.
	KillDelay time.Duration
}

// DefaultOptions returns the paths of Porter's in-image layout.
func DefaultOptions() Options {
	return Options{
		AppDir:         "/cnab/app",
		OutputsDir:     "/cnab/app/outputs",
		StepOutputsDir: "/cnab/app/porter/outputs",
		MixinsDir:      "/cnab/app/mixins",
		BundleFile:     "/cnab/bundle.json",
		RelocationFile: "/cnab/app/relocation-mapping.json",
		StateFile:      "/porter/state.tgz",
		Getenv:         os.Getenv,
		Environ:        os.Environ,
		Out:            os.Stdout,
		KillDelay:      30 * time.Second,
	}
}

// Run executes the action named by CNAB_ACTION as Porter's runtime does
// (porter-compat.md §4.1): it decodes file parameters, unpacks the state
// of the previous run, renders and runs each step through its mixin
// runtime, and turns step outputs into CNAB outputs. It always finalizes:
// path outputs are copied and the porter-state output is written even when
// a step fails or ctx is cancelled (SIGTERM: the running mixin gets SIGTERM,
// then SIGKILL after KillDelay). When the state could not be unpacked, the
// previous state is passed on unchanged rather than lost.
//
// It returns the first failure: a missing CNAB_ACTION, an invalid
// PORTER_DEBUG, an unreadable manifest or bundle.json, an unsupported
// action, a parameter or state file that cannot be decoded, or a step
// that fails (the error names the action, step number and description),
// joined with any error of finalizing.
func Run(ctx context.Context, o Options) error {
	r, err := newRunner(o)
	if err != nil {
		if perr := preserveState(o); perr != nil {
			err = errors.Join(err, perr)
		}
		return err
	}
	fmt.Fprintf(o.Out, "executing %s action from %s (installation: %s)\n", r.action, r.m.Name, r.inst)
	runErr := r.prepare()
	if runErr == nil {
		runErr = r.steps(ctx, r.m.Actions[r.action])
	}
	if err := r.finalize(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

type runner struct {
	o      Options
	m      *manifest.Manifest
	bun    *bundleFile
	reloc  map[string]string
	action string
	inst   string
	debug  bool

	installerImage string
	images         map[string]any
	// stepOutputs holds every step output of this run by name.
	stepOutputs map[string]string
	// produced names the bundle outputs written by a step.
	produced map[string]bool
	// stateUnpacked is false when a previous state exists but could not be
	// unpacked; finalize then passes it on unchanged.
	stateUnpacked bool
}

func newRunner(o Options) (*runner, error) {
	action := o.Getenv("CNAB_ACTION")
	if action == "" {
		return nil, errors.New("CNAB_ACTION is not set")
	}
	debug := false
	if d := o.Getenv("PORTER_DEBUG"); d != "" && d != "null" {
		b, err := parseBool(d)
		if err != nil {
			return nil, fmt.Errorf("PORTER_DEBUG %q is not a boolean", d)
		}
		debug = b
	}
	raw, err := os.ReadFile(filepath.Join(o.AppDir, "porter.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := manifest.ParseForRun(raw)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if _, ok := m.Actions[action]; !ok {
		return nil, fmt.Errorf("unsupported action %q, the bundle defines: %s", action, strings.Join(m.ActionNames(), ", "))
	}
	bun, err := readBundleFile(o.BundleFile)
	if err != nil {
		return nil, err
	}
	reloc, err := readRelocation(o.RelocationFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutputsDir, 0o775); err != nil {
		return nil, fmt.Errorf("create outputs dir: %w", err)
	}
	return &runner{
		o: o, m: m, bun: bun, reloc: reloc, action: action, debug: debug,
		inst:          installationName(o.Getenv),
		stepOutputs:   map[string]string{},
		produced:      map[string]bool{},
		stateUnpacked: true,
	}, nil
}

func installationName(getenv func(string) string) string {
	if n := getenv("PORTER_INSTALLATION_NAME"); n != "" {
		return n
	}
	// CNAB_INSTALLATION_NAME is <namespace>/<name> under Porter.
	n := getenv("CNAB_INSTALLATION_NAME")
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// prepare does what Porter's runtime does before the first step: decode
// file parameters, unpack the state, resolve the images.
func (r *runner) prepare() error {
	if err := r.decodeFileParameters(); err != nil {
		return err
	}
	if err := r.unpackState(); err != nil {
		r.stateUnpacked = false
		return err
	}
	if err := r.resolveImages(); err != nil {
		return err
	}
	return nil
}

func (r *runner) steps(ctx context.Context, steps []manifest.Step) error {
	if err := os.MkdirAll(r.o.StepOutputsDir, 0o775); err != nil {
		return fmt.Errorf("create step outputs dir: %w", err)
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s step %d (%s): not started: %w", r.action, i+1, s.Description(), err)
		}
		rendered, err := r.m.RenderStep(s, r.data())
		if err != nil {
			return fmt.Errorf("%s step %d: %w", r.action, i+1, err)
		}
		if err := r.checkApp(rendered); err != nil {
			return fmt.Errorf("%s step %d (%s): %w", r.action, i+1, s.Description(), err)
		}
		out := &maskWriter{w: r.o.Out, secrets: r.secrets()}
		if r.debug {
			if b, err := manifest.MarshalStep(r.action, rendered); err == nil {
				fmt.Fprintf(out, "=== Step %d ===\n%s", i+1, b)
			}
		}
		if d := rendered.Description(); d != "" {
			fmt.Fprintln(out, d)
		}
		stepErr := r.runStep(ctx, rendered, out)
		if err := r.collect(); err != nil {
			stepErr = errors.Join(stepErr, err)
		}
		if stepErr != nil {
			return fmt.Errorf("%s step %d (%s): %w", r.action, i+1, s.Description(), stepErr)
		}
	}
	return nil
}

// checkApp refuses a websoft9 step that acts on another app than the
// installation: each run may touch its own installation only (StackHub's
// policed Docker socket refuses it again, whatever the bundle runs).
func (r *runner) checkApp(s manifest.Step) error {
	if s.Mixin != "websoft9" || r.inst == "" {
		return nil
	}
	if app, _ := s.Data["app"].(string); app != r.inst {
		return fmt.Errorf("the step acts on app %q, but this run is installation %q: a run may touch its own installation only (write app: ${ installation.name })", app, r.inst)
	}
	return nil
}

// runStep pipes one rendered step to its mixin runtime on stdin. Each
// argument is its own argv entry: no shell parses bundle data. When ctx is
// cancelled the mixin gets SIGTERM, and SIGKILL after KillDelay.
func (r *runner) runStep(ctx context.Context, s manifest.Step, out io.Writer) error {
	bin := filepath.Join(r.o.MixinsDir, s.Mixin, "runtimes", s.Mixin+"-runtime")
	argv := []string{r.action}
	switch r.action {
	case manifest.ActionInstall, manifest.ActionUpgrade, manifest.ActionUninstall:
	default:
		argv = []string{"invoke", "--action", r.action}
	}
	input, err := manifest.MarshalStep(r.action, s)
	if err != nil {
		return fmt.Errorf("encode step: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = r.o.AppDir
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(r.o.Environ(), "PORTER_HOME="+r.o.AppDir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = r.o.KillDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = errors.Join(err, ctxErr)
		}
		return fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(argv, " "), err)
	}
	return nil
}

// collect moves the files mixins wrote to the step outputs dir into the
// step outputs, and writes those that are bundle outputs of this action.
func (r *runner) collect() error {
	entries, err := os.ReadDir(r.o.StepOutputsDir)
	if err != nil {
		return fmt.Errorf("read step outputs: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(r.o.StepOutputsDir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = os.Remove(p)
		r.stepOutputs[e.Name()] = string(b)
		if o, ok := r.m.Output(e.Name()); ok && o.AppliesTo(r.action) {
			if err := os.WriteFile(filepath.Join(r.o.OutputsDir, o.Name), b, 0o664); err != nil {
				errs = append(errs, fmt.Errorf("write output %s: %w", o.Name, err))
			}
			r.produced[o.Name] = true
		}
	}
	return errors.Join(errs...)
}

// finalize copies each applicable output with a manifest path that no step
// produced and whose file exists, then writes the porter-state output,
// which every Porter bundle declares.
func (r *runner) finalize() error {
	var errs []error
	for _, o := range r.m.Outputs {
		if o.Path == "" || r.produced[o.Name] || !o.AppliesTo(r.action) {
			continue
		}
		dst := filepath.Join(r.o.OutputsDir, o.Name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		b, err := os.ReadFile(r.file(o.Path))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = os.WriteFile(dst, b, 0o664)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o.Name, err))
		}
	}
	if r.stateUnpacked {
		if err := r.packState(); err != nil {
			errs = append(errs, err)
		}
	} else if err := preserveState(r.o); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// file maps a path written in porter.yaml or bundle.json to the file:
// absolute paths under Root, relative ones under AppDir.
func (r *runner) file(p string) string {
	return resolveFile(r.o, p)
}

func resolveFile(o Options, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Join(o.Root, p)
	}
	return filepath.Join(o.AppDir, p)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "t", "true":
		return true, nil
	case "0", "f", "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}
