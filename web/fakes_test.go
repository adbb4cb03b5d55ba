package web

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// The web layer's use cases faked one narrow interface at a time: a test
// sets the Server field it exercises (Apps, Lifecycle, Jobs, Catalog,
// Host, Grants) and nothing else; fakeEngine, all of them at once, is for the
// tests that walk every route.

// fakeApps is an AppReader; info answers Info.
type fakeApps struct {
	info func(string) (orchestrator.Installation, error)
}

// fakeLifecycle is an AppLifecycle; install and uninstall answer Install
// and Uninstall (and StartUninstall).
type fakeLifecycle struct {
	install   func(orchestrator.InstallRequest) (orchestrator.Installation, error)
	uninstall func(orchestrator.UninstallRequest) (orchestrator.UninstallResult, error)
}

// fakeJobs is a JobService.
type fakeJobs struct{}

// fakeCatalog is a CatalogService serving demoApp.
type fakeCatalog struct{}

// fakeHost is a HostService.
type fakeHost struct{}

// fakeGrants is a GrantService: app "vpn" (bundle sha256:aa) declares
// cap-add:NET_ADMIN; granted is its live grant, if any; by is who last
// granted or revoked. A nil *fakeGrants (fakeEngine{}) answers as a new
// one and keeps nothing.
type fakeGrants struct {
	granted *orchestrator.Grant
	by      string
}

// fakeEngine is every fake at once, for tests that call every route.
type fakeEngine struct {
	fakeApps
	fakeLifecycle
	fakeJobs
	fakeCatalog
	fakeHost
	*fakeGrants
	fakeBackups
	*fakeDomains
}

// fakeDomains keeps domains in a map, with the engine's normalization and
// conflicts; nil has none.
type fakeDomains struct {
	mu   sync.Mutex
	byID map[string]orchestrator.Domain
}

