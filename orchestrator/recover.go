package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Recover resolves runs left active by a crash or restart: each gets a
// failed result saying the engine restarted; an interrupted install is
// cleaned up like a failed one, an interrupted uninstall is finished.
//
// Until it has succeeded once, the engine is not ready: every action that
// changes state answers EUNAVAILABLE ("reconciling"). It must run before
// any job starts: an active run is taken as interrupted.
func (e *Engine) Recover(ctx context.Context) error {
	if err := e.d.Host.Ping(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if err := e.recover(ctx); err != nil {
		return err
	}
	e.ready.Store(true)
	return nil
}

// Ready tells whether start-up recovery is done.
func (e *Engine) Ready() bool { return e.ready.Load() }

// RecoverLoop runs Recover until it succeeds (Docker may be down at
// start-up), every interval, or until ctx is done.
func (e *Engine) RecoverLoop(ctx context.Context, interval time.Duration) {
	for {
		err := e.Recover(ctx)
		if err == nil {
			e.log.Info("start-up recovery done")
			return
		}
		e.log.Warn("start-up recovery not done yet; changes are refused until it is", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// notReady refuses changes before start-up recovery is done, saying why:
// Docker not answering, or recovery still under way.
func (e *Engine) notReady(ctx context.Context) error {
	if e.ready.Load() {
		return nil
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return err
	}
	return Errorf(EUNAVAILABLE, "StackHub is reconciling after a restart; try again shortly")
}

func (e *Engine) recover(ctx context.Context) error {
	runs, err := e.d.Runs.ActiveRuns(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	var errs []error
	for _, run := range runs {
		reason := fmt.Sprintf("StackHub restarted during %s", run.Action)
		switch run.Action {
		case ActionUninstall:
			_, err := e.d.Host.RemoveApp(ctx, run.Installation, "", false)
			if err != nil {
				errs = append(errs, err)
				e.finish(ctx, run, RunFailed, StateFailed, reason+"; cleanup failed: "+ErrorMessage(err), false)
				continue
			}
			e.finish(ctx, run, RunFailed, StateUninstalled, reason+"; uninstall finished at start-up", true)
		case ActionUpgrade:
			// The app may be half upgraded; its data and ports stay.
			e.finish(ctx, run, RunFailed, StateFailed, reason+"; upgrade it again", false)
		case ActionInstall:
			_, err := e.d.Host.RemoveApp(ctx, run.Installation, run.Revision, false)
			if err != nil {
				errs = append(errs, err)
				e.finish(ctx, run, RunFailed, StateFailed, reason+"; cleanup failed: "+ErrorMessage(err), false)
				continue
			}
			e.finish(ctx, run, RunFailed, StateFailed, reason, true)
		case ActionRestore:
			inst, err := e.d.Installations.Installation(ctx, run.Installation)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if inst.State == StateInstalling {
				// A restore into a new installation: removed as an install is.
				if _, err := e.d.Host.RemoveApp(ctx, run.Installation, run.Revision, false); err != nil {
					errs = append(errs, err)
					e.finish(ctx, run, RunFailed, StateFailed, reason+"; cleanup failed: "+ErrorMessage(err), false)
					continue
				}
				e.finish(ctx, run, RunFailed, StateFailed, reason, true)
				continue
			}
			// In place: its data was backed up before it was touched.
			e.finish(ctx, run, RunFailed, StateFailed, reason+"; restore it again (the data it replaced was backed up first)", false)
		default: // a custom action or a backup changes no state
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
