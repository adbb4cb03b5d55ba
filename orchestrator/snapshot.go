package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/websoft9/stackhub/orchestrator/failpoint"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// StackHub's own run actions besides install, upgrade and uninstall: they
// are not a bundle's custom actions.
const (
	// ActionSnapshot takes a backup of an installation.
	ActionSnapshot Action = "snapshot"
	// ActionRestore puts a backup back, into the same installation or a
	// new one (a clone).
	ActionRestore Action = "restore"
)

// Quiesce modes a backup reports.
const (
	QuiesceActions = "actions" // the bundle's backup and postBackup actions
	QuiesceStopped = "stopped" // the app's containers stopped for the copy
	QuiesceNone    = "none"    // nothing ran: the app was not running
)

// BackupRepositories opens the backup repositories StackHub is configured
// with.
type BackupRepositories interface {
	// Store opens repository id ("" for the default one) and returns it
	// with its ID. Returns ENOTFOUND when there is none.
	Store(ctx context.Context, id string) (BackupStore, string, error)
	// AddRepository configures a repository: create makes a new one at its
	// location, else the one there is opened with its password. Returns
	// EINVALID, ECONFLICT (ID taken, or a repository already there to
	// create), EFORBIDDEN (wrong password) and ENOTFOUND (none to open).
	AddRepository(ctx context.Context, c RepositoryConfig, create bool) (RepositoryConfig, error)
	// Repositories returns the repositories, secrets left out.
	Repositories(ctx context.Context) ([]RepositoryConfig, error)
	// RemoveRepository forgets repository id; its data stays.
	RemoveRepository(ctx context.Context, id string) error
}

// BackupRequest asks for a backup of installation Name.
type BackupRequest struct {
	Name string
	// Repository is where to keep it ("" for the default one).
	Repository string
}

// RestoreRequest asks to put backup Backup back.
type RestoreRequest struct {
	Backup     string
	Repository string
	// Name is the installation to restore into: "" or the backup's own
	// installation restores it in place (or again, when it was
	// uninstalled); another name makes a clone beside it, with new ports.
	Name string
	// Node places a restore into a new installation on this Swarm node
	// (ID or hostname; "" lets StackHub pick, as an install does). A
	// restore of an app's own backup on another node than the one it was
	// on is its move: once it runs there, the volumes it left on its old
	// node are removed.
	Node string
}

// backupRecord is record.json: what StackHub knows of the installation,
// with its secrets, which the repository's encryption protects (a restore
// on a new host needs only the repository's password).
type backupRecord struct {
	Format       int               `json:"format"`
	Installation string            `json:"installation"`
	App          string            `json:"app"`
	Version      string            `json:"version"`
	Digest       string            `json:"digest"`
	Ports        []PortBinding     `json:"ports"`
	Parameters   map[string]any    `json:"parameters"`
	Secrets      map[string]any    `json:"secrets,omitempty"`
	Outputs      map[string]string `json:"outputs,omitempty"`
	Volumes      []Volume          `json:"volumes"`
	// Node is the Swarm node the installation was on ("" the single host).
	Node    string    `json:"node,omitempty"`
	Quiesce string    `json:"quiesce"`
	Created time.Time `json:"created"`
}

// snapshotState is what a backup or a restore carries between its steps.
type snapshotState struct {
	store      BackupStore
	repository string
	backup     Backup
	record     backupRecord
	volumes    []Volume
	// inPlace: the restore replaces an installation's data.
	inPlace bool
	// safety is the backup taken of an installation's data before a
	// restore replaced it.
	safety string
	// acted: an upgrade's action ran, so a failure has something to roll
	// back; prev is the bundle the installation ran before it.
	acted bool
	prev  App
}

// StartBackup takes a backup of an installation as a job and returns the
// run at once: the app is kept still (its bundle's backup and postBackup
// actions, or its containers stopped for the copy and started after), its
// volumes, record and bundle go to the repository in one snapshot. The
// installation's state is unchanged; the run's output "backup" names the
// backup.
//
// Returns EINVALID, ENOTFOUND (installation, repository), EUNAVAILABLE and
// ECONFLICT when a run is in progress.
func (e *Engine) StartBackup(ctx context.Context, req BackupRequest) (Run, error) {
	r := &runState{name: req.Name, action: ActionSnapshot, snap: &snapshotState{repository: req.Repository}}
	acc, err := e.start(ctx, e.backupLifecycle(), r)
	if err != nil {
		return Run{}, err
	}
	return acc.run, nil
}

func (e *Engine) backupLifecycle() *lifecycle {
	return &lifecycle{
		kind: "backup",
		prepare: []step{
			{"check installation", e.checkBackup},
			{"open repository", e.openRepository},
		},
		reserve: []step{{"begin run", e.beginModify}},
		act:     []step{{"back up", e.backUp}},
		record:  []step{{"record outcome", e.recordSnapshot}},
	}
}

