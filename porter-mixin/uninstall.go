package portermixin

import (
	"context"
	"fmt"
)

// Uninstall reads one uninstall step from m.In and brings its compose
// project down: containers and networks always, named volumes only when
// the step says purge. The step needs only app; a compose file or inline
// services are used when given.
func (m *Mixin) Uninstall(ctx context.Context) error {
	in, err := readStep(m.In, "uninstall")
	if err != nil {
		return err
	}
	return m.run(in, func() error {
		p, err := in.Step.plan(in.Action, m.WorkDir, m.Getenv)
		if err != nil {
			return err
		}
		m.logf("uninstall project %s (purge volumes: %t)", p.Project, p.Purge)
		if err := m.Compose.Down(ctx, p); err != nil {
			return fmt.Errorf("uninstall %s: %w", p.Project, err)
		}
		return m.writeOutputs(ctx, in, p)
	})
}