func (f *fakeDomains) Domains(_ context.Context, inst string) ([]orchestrator.Domain, error) {
	if inst != orchestrator.Console && inst != "demo" {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "no installation %s", inst)
	}
	out := []orchestrator.Domain{}
	if f == nil {
		return out, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.byID {
		if d.Installation == inst {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeDomains) AddDomain(_ context.Context, inst string, r orchestrator.DomainRequest) (orchestrator.Domain, error) {
	name, err := orchestrator.NormalizeDomain(r.Domain)
	if err != nil {
		return orchestrator.Domain{}, err
	}
	if inst != orchestrator.Console && inst != "demo" {
		return orchestrator.Domain{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no installation %s", inst)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byID == nil {
		f.byID = map[string]orchestrator.Domain{}
	}
	if _, ok := f.byID[name]; ok {
		return orchestrator.Domain{}, orchestrator.Errorf(orchestrator.ECONFLICT, "%s is taken", name)
	}
	d := orchestrator.Domain{Name: name, Installation: inst, Port: r.Port, MaxBodyBytes: cmp.Or(r.MaxBodyBytes, orchestrator.DefaultMaxBody),
		Certificate: orchestrator.Certificate{State: orchestrator.CertPending}}
	f.byID[name] = d
	return d, nil
}

func (f *fakeDomains) RemoveDomain(_ context.Context, inst, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.byID[name]; !ok || d.Installation != inst {
		return "", orchestrator.Errorf(orchestrator.ENOTFOUND, "no domain %s", name)
	}
	delete(f.byID, name)
	return "", nil
}

// fakeBackups is a BackupService with one repository "local" holding one
// backup "b1" of demo; it records the secrets it was given, to check that
// no answer echoes them.
type fakeBackups struct{}

func (f fakeLifecycle) Install(_ context.Context, r orchestrator.InstallRequest) (orchestrator.Installation, error) {
	return f.install(r)
}
func (f fakeLifecycle) Uninstall(_ context.Context, r orchestrator.UninstallRequest) (orchestrator.UninstallResult, error) {
	return f.uninstall(r)
}

// StartUninstall answers through uninstall: the job it starts is "u1".
func (f fakeLifecycle) StartUninstall(_ context.Context, r orchestrator.UninstallRequest) (orchestrator.Installation, error) {
	res, err := f.uninstall(r)
	if err != nil {
		return orchestrator.Installation{}, err
	}
	inst := res.Installation
	inst.State, inst.LastRunID, inst.Active = orchestrator.StateUninstalling, "u1", orchestrator.ActionUninstall
	return inst, nil
}
func (f fakeApps) Info(_ context.Context, n string) (orchestrator.Installation, error) {
	return f.info(n)
}
func (f fakeLifecycle) Upgrade(_ context.Context, r orchestrator.UpgradeRequest) (orchestrator.Run, error) {
	return orchestrator.Run{ID: "j1", Installation: r.Name, Action: "upgrade", Status: "running"}, nil
}
func (f fakeLifecycle) Action(_ context.Context, r orchestrator.ActionRequest) (orchestrator.Run, error) {
	if r.Action == "nope" {
		return orchestrator.Run{}, orchestrator.Errorf(orchestrator.EINVALID, "app demo has no action \"nope\"")
	}
	return orchestrator.Run{ID: "j2", Installation: r.Name, Action: r.Action, Status: "running"}, nil
}
func (f fakeApps) ListStamp() (orchestrator.ListStamp, bool) {
	return orchestrator.ListStamp{}, false
}
func (f fakeJobs) Run(_ context.Context, id string) (orchestrator.Run, error) {
	return orchestrator.Run{ID: id, Action: "stop", Status: "succeeded"}, nil
}
func (f fakeApps) Runs(_ context.Context, name string, limit int) ([]orchestrator.Run, error) {
	if limit > orchestrator.MaxRunsLimit {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "limit must be between 1 and %d", orchestrator.MaxRunsLimit)
	}
	runs := []orchestrator.Run{{ID: "r2", Installation: name, Action: "upgrade", Status: "running"},
		{ID: "r1", Installation: name, Action: "install", Status: "succeeded", Finished: time.Unix(1, 0)}}
	return runs[:min(limit, len(runs))], nil
}
func (f fakeApps) List(context.Context) ([]orchestrator.Installation, error) {
	return []orchestrator.Installation{
		{Name: "a", State: orchestrator.StateRunning, Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}}},
		{Name: "b", State: orchestrator.StateFailed, Reason: "boom"},
	}, nil
}
func (f fakeLifecycle) UninstallAll(_ context.Context, purge bool) ([]orchestrator.UninstallResultOf, error) {
	return []orchestrator.UninstallResultOf{
		{Name: "a", Result: orchestrator.UninstallResult{Installation: orchestrator.Installation{Name: "a"}}},
		{Name: "b", Err: orchestrator.Errorf(orchestrator.EINTERNAL, "b could not be removed: still on the host: websoft9-b (running, port 9002)")},
	}, nil
}
func (f fakeCatalog) Catalog(context.Context) ([]orchestrator.App, error) {
	return []orchestrator.App{demoApp}, nil
}
func (f fakeCatalog) PullBundle(_ context.Context, ref string, _ orchestrator.AddOptions) (orchestrator.App, error) {
	if ref == "127.0.0.1:5000/missing:v1" {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "pull %s: no such repository or tag in the registry", ref)
	}
	return orchestrator.App{Name: "pulled", Version: "1.0.0", Source: ref + "@sha256:abc"}, nil
}
func (f fakeCatalog) ImportBundle(_ context.Context, r io.Reader, _ orchestrator.AddOptions) (orchestrator.App, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return orchestrator.App{}, err
	}
	return orchestrator.App{Name: "imported", Source: fmt.Sprintf("archive of %d bytes", n)}, nil
}

// AddBundleDir takes the body as the bundle's name: "bad" has lint
// errors, "demo" is a catalog directory's app, "taken" is in the catalog
// with another digest (force replaces it).
func (f fakeCatalog) AddBundleDir(_ context.Context, r io.Reader, opts orchestrator.AddOptions) (orchestrator.App, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return orchestrator.App{}, err
	}
	switch name := string(data); {
	case name == "bad":
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.EINVALID,
			"bundle bad has 2 lint error(s): porter.yaml:3: version: required; docker-compose.yml:7: services.web.privileged: refused (rule privileged)")
	case name == "demo":
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has an app named demo; a bundle from elsewhere cannot replace it")
	case name == "taken" && !opts.Force:
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has taken 1.0.0 as sha256:a; this bundle is sha256:b")
	default:
		return orchestrator.App{Name: name, Version: "1.0.0", Source: "catalog add (converted from umbrel:" + name + ")",
			Origin: orchestrator.Origin{Store: "umbrel", ID: name, Version: "2.0"}}, nil
	}
}
func (f fakeCatalog) CatalogApp(_ context.Context, name string) (orchestrator.App, error) {
	if name != "demo" {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
	}
	return demoApp, nil
}

func (f fakeHost) Server(context.Context) (orchestrator.ServerStatus, error) {
	st := orchestrator.ServerStatus{Sampled: true, DockerVersion: "20.10.24",
		Sample: orchestrator.HostSample{CPUPercent: 12.345, MemPercent: 95, DiskPercent: 13, Load1: 0.5, Uptime: time.Hour},
		Apps:   map[orchestrator.State]int{orchestrator.StateRunning: 2, orchestrator.StateFailed: 1}}
	st.Risks = orchestrator.Risks(st, []string{"b"}, orchestrator.Exposure{})
	return st, nil
}