// checkBackup checks that the installation can be backed up and finds its
// bundle's files.
func (e *Engine) checkBackup(ctx context.Context, r *runState) error {
	if err := validateName("name", r.name); err != nil {
		return err
	}
	if e.d.Backups == nil || e.d.Volumes == nil {
		return Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	inst, err := e.d.Installations.Installation(ctx, r.name)
	if err != nil {
		return fmt.Errorf("back up %s: %w", r.name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return err
	}
	if inst.State != StateRunning && !(inst.State == StateFailed && len(inst.Ports) > 0) {
		return Errorf(ECONFLICT, "%s is %s: only an installed app has data to back up", r.name, inst.State)
	}
	app, err := e.installedBundle(ctx, inst)
	if err != nil {
		return fmt.Errorf("back up %s: %w", r.name, err)
	}
	r.inst, r.app = inst, app
	r.run = Run{ID: e.d.NewID(), Installation: r.name, Action: ActionSnapshot, Revision: e.d.NewID(), Status: RunRunning, Created: e.d.Now()}
	return nil
}

// installedBundle is the bundle an installation runs: kept in the vault by
// its digest, else the catalog's when its version is the same.
func (e *Engine) installedBundle(ctx context.Context, inst Installation) (App, error) {
	if e.d.Vault != nil && inst.Digest != "" {
		if app, err := e.d.Vault.Kept(ctx, inst.App, inst.Digest); err == nil {
			return app, nil
		} else if ErrorCode(err) != ENOTFOUND {
			return App{}, err
		}
	}
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil {
		return App{}, err
	}
	if app.Version != inst.Version {
		return App{}, Errorf(ENOTFOUND, "the bundle of %s %s is neither kept nor in the catalog (it has %s)", inst.App, inst.Version, app.Version)
	}
	return app, nil
}

func (e *Engine) openRepository(ctx context.Context, r *runState) error {
	store, id, err := e.d.Backups.Store(ctx, r.snap.repository)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.action, r.name, err)
	}
	r.snap.store, r.snap.repository = store, id
	return nil
}

// backUp keeps the app still, saves it, and lets it go again.
func (e *Engine) backUp(ctx context.Context, r *runState) error {
	b, err := e.saveBackup(ctx, r, r.inst, r.app, r.snap.store)
	if err != nil {
		return err
	}
	r.snap.backup = b
	return nil
}

// saveBackup takes one backup of inst (bundle app) into store.
func (e *Engine) saveBackup(ctx context.Context, r *runState, inst Installation, app App, store BackupStore) (Backup, error) {
	vh, err := e.volumesOf(ctx, inst)
	if err != nil {
		return Backup{}, err
	}
	vols, err := vh.AppVolumes(ctx, inst.Name)
	if err != nil {
		return Backup{}, err
	}
	params, err := e.d.Runs.LastParameters(ctx, inst.Name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return Backup{}, err
	}
	plain, secrets := splitSecrets(params, app.Sensitive)
	rec := backupRecord{Format: 1, Installation: inst.Name, App: inst.App, Version: inst.Version, Digest: inst.Digest, Ports: inst.Ports,
		Parameters: plain, Secrets: secrets, Outputs: inst.Outputs, Volumes: vols, Node: inst.Node.NodeID, Created: e.d.Now()}
	if rec.Version == "" {
		rec.Version = app.Version
	}
	if rec.Digest == "" {
		rec.Digest = app.Digest
	}

	// Keep the app still while its volumes are read.
	release, how, err := e.quiesce(ctx, r, vh, inst, app)
	if err != nil {
		return Backup{}, err
	}
	rec.Quiesce = how
	raw, err := json.Marshal(rec)
	if err != nil {
		return Backup{}, errors.Join(err, release())
	}
	fmt.Fprintf(r.out, "stackhub: backing up %s (%d volumes, quiesce: %s)\n", inst.Name, len(vols), how)
	feed := e.feeds.get(r.run.ID)
	started := e.d.Now()
	var b Backup
	err = vh.ExportVolumes(ctx, vols, func(x VolumeExport) error {
		var err error
		b, err = store.Save(ctx, BackupSource{Installation: inst.Name, Record: raw, BundleDir: app.Dir, Volumes: vols, Export: failingExport{x},
			Tags: map[string]string{"app": rec.App, "version": rec.Version, "digest": rec.Digest, "quiesce": how}},
			func(p BackupProgress) {
				if feed != nil {
					feed.add(JobEvent{Type: "stage", Stage: "backing-up", Current: p.Bytes, Total: p.Total, Files: p.Files,
						ETASeconds: eta(e.d.Now().Sub(started), p.Bytes, p.Total), Message: fmt.Sprintf("%d files", p.Files)})
				}
			})
		return err
	})
	if relErr := release(); relErr != nil {
		err = errors.Join(err, relErr)
	}
	if err != nil {
		return Backup{}, fmt.Errorf("back up %s: %w", inst.Name, err)
	}
	fmt.Fprintf(r.out, "stackhub: backup %s of %s: %d bytes in %d files\n", b.ID, inst.Name, b.Size, b.Files)
	if r.snap != nil && r.snap.record.Installation == "" {
		r.snap.record = rec
	}
	return b, nil
}

