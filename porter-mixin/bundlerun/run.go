package bundlerun

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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
	AppDir string
	// OutputsDir is /cnab/app/outputs, read back by the CNAB driver.
	OutputsDir string
	// StepOutputsDir is /cnab/app/porter/outputs, written by mixins.
	StepOutputsDir string
	// MixinsDir holds <m>/runtimes/<m>-runtime.
	MixinsDir string
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
		Getenv:         os.Getenv,
		Environ:        os.Environ,
		Out:            os.Stdout,
		KillDelay:      30 * time.Second,
	}
}

// Run executes the action named by CNAB_ACTION. It always finalizes: the
// porter-state output is written even when a step fails or ctx is
// cancelled. It returns the first step's error.
func Run(ctx context.Context, o Options) error {
	action := o.Getenv("CNAB_ACTION")
	if action == "" {
		return errors.New("CNAB_ACTION is not set")
	}
	if d := o.Getenv("PORTER_DEBUG"); d != "" && d != "null" {
		if _, err := parseBool(d); err != nil {
			return fmt.Errorf("PORTER_DEBUG %q is not a boolean", d)
		}
	}
	raw, err := os.ReadFile(filepath.Join(o.AppDir, "porter.yaml"))
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return err
	}
	steps, ok := m.Actions[action]
	if !ok {
		return fmt.Errorf("unsupported action %q", action)
	}
	inst := installationName(o.Getenv)
	fmt.Fprintf(o.Out, "executing %s action from %s (installation: %s)\n", action, m.Name, inst)
	if err := os.MkdirAll(o.OutputsDir, 0o775); err != nil {
		return fmt.Errorf("create outputs dir: %w", err)
	}
	r := &runner{o: o, m: m, action: action, inst: inst, stepOutputs: map[string]string{}, produced: map[string]bool{}}
	runErr := r.steps(ctx, steps)
	if err := r.finalize(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

type runner struct {
	o           Options
	m           *manifest.Manifest
	action      string
	inst        string
	stepOutputs map[string]string
	produced    map[string]bool
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

func (r *runner) steps(ctx context.Context, steps []manifest.Step) error {
	if err := os.MkdirAll(r.o.StepOutputsDir, 0o775); err != nil {
		return fmt.Errorf("create step outputs dir: %w", err)
	}
	for i, s := range steps {
		rendered, err := manifest.RenderStep(s, r.data())
		if err != nil {
			return fmt.Errorf("%s step %d: %w", r.action, i+1, err)
		}
		if d := rendered.Description(); d != "" {
			fmt.Fprintln(r.o.Out, d)
		}
		stepErr := r.runStep(ctx, rendered)
		if err := r.collect(); err != nil {
			stepErr = errors.Join(stepErr, err)
		}
		if stepErr != nil {
			return fmt.Errorf("%s step %d (%s): %w", r.action, i+1, s.Description(), stepErr)
		}
	}
	return nil
}

// data builds the template variables of porter-compat.md §2.
func (r *runner) data() map[string]any {
	params := map[string]any{}
	for _, p := range r.m.Parameters {
		if !p.AppliesTo(r.action) {
			continue
		}
		var v string
		if env := p.EnvName(); env != "" {
			v = r.o.Getenv(env)
		} else {
			v = r.path(p.Path)
		}
		params[p.Name] = v
	}
	creds := map[string]any{}
	for _, c := range r.m.Credentials {
		if c.Env != "" {
			creds[c.Name] = r.o.Getenv(c.Env)
		} else {
			creds[c.Name] = r.path(c.Path)
		}
	}
	outputs := map[string]any{}
	for _, out := range r.m.Outputs {
		if v := r.o.Getenv("PORTER_" + manifest.EnvVarName(out.Name) + "_OUTPUT"); v != "" {
			outputs[out.Name] = v
		}
	}
	for k, v := range r.stepOutputs {
		outputs[k] = v
	}
	images := map[string]any{}
	for alias, img := range r.m.Images {
		images[alias] = map[string]any(img)
	}
	env := map[string]any{}
	for _, kv := range r.o.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return map[string]any{
		"installation": map[string]any{
			"name":      r.inst,
			"namespace": r.o.Getenv("PORTER_INSTALLATION_NAMESPACE"),
			"id":        r.o.Getenv("PORTER_INSTALLATION_ID"),
		},
		"bundle": map[string]any{
			"name":        r.m.Name,
			"version":     r.m.Version,
			"description": r.m.Description,
			"custom":      r.m.Custom,
			"parameters":  params,
			"credentials": creds,
			"outputs":     outputs,
			"images":      images,
		},
		"env": env,
	}
}

func (r *runner) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.o.AppDir, p)
}

// secrets lists the values masked in mixin output: sensitive parameters,
// credentials and sensitive outputs.
func (r *runner) secrets() []string {
	var out []string
	for _, p := range r.m.Parameters {
		if p.Sensitive && p.EnvName() != "" {
			if v := r.o.Getenv(p.EnvName()); v != "" {
				out = append(out, v)
			}
		}
	}
	for _, c := range r.m.Credentials {
		if c.Env != "" {
			if v := r.o.Getenv(c.Env); v != "" {
				out = append(out, v)
			}
		}
	}
	for _, o := range r.m.Outputs {
		if v, ok := r.stepOutputs[o.Name]; ok && o.Sensitive && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// runStep pipes one rendered step to its mixin runtime on stdin. Each
// argument is its own argv entry: no shell parses bundle data.
func (r *runner) runStep(ctx context.Context, s manifest.Step) error {
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
	out := &maskWriter{w: r.o.Out, secrets: r.secrets()}
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = r.o.AppDir
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(r.o.Environ(), "PORTER_HOME="+r.o.AppDir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = r.o.KillDelay
	if err := cmd.Run(); err != nil {
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
		for _, o := range r.m.Outputs {
			if o.Name == e.Name() && o.AppliesTo(r.action) {
				if err := os.WriteFile(filepath.Join(r.o.OutputsDir, o.Name), b, 0o664); err != nil {
					errs = append(errs, fmt.Errorf("write output %s: %w", o.Name, err))
				}
				r.produced[o.Name] = true
			}
		}
	}
	return errors.Join(errs...)
}

// finalize copies path outputs that were not produced by a step and writes
// the porter-state output, which every Porter bundle declares.
func (r *runner) finalize() error {
	var errs []error
	for _, o := range r.m.Outputs {
		if o.Path == "" || r.produced[o.Name] || !o.AppliesTo(r.action) {
			continue
		}
		b, err := os.ReadFile(r.path(o.Path))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(r.o.OutputsDir, o.Name), b, 0o664)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o.Name, err))
		}
	}
	state, err := emptyStateArchive()
	if err == nil {
		err = os.WriteFile(filepath.Join(r.o.OutputsDir, "porter-state"), state, 0o664)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("write porter-state: %w", err))
	}
	return errors.Join(errs...)
}

// emptyStateArchive is the porter-state output of a bundle that declares
// no state: an empty gzip tar.
func emptyStateArchive() ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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

// maskWriter replaces secret values with ******* in what passes through.
// A secret split across two writes is not masked; mixins write lines.
type maskWriter struct {
	w       io.Writer
	secrets []string
}

func (m *maskWriter) Write(p []byte) (int, error) {
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	s := string(p)
	for _, sec := range m.secrets {
		s = strings.ReplaceAll(s, sec, "*******")
	}
	if _, err := io.WriteString(m.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