func (f fakeApps) Logs(_ context.Context, req orchestrator.LogsRequest, w io.Writer) error {
	if req.Name == "nope" {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "nope is not installed")
	}
	_, err := fmt.Fprintf(w, "line of %s tail=%d follow=%t\n", req.Name, req.Tail, req.Follow)
	return err
}

func (f fakeJobs) WatchJob(_ context.Context, id string, seq int, fn func(orchestrator.JobEvent) error) error {
	if id == "nope" {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "job nope not found")
	}
	all := []orchestrator.JobEvent{
		{Seq: 1, Type: "stage", Stage: "queued"},
		{Seq: 2, Type: "stage", Stage: "pulling", Image: "a:1", Current: 5, Total: 10},
		{Seq: 3, Type: "log", Line: "websoft9: Container x Started"},
		{Seq: 4, Type: "stage", Stage: "done"},
	}
	for _, ev := range all[seq:] {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}
func (f fakeJobs) CancelJob(_ context.Context, id string) (orchestrator.Run, error) {
	if id == "done1" {
		return orchestrator.Run{}, orchestrator.Errorf(orchestrator.ECONFLICT, "job done1 is not running (succeeded)")
	}
	return orchestrator.Run{ID: id, Status: "running"}, nil
}

func (f fakeHost) Readiness(context.Context) orchestrator.Readiness {
	return orchestrator.Readiness{{Name: orchestrator.CheckStore, OK: true}}
}

