package orchestrator

import (
	"context"
	"encoding/json"
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
	if e.d.Swarm != nil {
		// Which apps run on this node (observed) and which elsewhere.
		if st, err := e.d.Swarm.SwarmStatus(ctx); err == nil {
			local := ""
			if st.Swarm == SwarmManager {
				local = st.NodeID
			}
			e.localNode.Store(&local)
		}
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
	// A backup or a restore killed mid-copy leaves its helper container,
	// which holds the app's volumes: no copy runs yet, so none is needed.
	if e.d.Volumes != nil {
		n, err := e.d.Volumes.RemoveHelpers(ctx)
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		if n > 0 {
			e.log.Warn("removed volume helpers a crash left", "count", n)
		}
	}
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
			e.dropDomains(ctx, run.Installation)
			e.finish(ctx, run, RunFailed, StateUninstalled, reason+"; uninstall finished at start-up", true)
		case ActionUpgrade:
			// The app may be half upgraded: an upgrade rolls itself back,
			// at start-up too.
			e.recoverUpgrade(ctx, run, reason)
		case ActionSnapshot:
			// A backup stops the app's containers for the copy: they run
			// again, and the backup that was being written was never saved.
			e.recoverSnapshot(ctx, run, reason)
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
			// In place: back as it was before the restore.
			e.recoverRestoreInPlace(ctx, run, reason)
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

// recoverSnapshot ends a backup a restart interrupted: the containers the
// backup may have stopped are started again; the installation is as it was.
func (e *Engine) recoverSnapshot(ctx context.Context, run Run, reason string) {
	inst, err := e.d.Installations.Installation(ctx, run.Installation)
	if err != nil {
		e.log.Error("recover a backup", "run", run.ID, "err", err)
		return
	}
	if e.d.Volumes != nil && inst.State == StateRunning {
		if err := e.d.Volumes.StartContainers(ctx, inst.Containers); err != nil {
			reason += "; its containers could not be started again: " + ErrorMessage(err)
		} else {
			reason += "; its containers run again"
		}
	}
	run.Message = reason
	e.finish(ctx, run, RunFailed, inst.State, inst.Reason, false)
}

// recoverRestoreInPlace puts back an installation whose restore in place
// a restart interrupted: once the backup of its current data is saved
// (the restore's first step), from that backup, as an upgrade rolls back;
// before, nothing was changed and its containers run again.
func (e *Engine) recoverRestoreInPlace(ctx context.Context, run Run, reason string) {
	inst, err := e.d.Installations.Installation(ctx, run.Installation)
	if err != nil {
		e.log.Error("recover a restore", "run", run.ID, "err", err)
		return
	}
	store, repository, b, rec, ok := e.backupSince(ctx, inst.Name, run.Created)
	if !ok {
		e.recoverSnapshot(ctx, run, reason+"; nothing was changed")
		return
	}
	e.recoverRollBack(ctx, run, inst, reason, func(s *snapshotState) {
		s.store, s.repository, s.backup, s.record = store, repository, b, rec
	})
}

// backupSince returns the newest backup of installation, when it was
// taken at or after since (by the run that started then).
func (e *Engine) backupSince(ctx context.Context, installation string, since time.Time) (BackupStore, string, Backup, backupRecord, bool) {
	if e.d.Backups == nil {
		return nil, "", Backup{}, backupRecord{}, false
	}
	store, id, err := e.d.Backups.Store(ctx, "")
	if err != nil {
		return nil, "", Backup{}, backupRecord{}, false
	}
	list, err := store.Backups(ctx, installation)
	if err != nil || len(list) == 0 || list[0].Created.Before(since) {
		return nil, "", Backup{}, backupRecord{}, false
	}
	raw, err := store.Record(ctx, list[0].ID)
	if err != nil {
		return nil, "", Backup{}, backupRecord{}, false
	}
	var rec backupRecord
	if json.Unmarshal(raw, &rec) != nil {
		return nil, "", Backup{}, backupRecord{}, false
	}
	return store, id, list[0], rec, true
}

// recoverUpgrade rolls back an upgrade a restart interrupted, as a failed
// upgrade is: the backup this run took first (if it got that far) gives
// the volumes back, and the version the installation ran comes up again.
func (e *Engine) recoverUpgrade(ctx context.Context, run Run, reason string) {
	inst, err := e.d.Installations.Installation(ctx, run.Installation)
	if err != nil {
		e.log.Error("recover an upgrade", "run", run.ID, "err", err)
		return
	}
	e.recoverRollBack(ctx, run, inst, reason, func(s *snapshotState) {
		// The backup this run took before acting, if it got that far.
		if store, repository, b, rec, ok := e.backupSince(ctx, inst.Name, run.Created); ok {
			s.store, s.repository, s.backup, s.record = store, repository, b, rec
		}
	})
}

// recoverRollBack brings inst's installed version up again with the data
// of the backup with sets (none: the volumes as they are) and ends run.
func (e *Engine) recoverRollBack(ctx context.Context, run Run, inst Installation, reason string, with func(*snapshotState)) {
	prev, err := e.installedBundle(ctx, inst)
	if err != nil {
		e.finish(ctx, run, RunFailed, StateFailed, reason+"; run it again (its previous bundle is not kept: "+ErrorMessage(err)+")", false)
		return
	}
	r := &runState{name: inst.Name, action: run.Action, run: run, inst: inst, reason: reason, state: StateFailed,
		snap: &snapshotState{prev: prev, acted: true}}
	with(r.snap)
	out, closer := e.runOutput(run)
	defer closer.Close()
	r.out = out
	if err := e.rollBack(ctx, r); err != nil {
		e.log.Error("roll back an interrupted run", "installation", inst.Name, "run", run.ID, "action", run.Action, "err", err)
	}
	run.Outputs = r.run.Outputs
	e.finish(ctx, run, RunFailed, r.state, r.reason, false)
}
