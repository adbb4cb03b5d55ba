package orchestrator

import (
	"context"
	"fmt"
	"time"
)

// EffectivePolicy is the policy an app follows: its own, or the default.
type EffectivePolicy struct {
	BackupPolicy
	// Inherited: the app has none of its own; this is the default.
	Inherited bool
	// Next is when the schedule next fires (zero without a schedule).
	Next time.Time
}

func (e *Engine) policies(ctx context.Context) (map[string]BackupPolicy, error) {
	if e.d.Policies == nil {
		return nil, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	list, err := e.d.Policies.BackupPolicies(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]BackupPolicy, len(list))
	for _, p := range list {
		out[p.Installation] = p
	}
	return out, nil
}

func (e *Engine) effective(all map[string]BackupPolicy, name string) EffectivePolicy {
	p, own := all[name]
	if !own {
		p = all[""]
		p.Installation = name
	}
	return EffectivePolicy{BackupPolicy: p, Inherited: !own}
}

// withNext fills ep.Next: a scan minute by minute, so never on the
// scheduler's path, only when a person asks.
func (e *Engine) withNext(ep EffectivePolicy) EffectivePolicy {
	if s, err := ParseSchedule(ep.Schedule); err == nil && ep.Schedule != "" {
		ep.Next = s.Next(e.d.Now().In(e.zone()))
	}
	return ep
}

// zone is where schedules are read: the server's local time.
func (e *Engine) zone() *time.Location { return time.Local }

// BackupPolicyOf returns the policy installation name follows ("" for the
// default policy itself).
func (e *Engine) BackupPolicyOf(ctx context.Context, name string) (EffectivePolicy, error) {
	if name != "" {
		if err := validateName("name", name); err != nil {
			return EffectivePolicy{}, err
		}
	}
	all, err := e.policies(ctx)
	if err != nil {
		return EffectivePolicy{}, err
	}
	ep := e.effective(all, name)
	if name == "" {
		ep.Inherited = false
	}
	return e.withNext(ep), nil
}

// SetBackupPolicy stores an app's policy (p.Installation) or the default
// one (""). The schedule and the retention are checked first; a repository
// named must exist.
func (e *Engine) SetBackupPolicy(ctx context.Context, p BackupPolicy) (EffectivePolicy, error) {
	if e.d.Policies == nil || e.d.Backups == nil {
		return EffectivePolicy{}, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	if p.Installation != "" {
		if err := validateName("name", p.Installation); err != nil {
			return EffectivePolicy{}, err
		}
	}
	if p.Schedule != "" {
		s, err := ParseSchedule(p.Schedule)
		if err != nil {
			return EffectivePolicy{}, err
		}
		p.Schedule = s.String()
	}
	if p.Keep.Last < 0 || p.Keep.Daily < 0 || p.Keep.Weekly < 0 || p.Keep.Monthly < 0 {
		return EffectivePolicy{}, Errorf(EINVALID, "retention counts cannot be negative")
	}
	if p.Repository != "" {
		if _, _, err := e.d.Backups.Store(ctx, p.Repository); err != nil {
			return EffectivePolicy{}, err
		}
	}
	p.Updated = e.d.Now()
	if err := e.d.Policies.SetBackupPolicy(ctx, p); err != nil {
		return EffectivePolicy{}, err
	}
	return e.BackupPolicyOf(ctx, p.Installation)
}

// ClearBackupPolicy removes an app's own policy: the default applies.
func (e *Engine) ClearBackupPolicy(ctx context.Context, name string) error {
	if e.d.Policies == nil {
		return Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	if err := validateName("name", name); err != nil {
		return err
	}
	return e.d.Policies.DeleteBackupPolicy(ctx, name)
}

// RunScheduledBackups starts the backups whose schedule fires in at's
// minute, each followed by its retention once it succeeded, and returns
// the runs it started. An app busy with another run is skipped this time
// (logged).
func (e *Engine) RunScheduledBackups(ctx context.Context, at time.Time) ([]Run, error) {
	all, err := e.policies(ctx)
	if err != nil {
		return nil, err
	}
	insts, err := e.d.Installations.Installations(ctx)
	if err != nil {
		return nil, err
	}
	var started []Run
	for _, inst := range insts {
		if inst.State != StateRunning {
			continue
		}
		p := e.effective(all, inst.Name)
		if p.Schedule == "" {
			continue
		}
		s, err := ParseSchedule(p.Schedule)
		if err != nil || !s.Matches(at.In(e.zone())) {
			continue
		}
		run, err := e.StartBackup(ctx, BackupRequest{Name: inst.Name, Repository: p.Repository})
		if err != nil {
			e.log.Warn("scheduled backup not started", "installation", inst.Name, "schedule", p.Schedule, "err", err)
			continue
		}
		e.log.Info("scheduled backup started", "installation", inst.Name, "run", run.ID, "schedule", p.Schedule)
		started = append(started, run)
		if p.Keep != (Retention{}) {
			e.scheduled.Go(func() { e.pruneAfter(context.WithoutCancel(ctx), run, p.BackupPolicy) })
		}
	}
	return started, nil
}

// pruneAfter applies a policy's retention once its backup run succeeded.
func (e *Engine) pruneAfter(ctx context.Context, run Run, p BackupPolicy) {
	for {
		r, err := e.d.Runs.Run(ctx, run.ID)
		if err != nil {
			e.log.Warn("scheduled prune: backup run unknown", "run", run.ID, "err", err)
			return
		}
		if r.Status != RunRunning {
			if r.Status != RunSucceeded {
				return
			}
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	gone, err := e.PruneBackups(ctx, p.Repository, p.Installation, p.Keep)
	if err != nil {
		e.log.Warn("scheduled prune failed", "installation", p.Installation, "err", err)
		return
	}
	e.log.Info("scheduled prune", "installation", p.Installation, "removed", len(gone))
}

// BackupScheduler runs RunScheduledBackups once in every minute until ctx
// ends, then waits for the prunes it started.
func (e *Engine) BackupScheduler(ctx context.Context) {
	last := e.d.Now().Truncate(time.Minute)
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.scheduled.Wait()
			return
		case <-t.C:
		}
		now := e.d.Now().Truncate(time.Minute)
		// Every minute since the last tick, once (a busy host may skip one).
		for m := last.Add(time.Minute); !m.After(now); m = m.Add(time.Minute) {
			if _, err := e.RunScheduledBackups(ctx, m); err != nil && ctx.Err() == nil {
				e.log.Warn("scheduled backups", "minute", m.Format(time.RFC3339), "err", fmt.Sprint(err))
			}
		}
		last = now
	}
}