// failingExport hits the fail point BackupMidSave as each volume's
// files start to come (in its archive or its walk).
type failingExport struct{ VolumeExport }

func (f failingExport) Open(v Volume) (io.ReadCloser, error) {
	rd, err := f.VolumeExport.Open(v)
	failpoint.Hit(failpoint.BackupMidSave)
	return rd, err
}

func (f failingExport) Walk(v Volume, fn func(VolumeEntry) error) error {
	first := true
	return f.VolumeExport.Walk(v, func(e VolumeEntry) error {
		if first {
			failpoint.Hit(failpoint.BackupMidSave)
			first = false
		}
		return fn(e)
	})
}

// quiesce keeps an installation's data still for a backup: the bundle's
// backup action (undone by its postBackup action) when it has both, else
// its running containers stopped (started again by release).
func (e *Engine) quiesce(ctx context.Context, r *runState, vh VolumeHost, inst Installation, app App) (release func() error, how string, err error) {
	post := ""
	for _, a := range []string{"postBackup", "post-backup"} {
		if slices.Contains(app.Actions, a) {
			post = a
		}
	}
	if slices.Contains(app.Actions, "backup") && post != "" {
		if err := e.bundleStep(ctx, r, app, inst, "backup"); err != nil {
			return nil, "", err
		}
		return func() error { return e.bundleStep(context.WithoutCancel(ctx), r, app, inst, Action(post)) }, QuiesceActions, nil
	}
	stopped, err := vh.StopContainers(ctx, inst.Containers)
	if err != nil {
		return nil, "", err
	}
	if len(stopped) == 0 {
		return func() error { return nil }, QuiesceNone, nil
	}
	fmt.Fprintf(r.out, "stackhub: stopped %s for the copy\n", strings.Join(stopped, ", "))
	return func() error {
		err := vh.StartContainers(context.WithoutCancel(ctx), stopped)
		if err == nil {
			fmt.Fprintf(r.out, "stackhub: started %s again\n", strings.Join(stopped, ", "))
		}
		return err
	}, QuiesceStopped, nil
}

// bundleStep runs one of the bundle's custom actions inside r's run.
func (e *Engine) bundleStep(ctx context.Context, r *runState, app App, inst Installation, action Action) error {
	params, err := e.d.Runs.LastParameters(ctx, inst.Name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return err
	}
	run := r.run
	run.Action = action
	run.Parameters, run.Secrets = splitSecrets(params, app.Sensitive)
	for _, p := range inst.Ports {
		run.Parameters[p.Param] = p.Port
	}
	ap, err := e.permissionsOf(ctx, app)
	if err != nil {
		return err
	}
	res, err := e.runAction(ctx, app, run, ap.usable(), r.out)
	if err != nil {
		return err
	}
	if res.Status != RunSucceeded {
		return Errorf(EINTERNAL, "the bundle's %s action failed: %s", action, r.out.reason(res.Message))
	}
	return nil
}

// recordSnapshot records a backup's outcome: the installation as it was,
// the backup's ID as the run's output.
func (e *Engine) recordSnapshot(ctx context.Context, r *runState) error {
	r.state, r.reason, r.release = r.inst.State, r.inst.Reason, false
	if r.err != nil {
		r.status = RunFailed
		if ctx.Err() != nil {
			r.status = RunCanceled
		}
		r.reason = "backup failed: " + ErrorMessage(r.err)
		if r.inst.State == StateRunning {
			r.reason = r.inst.Reason
		}
		r.run.Message = ErrorMessage(r.err)
		e.log.Warn("backup failed", "installation", r.name, "run", r.run.ID, "err", r.err)
		return nil
	}
	r.status = RunSucceeded
	r.run.Outputs = map[string]string{"backup": r.snap.backup.ID, "repository": r.snap.repository}
	return nil
}

