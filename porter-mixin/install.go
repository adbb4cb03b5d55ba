package portermixin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Install reads one install step from m.In, brings its compose project up
// and writes the step's outputs. Upgrade uses the same path: compose
// recreates only the services whose configuration changed.
func (m *Mixin) Install(ctx context.Context) error {
	action, s, err := readStep(m.In)
	if err != nil {
		return err
	}
	p, err := s.plan(m.Getenv)
	if err != nil {
		return err
	}
	if s.Compose == "" {
		return fmt.Errorf("step %q: %w", s.Description, errNoCompose)
	}
	if s.Main == "" {
		return fmt.Errorf("step %q: main is required: the service whose container is %s", s.Description, naming.MainContainer(s.App))
	}
	p.ComposeFile = m.path(s.Compose)
	fmt.Fprintf(m.Out, "%s: %s project %s from %s\n", Name, action, p.Project, s.Compose)
	if err := m.Compose.Up(ctx, p); err != nil {
		return fmt.Errorf("%s %s: %w", action, p.Project, err)
	}
	return m.writeOutputs(s, p)
}

func (m *Mixin) writeOutputs(s Step, p Plan) error {
	if len(s.Outputs) == 0 {
		return nil
	}
	if err := os.MkdirAll(m.OutputsDir, 0o755); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	for _, o := range s.Outputs {
		var val string
		switch {
		case o.Name == "":
			return fmt.Errorf("step %q: an output has no name", s.Description)
		case o.Container != "":
			val = naming.Container(p.App, o.Container, o.Container == p.Main)
		case o.Env != "":
			v, ok := p.Env[o.Env]
			if !ok {
				return fmt.Errorf("step %q: output %s: env %s is not set in the step", s.Description, o.Name, o.Env)
			}
			val = v
		case o.Value != nil:
			val = *o.Value
		default:
			return fmt.Errorf("step %q: output %s needs one of container, env, value", s.Description, o.Name)
		}
		if err := os.WriteFile(filepath.Join(m.OutputsDir, o.Name), []byte(val), 0o644); err != nil {
			return fmt.Errorf("output %s: %w", o.Name, err)
		}
	}
	return nil
}
