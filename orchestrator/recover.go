package orchestrator

import (
	"context"
	"errors"
	"fmt"
)

// Recover resolves runs left active by a crash or restart: each gets a
// failed result saying the engine restarted; an interrupted install is
// cleaned up like a failed one, an interrupted uninstall is finished.
func (e *Engine) Recover(ctx context.Context) error {
	runs, err := e.d.Runs.ActiveRuns(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	var errs []error
	for _, run := range runs {
		reason := fmt.Sprintf("StackHub restarted during %s", run.Action)
		switch run.Action {
		case "uninstall":
			_, err := e.d.Host.RemoveApp(ctx, run.Installation, "", false)
			if err != nil {
				errs = append(errs, err)
				e.finish(ctx, run, RunFailed, StateFailed, reason+"; cleanup failed: "+ErrorMessage(err), false)
				continue
			}
			e.finish(ctx, run, RunFailed, StateUninstalled, reason+"; uninstall finished at start-up", true)
		case "upgrade":
			// The app may be half upgraded; its data and ports stay.
			e.finish(ctx, run, RunFailed, StateFailed, reason+"; upgrade it again", false)
		case "install":
			_, err := e.d.Host.RemoveApp(ctx, run.Installation, run.Revision, false)
			if err != nil {
				errs = append(errs, err)
				e.finish(ctx, run, RunFailed, StateFailed, reason+"; cleanup failed: "+ErrorMessage(err), false)
				continue
			}
			e.finish(ctx, run, RunFailed, StateFailed, reason, true)
		default: // a custom action changes no state
			inst, err := e.d.Installations.Installation(ctx, run.Installation)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			e.finish(ctx, run, RunFailed, inst.State, inst.Reason, false)
		}
		e.log.Warn("resolved interrupted run", "run", run.ID, "installation", run.Installation, "action", run.Action)
	}
	return errors.Join(errs...)
}