// StartRestore puts a backup back as a job and returns the installation and
// the run at once.
//
// Into the backup's own installation while it exists (in place): a backup
// of its current data is taken first (its ID is the run's output
// "safety"), then its containers are removed, its volumes replaced and the
// backup's bundle version brought up again with the backup's settings and
// the installation's ports. Into a name that is not installed (the same
// one after an uninstall, or another: a clone): the backup's bundle
// version is installed with the backup's settings, new ports, and volumes
// filled from the backup before its containers first start.
//
// Returns EINVALID, ENOTFOUND (backup, repository, bundle), EUNAVAILABLE,
// and ECONFLICT when a run is in progress or no port is free.
func (e *Engine) StartRestore(ctx context.Context, req RestoreRequest) (Installation, Run, error) {
	r := &runState{name: req.Name, action: ActionRestore, snap: &snapshotState{repository: req.Repository}, node: req.Node}
	r.snap.backup.ID = req.Backup
	if e.d.Backups == nil || e.d.Volumes == nil {
		return Installation{}, Run{}, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	if err := e.openRepository(ctx, r); err != nil {
		return Installation{}, Run{}, err
	}
	if err := e.readRecord(ctx, r); err != nil {
		return Installation{}, Run{}, err
	}
	if r.name == "" {
		r.name = r.snap.record.Installation
	}
	if err := validateName("name", r.name); err != nil {
		return Installation{}, Run{}, err
	}
	lc := e.restoreNewLifecycle()
	if cur, err := e.d.Installations.Installation(ctx, r.name); err == nil && cur.State.Live() {
		if req.Node != "" {
			return Installation{}, Run{}, Errorf(EINVALID, "node: %s is installed (on its node): a restore in place stays there; to move it, back it up, uninstall it (its volumes are kept) and restore the backup with a node (stackhub app move)", r.name)
		}
		lc = e.restoreInPlaceLifecycle()
	}
	acc, err := e.start(ctx, lc, r)
	if err != nil {
		return Installation{}, Run{}, err
	}
	return acc.inst, acc.run, nil
}

// readRecord reads the backup's record and finds its bundle: kept in the
// vault, or else the one saved in the backup (then kept).
func (e *Engine) readRecord(ctx context.Context, r *runState) error {
	id := r.snap.backup.ID
	b, err := r.snap.store.Backup(ctx, id)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	raw, err := r.snap.store.Record(ctx, id)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	var rec backupRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Format != 1 {
		return Errorf(EINVALID, "backup %s has no record StackHub can read (format %d)", id, rec.Format)
	}
	r.snap.backup, r.snap.record = b, rec
	app, err := e.backupBundle(ctx, r.snap.store, b, rec)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	r.app, r.appName = app, app.Name
	return nil
}

// backupBundle finds the bundle a backup ran.
func (e *Engine) backupBundle(ctx context.Context, store BackupStore, b Backup, rec backupRecord) (App, error) {
	if e.d.Vault != nil && rec.Digest != "" {
		if app, err := e.d.Vault.Kept(ctx, rec.App, rec.Digest); err == nil {
			return app, nil
		}
	}
	if app, err := e.d.Catalog.App(ctx, rec.App); err == nil && app.Version == rec.Version && (rec.Digest == "" || app.Digest == rec.Digest) {
		return app, nil
	}
	if e.d.Vault == nil {
		return App{}, Errorf(ENOTFOUND, "the bundle of %s %s is not in the catalog, and no vault keeps bundles here", rec.App, rec.Version)
	}
	// The bundle saved in the backup: keep it, then run it from the vault.
	tmp, err := os.MkdirTemp("", "stackhub-restore-")
	if err != nil {
		return App{}, err
	}
	defer os.RemoveAll(tmp)
	dir, err := store.ExtractBundle(ctx, b.ID, tmp)
	if err != nil {
		return App{}, err
	}
	app, err := e.d.Vault.KeepDir(ctx, dir, rec.Digest)
	if err != nil {
		return App{}, fmt.Errorf("the bundle saved in backup %s: %w", b.ID, err)
	}
	return app, nil
}

// restoreInPlaceLifecycle restores an installation's own data.
func (e *Engine) restoreInPlaceLifecycle() *lifecycle {
	return &lifecycle{
		kind: "restore",
		prepare: []step{
			{"check installation", e.checkRestoreInPlace},
			{"look up permissions granted", e.lookupGranted},
		},
		reserve: []step{{"begin run", e.beginModify}},
		act: []step{
			{"back up the current data", e.safetyBackup},
			{"remove containers", e.removeContainers},
			{"restore volumes", e.restoreVolumes},
			{"bring the app up", e.upAgain},
		},
		record: []step{{"record outcome", e.recordRestore}},
	}
}

func (e *Engine) checkRestoreInPlace(ctx context.Context, r *runState) error {
	inst, err := e.d.Installations.Installation(ctx, r.name)
	if err != nil {
		return fmt.Errorf("restore %s: %w", r.name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return err
	}
	if inst.App != r.snap.record.App {
		return Errorf(ECONFLICT, "%s runs %s, the backup is of %s: restore it under another name", r.name, inst.App, r.snap.record.App)
	}
	r.inst, r.snap.inPlace = inst, true
	params := maps.Clone(r.snap.record.Parameters)
	if params == nil {
		params = map[string]any{}
	}
	for k, v := range r.snap.record.Secrets {
		params[k] = v
	}
	for _, p := range inst.Ports {
		params[p.Param] = p.Port
	}
	run := Run{ID: e.d.NewID(), Installation: r.name, Action: ActionRestore, Revision: e.d.NewID(), Status: RunRunning,
		Created: e.d.Now(), Version: r.app.Version, Digest: r.snap.record.Digest}
	run.Parameters, run.Secrets = splitSecrets(params, r.app.Sensitive)
	r.run = run
	return nil
}

// safetyBackup backs the current data up before a restore replaces it.
func (e *Engine) safetyBackup(ctx context.Context, r *runState) error {
	app, err := e.installedBundle(ctx, r.inst)
	if err != nil {
		return fmt.Errorf("back up the current data first: %w", err)
	}
	b, err := e.saveBackup(ctx, r, r.inst, app, r.snap.store)
	if err != nil {
		return fmt.Errorf("back up the current data first (nothing was changed): %w", err)
	}
	r.snap.safety = b.ID
	return nil
}

// removeContainers removes the installation's containers and networks,
// keeping its volumes.
func (e *Engine) removeContainers(ctx context.Context, r *runState) error {
	_, err := e.d.Host.RemoveApp(ctx, r.name, "", false)
	return err
}

// restoreVolumes fills the installation's volumes from the backup: for
// each volume saved, the volume of the same key, named and labelled for
// this installation (a clone's are new, labelled with its run so that a
// failed clone removes them).
func (e *Engine) restoreVolumes(ctx context.Context, r *runState) error {
	vh, err := e.volumesOf(ctx, r.inst)
	if err != nil {
		return err
	}
	feed := e.feeds.get(r.run.ID)
	meter := &restoreMeter{now: e.d.Now, started: e.d.Now(), total: r.snap.backup.Size, feed: feed}
	for i, v := range r.snap.record.Volumes {
		target := v
		if !r.snap.inPlace {
			target = cloneVolume(v, r.snap.record.Installation, r.name, r.run.Revision)
		}
		if feed != nil {
			feed.add(JobEvent{Type: "stage", Stage: "restoring", Resource: target.Name, Current: int64(i), Total: int64(len(r.snap.record.Volumes))})
		}
		rd, err := r.snap.store.OpenVolume(ctx, r.snap.backup.ID, v.Key)
		if err != nil {
			return err
		}
		meter.rd = rd
		err = vh.ImportVolume(ctx, target, meter)
		rd.Close()
		if err != nil {
			return fmt.Errorf("restore volume %s: %w", target.Name, err)
		}
		fmt.Fprintf(r.out, "stackhub: restored volume %s\n", target.Name)
		failpoint.Hit(failpoint.RestoreAfterVolume)
	}
	return nil
}

// eta is the time left, in whole seconds, to do total at the rate done
// took elapsed; 0 when not known yet.
func eta(elapsed time.Duration, done, total int64) int64 {
	if done <= 0 || total <= done || elapsed < time.Second {
		return 0
	}
	return int64(math.Ceil(elapsed.Seconds() * float64(total-done) / float64(done)))
}

// restoreMeter counts the bytes of the archives a restore reads and tells
// the job how far it is, at most twice a second.
type restoreMeter struct {
	rd      io.Reader
	now     func() time.Time
	started time.Time
	last    time.Time
	done    int64
	total   int64
	feed    *feed
}

func (m *restoreMeter) Read(p []byte) (int, error) {
	n, err := m.rd.Read(p)
	m.done += int64(n)
	if m.feed != nil && m.total > 0 {
		if now := m.now(); now.Sub(m.last) >= 500*time.Millisecond || err != nil {
			m.last = now
			done := min(m.done, m.total)
			m.feed.add(JobEvent{Type: "stage", Stage: "restoring", Current: done, Total: m.total, ETASeconds: eta(now.Sub(m.started), done, m.total)})
		}
	}
	return n, err
}

// cloneVolume is v as installation to's: its name and the labels that tie
// it to an installation and a compose project follow the new name.
func cloneVolume(v Volume, from, to, revision string) Volume {
	out := v
	out.Labels = maps.Clone(v.Labels)
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	oldProject, newProject := naming.Project(from), naming.Project(to)
	out.Name = newProject + "_" + v.Key
	if strings.HasPrefix(v.Name, oldProject+"_") {
		out.Name = newProject + "_" + strings.TrimPrefix(v.Name, oldProject+"_")
	}
	out.Labels[naming.LabelApp] = to
	out.Labels[naming.LabelRun] = revision
	if _, ok := out.Labels["com.docker.compose.project"]; ok {
		out.Labels["com.docker.compose.project"] = newProject
	}
	// Compose hashes a volume's configuration, its name included, and
	// asks before it "recreates" one whose hash differs: a restored volume
	// carries none, which compose leaves as it is.
	delete(out.Labels, "com.docker.compose.config-hash")
	return out
}

// upAgain runs the backup's bundle version's upgrade action: compose brings
// the containers up on the restored volumes.
func (e *Engine) upAgain(ctx context.Context, r *runState) error {
	run := r.run
	run.Action = ActionUpgrade
	res, err := e.runAction(ctx, r.app, run, r.granted, r.out)
	r.res = res
	return err
}

// recordRestore records a restore's outcome.
func (e *Engine) recordRestore(ctx context.Context, r *runState) error {
	if r.err == nil && r.res.Status == RunSucceeded {
		r.run.Outputs, r.run.Values = r.res.Visible(), r.res.Outputs
		if r.run.Outputs == nil {
			r.run.Outputs = map[string]string{}
		}
		r.run.Outputs["restored"] = r.snap.backup.ID
		if r.snap.safety != "" {
			r.run.Outputs["safety"] = r.snap.safety
		}
		r.status, r.state, r.reason, r.release = RunSucceeded, StateRunning, "", false
		e.keepBundle(ctx, r.app)
		return nil
	}
	reason := r.out.reason(r.res.Message)
	if r.err != nil {
		reason = ErrorMessage(r.err)
	}
	status := RunFailed
	if ctx.Err() != nil {
		status = RunCanceled
	}
	switch {
	case r.snap.inPlace && r.snap.safety == "":
		// Nothing was touched: the safety backup came first.
		r.status, r.state, r.reason, r.release = status, r.inst.State, r.inst.Reason, false
		r.run.Message = "restore failed before any change: " + reason
	case r.snap.inPlace:
		r.status, r.state, r.release = status, StateFailed, false
		r.reason = fmt.Sprintf("restore failed: %s (the data it replaced is backup %s)", reason, r.snap.safety)
	default:
		r.status, r.state, r.reason, r.release = status, StateFailed, "restore failed: "+reason, true
	}
	e.log.Warn("restore failed", "installation", r.name, "run", r.run.ID, "reason", reason)
	return nil
}

// restoreNewLifecycle restores a backup into an installation that does not
// exist: an install of the backup's bundle whose volumes are filled before
// its containers first start.
func (e *Engine) restoreNewLifecycle() *lifecycle {
	return &lifecycle{
		kind: "restore",
		prepare: []step{
			{"restore settings", e.restoreParameters},
			{"check permissions granted", e.checkGranted},
			{"place on a node", e.placeInstall},
			{"check host", e.checkInstall},
		},
		reserve: []step{{"reserve installation, ports and names", e.reserveInstall}},
		act: []step{
			{"restore volumes", e.restoreVolumes},
			{"install", e.installRestored},
			{"remove the volumes left on the old node", e.removeOldNodeVolumes},
		},
		record: []step{{"record outcome", e.recordRestore}},
		compensate: []step{
			{"remove what the run created", e.removeFailedInstall},
			{"remove the volumes made on the node", e.removeNewNodeVolumes},
		},
	}
}

// restoreParameters makes the backup's settings the request: ports are
// left out (new ones are chosen), secrets come back.
func (e *Engine) restoreParameters(_ context.Context, r *runState) error {
	req := map[string]any{}
	for k, v := range r.snap.record.Parameters {
		req[k] = v
	}
	for k, v := range r.snap.record.Secrets {
		req[k] = v
	}
	for _, p := range r.app.Ports {
		delete(req, p.Name)
	}
	delete(req, "purge")
	r.request = req
	r.force = true // the data is the operator's; the preflight guards new installs
	return nil
}

// installRestored runs the bundle's install action on the restored volumes.
func (e *Engine) installRestored(ctx context.Context, r *runState) error {
	run := r.run
	run.Action = ActionInstall
	res, err := e.runAction(ctx, r.app, run, r.granted, r.out)
	r.res = res
	return err
}

// BackupsOf lists the backups of installation ("" for all) in repository
// ("" for the default one), newest first.
func (e *Engine) BackupsOf(ctx context.Context, repository, installation string) ([]Backup, error) {
	if installation != "" {
		if err := validateName("name", installation); err != nil {
			return nil, err
		}
	}
	if e.d.Backups == nil {
		return nil, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	store, _, err := e.d.Backups.Store(ctx, repository)
	if err != nil {
		return nil, err
	}
	return store.Backups(ctx, installation)
}

// VerifyBackup reads backup id (all backups for "") of repository back.
func (e *Engine) VerifyBackup(ctx context.Context, repository, id string) (VerifyResult, error) {
	if e.d.Backups == nil {
		return VerifyResult{}, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	store, _, err := e.d.Backups.Store(ctx, repository)
	if err != nil {
		return VerifyResult{}, err
	}
	return store.Verify(ctx, id, nil)
}

// DeleteBackup removes backup id from repository.
func (e *Engine) DeleteBackup(ctx context.Context, repository, id string) error {
	if e.d.Backups == nil {
		return Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	store, _, err := e.d.Backups.Store(ctx, repository)
	if err != nil {
		return err
	}
	return store.Delete(ctx, id)
}

// PruneBackups applies keep to installation's backups in repository and
// collects unused data.
func (e *Engine) PruneBackups(ctx context.Context, repository, installation string, keep Retention) ([]string, error) {
	if e.d.Backups == nil {
		return nil, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	if keep.Last < 0 || keep.Daily < 0 || keep.Weekly < 0 || keep.Monthly < 0 {
		return nil, Errorf(EINVALID, "retention counts cannot be negative")
	}
	store, _, err := e.d.Backups.Store(ctx, repository)
	if err != nil {
		return nil, err
	}
	e.pruning.Lock()
	defer e.pruning.Unlock()
	return store.Prune(ctx, installation, keep)
}

// Repositories returns the backup repositories, secrets left out.
func (e *Engine) Repositories(ctx context.Context) ([]RepositoryConfig, error) {
	if e.d.Backups == nil {
		return nil, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	return e.d.Backups.Repositories(ctx)
}

// AddRepository configures a backup repository (see BackupRepositories).
func (e *Engine) AddRepository(ctx context.Context, c RepositoryConfig, create bool) (RepositoryConfig, error) {
	if e.d.Backups == nil {
		return RepositoryConfig{}, Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	c.Created = e.d.Now()
	out, err := e.d.Backups.AddRepository(ctx, c, create)
	out.Password, out.SecretKey = "", ""
	return out, err
}

// RemoveRepository forgets a backup repository; its data stays.
func (e *Engine) RemoveRepository(ctx context.Context, id string) error {
	if e.d.Backups == nil {
		return Errorf(EUNAVAILABLE, "backups are not configured on this server")
	}
	return e.d.Backups.RemoveRepository(ctx, id)
}

// preUpgradeBackup backs the installation up before its upgrade runs, so
// that a failed upgrade can be rolled back with its data. Without a backup
// repository the upgrade goes on, and the run's log says a failure would
// bring the previous version back without restoring the data.
func (e *Engine) preUpgradeBackup(ctx context.Context, r *runState) error {
	r.snap = &snapshotState{}
	prev, err := e.installedBundle(ctx, r.inst)
	if err != nil {
		fmt.Fprintf(r.out, "stackhub: the bundle of %s %s is not kept: a failed upgrade cannot be rolled back (%s)\n", r.inst.App, r.inst.Version, ErrorMessage(err))
		return nil
	}
	r.snap.prev = prev
	if e.d.Backups == nil || e.d.Volumes == nil {
		fmt.Fprintf(r.out, "stackhub: backups are not configured: a failed upgrade is rolled back without restoring data\n")
		return nil
	}
	store, id, err := e.d.Backups.Store(ctx, "")
	if ErrorCode(err) == ENOTFOUND {
		fmt.Fprintf(r.out, "stackhub: no backup repository: a failed upgrade is rolled back without restoring data\n")
		return nil
	}
	if err != nil {
		return fmt.Errorf("back up before upgrading (nothing was changed): %w", err)
	}
	r.snap.store, r.snap.repository = store, id
	feed := e.feeds.get(r.run.ID)
	if feed != nil {
		feed.add(JobEvent{Type: "stage", Stage: "backing-up", Message: "before the upgrade"})
	}
	b, err := e.saveBackup(ctx, r, r.inst, prev, store)
	if err != nil {
		return fmt.Errorf("back up before upgrading (nothing was changed): %w", err)
	}
	r.snap.backup = b
	return nil
}

// actUpgrade runs the upgrade's action; from here a failure is rolled back.
func (e *Engine) actUpgrade(ctx context.Context, r *runState) error {
	if r.snap != nil {
		r.snap.acted = true
	}
	return e.act(ctx, r)
}

// rollBack undoes a failed upgrade (its compensation): the new version's
// containers are removed, the volumes are restored from the backup taken
// before it, and the previous bundle version is brought up again with the
// settings and ports it had. The installation runs as before; the run
// stays failed and says it was rolled back, and why.
func (e *Engine) rollBack(ctx context.Context, r *runState) error {
	if r.snap == nil || !r.snap.acted || r.snap.prev.Name == "" {
		return nil
	}
	// A cancel of the upgrade must not cancel its rollback.
	ctx = context.WithoutCancel(ctx)
	why := r.reason
	feed := e.feeds.get(r.run.ID)
	if feed != nil {
		feed.add(JobEvent{Type: "stage", Stage: "rolling-back", Message: why})
	}
	fmt.Fprintf(r.out, "stackhub: %s; rolling back to %s %s\n", why, r.snap.prev.Name, r.snap.prev.Version)
	fail := func(err error) error {
		r.state = StateFailed
		r.reason = fmt.Sprintf("%s; the rollback failed too: %s", why, ErrorMessage(err))
		if r.snap.backup.ID != "" {
			r.reason += fmt.Sprintf(" (the data before the upgrade is backup %s)", r.snap.backup.ID)
		}
		return err
	}
	if _, err := e.d.Host.RemoveApp(ctx, r.name, "", false); err != nil {
		return fail(err)
	}
	if r.snap.backup.ID != "" {
		r.snap.inPlace = true
		if err := e.restoreVolumes(ctx, r); err != nil {
			return fail(err)
		}
	}
	params, err := e.d.Runs.LastParameters(ctx, r.name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return fail(err)
	}
	if params == nil {
		params = map[string]any{}
	}
	delete(params, "purge")
	for _, p := range r.inst.Ports {
		params[p.Param] = p.Port
	}
	run := r.run
	run.Action = ActionUpgrade
	run.Parameters, run.Secrets = splitSecrets(params, r.snap.prev.Sensitive)
	ap, err := e.permissionsOf(ctx, r.snap.prev)
	if err != nil {
		return fail(err)
	}
	res, err := e.runAction(ctx, r.snap.prev, run, ap.usable(), r.out)
	if err != nil {
		return fail(err)
	}
	if res.Status != RunSucceeded {
		return fail(Errorf(EINTERNAL, "%s %s did not come up: %s", r.snap.prev.Name, r.snap.prev.Version, r.out.reason(res.Message)))
	}
	r.state = StateRunning
	r.reason = fmt.Sprintf("rolled back to %s: %s", r.snap.prev.Version, why)
	r.run.Outputs = map[string]string{"rolledBack": r.snap.prev.Version}
	if r.snap.backup.ID != "" {
		r.run.Outputs["backup"] = r.snap.backup.ID
	}
	fmt.Fprintf(r.out, "stackhub: rolled back: %s %s runs as before\n", r.snap.prev.Name, r.snap.prev.Version)
	e.log.Warn("upgrade rolled back", "installation", r.name, "run", r.run.ID, "version", r.snap.prev.Version, "reason", why)
	return nil
}

// volumesOf is the VolumeHost of inst's volumes: NodeVolumes' for an app
// placed on a Swarm node, else Volumes.
func (e *Engine) volumesOf(ctx context.Context, inst Installation) (VolumeHost, error) {
	if !inst.Node.OnSwarm() || e.d.NodeVolumes == nil {
		return e.d.Volumes, nil
	}
	vh, err := e.d.NodeVolumes.OnNode(ctx, inst.Node.NodeID)
	if err != nil {
		return nil, fmt.Errorf("the volumes of %s on node %s: %w", inst.Name, inst.Node.Hostname, err)
	}
	return vh, nil
}

// movedFrom is the Swarm node an app restored from its own backup was on,
// when it is another than the one it is restored on ("" otherwise).
func (r *runState) movedFrom() string {
	rec := r.snap.record
	if r.snap.inPlace || rec.Node == "" || rec.Installation != r.name || rec.Node == r.inst.Node.NodeID {
		return ""
	}
	return rec.Node
}

// removeOldNodeVolumes ends a move: the app runs on its new node, and
// the volumes it left on its old node (kept by its uninstall) go. A
// failure is reported in the run's log, never undoes the move.
func (e *Engine) removeOldNodeVolumes(ctx context.Context, r *runState) error {
	old := r.movedFrom()
	if old == "" || e.d.NodeVolumes == nil || r.res.Status != RunSucceeded {
		return nil
	}
	removed, err := e.d.NodeVolumes.PurgeVolumes(ctx, old, r.name)
	if err != nil {
		fmt.Fprintf(r.out, "stackhub: the volumes %s left on node %s were not removed: %s\n", r.name, old, ErrorMessage(err))
		e.log.Warn("old node's volumes not removed after a move", "installation", r.name, "node", old, "err", err)
		return nil
	}
	fmt.Fprintf(r.out, "stackhub: moved from node %s: removed its volumes there: %s\n", old, strings.Join(removed, ", "))
	return nil
}

// removeNewNodeVolumes undoes a failed restore's volumes on a remote node
// (the local engine's go with the run's label): never those of the node
// the app's own backup was taken on, which may still hold its data.
func (e *Engine) removeNewNodeVolumes(ctx context.Context, r *runState) error {
	if r.snap.inPlace || !r.inst.Node.OnSwarm() || e.d.NodeVolumes == nil || r.inst.Node.NodeID == r.snap.record.Node {
		return nil
	}
	removed, err := e.d.NodeVolumes.PurgeVolumes(context.WithoutCancel(ctx), r.inst.Node.NodeID, r.name)
	if err != nil {
		fmt.Fprintf(r.out, "stackhub: the volumes restored on node %s were not removed: %s\n", r.inst.Node.Hostname, ErrorMessage(err))
		return nil
	}
	if len(removed) > 0 {
		fmt.Fprintf(r.out, "stackhub: removed the volumes restored on node %s: %s\n", r.inst.Node.Hostname, strings.Join(removed, ", "))
	}
	return nil
}
