package portermixin

import (
	"context"
	"fmt"
)

// Uninstall reads one uninstall step from m.In and brings its compose
// project down: containers and networks always, named volumes only when the
// step says purge.
func (m *Mixin) Uninstall(ctx context.Context) error {
	_, s, err := readStep(m.In)
	if err != nil {
		return err
	}
	p, err := s.plan(m.Getenv)
	if err != nil {
		return err
	}
	if s.Compose != "" {
		p.ComposeFile = m.path(s.Compose)
	}
	fmt.Fprintf(m.Out, "%s: uninstall project %s (purge volumes: %t)\n", Name, p.Project, p.Purge)
	if err := m.Compose.Down(ctx, p); err != nil {
		return fmt.Errorf("uninstall %s: %w", p.Project, err)
	}
	return nil
}
