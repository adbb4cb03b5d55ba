package portermixin

import (
	"context"
	"fmt"
)

// Install reads one install step from m.In, brings its compose project up
// (see Composer.Up), runs the step's exec commands in order (see Execer)
// and writes the step's outputs. The step needs app, main, and compose or
// inline services.
func (m *Mixin) Install(ctx context.Context) error {
	return m.up(ctx, "install")
}

// up serves install and upgrade, which differ only in the action name:
// compose converges the project either way.
func (m *Mixin) up(ctx context.Context, action string) error {
	in, err := readStep(m.In, action)
	if err != nil {
		return err
	}
	return m.run(in, func() error {
		p, err := in.Step.plan(action, m.WorkDir, m.Getenv)
		if err != nil {
			return err
		}
		if err := in.Step.requireModel(action); err != nil {
			return err
		}
		from := "inline services"
		if in.Step.Compose != "" {
			from = in.Step.Compose
		}
		m.logf("%s project %s from %s", action, p.Project, from)
		if err := m.Compose.Up(ctx, p); err != nil {
			return fmt.Errorf("%s %s: %w", action, p.Project, err)
		}
		if err := m.runExecs(ctx, in, p); err != nil {
			return err
		}
		return m.writeOutputs(ctx, in, p)
	})
}