func (f fakeApps) Credentials(_ context.Context, name string) (orchestrator.Credentials, error) {
	if name != "demo" {
		return orchestrator.Credentials{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", name)
	}
	return orchestrator.Credentials{Installation: name, Values: map[string]string{"db_password": "s3cret"}, Names: []string{"db_password"}}, nil
}

var vpnPermissions = []orchestrator.Permission{"cap-add:NET_ADMIN"}

func (f *fakeGrants) AppPermissions(_ context.Context, name string) (orchestrator.AppPermissions, error) {
	if f == nil {
		f = &fakeGrants{}
	}
	switch name {
	case "vpn":
		return orchestrator.AppPermissions{App: "vpn", Version: "1.0.0", Digest: "sha256:aa", Declared: vpnPermissions, Grant: f.granted}, nil
	case "demo":
		return orchestrator.AppPermissions{App: "demo", Version: demoApp.Version, Digest: "sha256:dd"}, nil
	}
	return orchestrator.AppPermissions{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
}

func (f *fakeGrants) GrantPermissions(_ context.Context, req orchestrator.GrantRequest) (orchestrator.Grant, bool, error) {
	if f == nil {
		f = &fakeGrants{}
	}
	if req.App != "vpn" {
		return orchestrator.Grant{}, false, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", req.App)
	}
	if len(req.Permissions) != 1 || req.Permissions[0] != "cap-add:NET_ADMIN" {
		return orchestrator.Grant{}, false, orchestrator.Errorf(orchestrator.EINVALID, "grant exactly what vpn 1.0.0 declares: cap-add:NET_ADMIN")
	}
	f.by = req.By
	if f.granted != nil {
		return *f.granted, false, nil
	}
	f.granted = &orchestrator.Grant{ID: "g1", App: "vpn", Version: "1.0.0", Digest: req.Digest, Permissions: vpnPermissions,
		GrantedBy: req.By, GrantedAt: time.Unix(1, 0).UTC()}
	return *f.granted, true, nil
}

func (f *fakeGrants) Grants(context.Context) ([]orchestrator.Grant, error) {
	if f == nil {
		f = &fakeGrants{}
	}
	if f.granted == nil {
		return nil, nil
	}
	return []orchestrator.Grant{*f.granted}, nil
}

func (f *fakeGrants) RevokeGrant(_ context.Context, id, by string) error {
	if f == nil {
		f = &fakeGrants{}
	}
	if f.granted == nil || f.granted.ID != id {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no live grant %s", id)
	}
	f.granted, f.by = nil, by
	return nil
}
func (f fakeApps) Settings(_ context.Context, name string) (orchestrator.AppSettings, error) {
	if name != "demo" {
		return orchestrator.AppSettings{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", name)
	}
	// The engine never gives a sensitive value; the handler must not pass
	// one on even so.
	return orchestrator.AppSettings{Name: name, Version: "1.0.0", App: orchestrator.App{Name: "demo", Version: "1.1.0"},
		Values: []orchestrator.Setting{{Name: "greeting", Value: "hello", Set: true, Editable: true},
			{Name: "secret", Value: "hunter2", Sensitive: true, Set: true, Editable: true}}}, nil
}
func (f fakeApps) Stats(_ context.Context, name string) ([]orchestrator.ContainerStats, error) {
	return []orchestrator.ContainerStats{{Name: "websoft9-" + name, CPUPercent: 12.5, MemoryBytes: 1 << 20, MemoryLimit: 1 << 30, PIDs: 3}}, nil
}
func (f fakeLifecycle) PlanUpgrade(_ context.Context, r orchestrator.UpgradeRequest) (orchestrator.UpgradePlan, error) {
	p := orchestrator.UpgradePlan{Name: r.Name, FromVersion: "1.0.0", ToVersion: "1.1.0"}
	for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
		sensitive := k == "secret"
		p.Changes = append(p.Changes, orchestrator.SettingChange{Name: k, From: "old", To: r.Parameters[k], Sensitive: sensitive})
	}
	return p, nil
}

var fakeBackup = orchestrator.Backup{ID: "b1", Installation: "demo", App: "demo", Version: "0.1.0", Size: 42, Files: 3, Quiesce: orchestrator.QuiesceStopped}

func (fakeBackups) StartBackup(_ context.Context, r orchestrator.BackupRequest) (orchestrator.Run, error) {
	if r.Name != "demo" {
		return orchestrator.Run{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", r.Name)
	}
	return orchestrator.Run{ID: "j7", Installation: r.Name, Action: orchestrator.ActionSnapshot, Status: "running"}, nil
}
func (fakeBackups) StartRestore(_ context.Context, r orchestrator.RestoreRequest) (orchestrator.Installation, orchestrator.Run, error) {
	if r.Backup != "b1" {
		return orchestrator.Installation{}, orchestrator.Run{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s not found", r.Backup)
	}
	name := cmp.Or(r.Name, "demo")
	return orchestrator.Installation{Name: name, App: "demo", State: orchestrator.StateInstalling},
		orchestrator.Run{ID: "j8", Installation: name, Action: orchestrator.ActionRestore, Status: "running"}, nil
}
func (fakeBackups) BackupsOf(_ context.Context, _, installation string) ([]orchestrator.Backup, error) {
	if installation != "" && installation != "demo" {
		return nil, nil
	}
	return []orchestrator.Backup{fakeBackup}, nil
}
func (fakeBackups) VerifyBackup(context.Context, string, string) (orchestrator.VerifyResult, error) {
	return orchestrator.VerifyResult{Backups: 1, Bytes: 42, Files: 3}, nil
}
func (fakeBackups) DeleteBackup(_ context.Context, _, id string) error {
	if id != "b1" {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s not found", id)
	}
	return nil
}
func (fakeBackups) PruneBackups(context.Context, string, string, orchestrator.Retention) ([]string, error) {
	return []string{"b0"}, nil
}
func (fakeBackups) Repositories(context.Context) ([]orchestrator.RepositoryConfig, error) {
	return []orchestrator.RepositoryConfig{{ID: "local", Kind: "filesystem", Path: "/srv/backups", Default: true}}, nil
}
func (fakeBackups) AddRepository(_ context.Context, c orchestrator.RepositoryConfig, _ bool) (orchestrator.RepositoryConfig, error) {
	if c.Password == "wrong-password" {
		return orchestrator.RepositoryConfig{}, orchestrator.Errorf(orchestrator.EFORBIDDEN, "open repository %s: wrong repository password", c.ID)
	}
	return c, nil // with its secrets: the handler must drop them
}
func (fakeBackups) RemoveRepository(context.Context, string) error { return nil }

func (fakeBackups) BackupPolicyOf(_ context.Context, name string) (orchestrator.EffectivePolicy, error) {
	return orchestrator.EffectivePolicy{BackupPolicy: orchestrator.BackupPolicy{Installation: name, Schedule: "@daily", Keep: orchestrator.Retention{Last: 7}},
		Inherited: name != ""}, nil
}
func (fakeBackups) SetBackupPolicy(_ context.Context, p orchestrator.BackupPolicy) (orchestrator.EffectivePolicy, error) {
	if _, err := orchestrator.ParseSchedule(p.Schedule); p.Schedule != "" && err != nil {
		return orchestrator.EffectivePolicy{}, err
	}
	return orchestrator.EffectivePolicy{BackupPolicy: p}, nil
}
func (fakeBackups) ClearBackupPolicy(context.Context, string) error { return nil }
