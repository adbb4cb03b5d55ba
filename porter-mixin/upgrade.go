package portermixin

import "context"

// Upgrade reads one upgrade step from m.In and converges the project to
// it. The bundle runtime has already re-rendered the step with the new
// parameters; compose recreates only the services whose configuration
// changed (RecreateDiverged), keeps named volumes, and publishes the ports
// the step gives. Upgrading a project that does not exist creates it.
func (m *Mixin) Upgrade(ctx context.Context) error {
	return m.up(ctx, "upgrade")
}
