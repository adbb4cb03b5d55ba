package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/bundle/definition"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

var demo = orchestrator.App{Name: "demo", Version: "0.1.0", Services: []string{"db", "web"}, Main: "web",
	Actions: []string{"stop"}, Settable: []string{"message", "admin_password", "workers", "mode"}, Sensitive: []string{"admin_password"},
	Ports: []orchestrator.PortParam{{Name: "port", Min: 9001, Max: 9999}, {Name: "db_port", Min: 3307, Max: 3399}},
	Parameters: []orchestrator.ParameterSpec{
		{Name: "port", Type: "integer", Port: true},
		{Name: "message", Type: "string", Default: "hello", ApplyTo: []string{"install", "upgrade"}, Settable: true},
		{Name: "admin_password", Type: "string", Sensitive: true, ApplyTo: []string{"install", "upgrade"}, Settable: true},
		{Name: "workers", Type: "integer", ApplyTo: []string{"install"}, Settable: true},
		{Name: "mode", Type: "string", ApplyTo: []string{"install", "upgrade"}, Settable: true, Required: true},
		{Name: "purge", Type: "boolean", ApplyTo: []string{"uninstall"}},
	}}

func TestPlanInstallSkipsTakenPorts(t *testing.T) {
	obs := orchestrator.Observed{Reserved: map[int]string{9001: "ghost"}, HostBusy: map[int]bool{9002: true, 3307: true}}
	plan, err := orchestrator.PlanInstall("blog", demo, obs)
	require.NoError(t, err)
	assert.Equal(t, `install blog (app demo 0.1.0), CNAB action install
port port = 9003
port db_port = 3308
container websoft9-blog
container websoft9-blog-db
parameter db_port = 3308
parameter port = 9003
`, plan.String())
}

// fakes: function fields and a small store, for the engine's logic only.

type fakeCatalog struct{}

func (fakeCatalog) App(_ context.Context, name string) (orchestrator.App, error) {
	if name == "demo" {
		return demo, nil
	}
	return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
}
func (fakeCatalog) Apps(context.Context) ([]orchestrator.App, error) {
	return []orchestrator.App{demo}, nil
}

type fakeBuilder struct{}

func (fakeBuilder) Bundle(context.Context, orchestrator.App) (*bundle.Bundle, error) {
	return demoBundle(), nil
}

// demoBundle has the demo's parameters as bundle.json defines them.
func demoBundle() *bundle.Bundle {
	ten := 10.0
	all := []string{}
	return &bundle.Bundle{Name: "demo",
		Definitions: definition.Definitions{
			"port":           &definition.Schema{Type: "integer", Minimum: ptr(9001.0), Maximum: ptr(9999.0)},
			"db_port":        &definition.Schema{Type: "integer", Minimum: ptr(3307.0), Maximum: ptr(3399.0)},
			"message":        &definition.Schema{Type: "string", Default: "hello", MaxLength: ptr(40), Pattern: &definition.Regexp{Regexp: *regexp.MustCompile("^[^<>]*$")}},
			"admin_password": &definition.Schema{Type: "string", Default: "", WriteOnly: ptr(true)},
			"workers":        &definition.Schema{Type: "integer", Minimum: ptr(1.0), Maximum: &ten},
			"mode":           &definition.Schema{Type: "string", Enum: []any{"fast", "safe"}},
			"purge":          &definition.Schema{Type: "boolean", Default: false},
		},
		Parameters: map[string]bundle.Parameter{
			"port":           {Definition: "port", ApplyTo: all},
			"db_port":        {Definition: "db_port", ApplyTo: all},
			"message":        {Definition: "message", ApplyTo: []string{"install", "upgrade"}},
			"admin_password": {Definition: "admin_password", ApplyTo: []string{"install", "upgrade"}},
			"workers":        {Definition: "workers", ApplyTo: []string{"install"}},
			"mode":           {Definition: "mode", ApplyTo: []string{"install", "upgrade"}, Required: true},
			"purge":          {Definition: "purge", ApplyTo: []string{"uninstall"}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

type fakeRunner struct {
	run func(req orchestrator.RunRequest) (orchestrator.RunResult, error)
}

func (f fakeRunner) Run(_ context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error) {
	return f.run(req)
}

type fakeHost struct {
	ping     error
	existing []string
	mu       sync.Mutex
	removed  []string // "app/runID/purge"
	// removeFails is how many RemoveApp calls fail before one succeeds.
	removeFails int
}

func (h *fakeHost) Ping(context.Context) error                      { return h.ping }
func (h *fakeHost) BusyPorts(context.Context) (map[int]bool, error) { return map[int]bool{}, nil }
func (h *fakeHost) AppObjects(context.Context, string) (orchestrator.Objects, error) {
	return orchestrator.Objects{}, nil
}
func (h *fakeHost) ExistingContainers(context.Context, []string) ([]string, error) {
	return h.existing, nil
}
func (h *fakeHost) RemoveApp(_ context.Context, app, runID string, purge bool) (orchestrator.Removed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removed = append(h.removed, fmt.Sprintf("%s/%s/%t", app, runID, purge))
	if h.removeFails > 0 {
		h.removeFails--
		return orchestrator.Removed{}, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "Docker is not answering")
	}
	return orchestrator.Removed{}, nil
}

type fakeStore struct {
	installs []orchestrator.Run // the runs BeginInstall recorded
	mu       sync.Mutex
	insts    map[string]orchestrator.Installation
	loseRace int // BeginInstall loses a port race this many times
	finished chan orchestrator.Run
	released []string
	begun    []orchestrator.Run
	last     map[string]any // LastParameters' answer; nil: no successful run
}

func (s *fakeStore) BeginInstall(_ context.Context, inst orchestrator.Installation, run orchestrator.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loseRace > 0 {
		s.loseRace--
		return orchestrator.WrapError(orchestrator.ECONFLICT, orchestrator.ErrPortTaken{Port: inst.Ports[0].Port}, "taken")
	}
	s.insts[inst.Name] = inst
	s.installs = append(s.installs, run)
	return nil
}
func (s *fakeStore) Installation(_ context.Context, name string) (orchestrator.Installation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.insts[name]; ok {
		return i, nil
	}
	return orchestrator.Installation{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no")
}
func (s *fakeStore) ReservedPorts(_ context.Context, nodes ...string) (map[int]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]string{}
	for _, i := range s.insts {
		if len(nodes) > 0 && !slices.Contains(nodes, i.Node.NodeID) {
			continue
		}
		for _, p := range i.Ports {
			out[p.Port] = i.Name
		}
	}
	return out, nil
}
func (s *fakeStore) Installations(context.Context) ([]orchestrator.Installation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []orchestrator.Installation
	for _, i := range s.insts {
		if i.State != orchestrator.StateUninstalled {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b orchestrator.Installation) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
func (s *fakeStore) BeginRun(_ context.Context, run orchestrator.Run, _ orchestrator.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begun = append(s.begun, run)
	return nil
}
func (s *fakeStore) FinishRun(_ context.Context, run orchestrator.Run, state orchestrator.State, reason string, release bool) error {
	s.mu.Lock()
	i := s.insts[run.Installation]
	i.State, i.Reason = state, reason
	s.insts[run.Installation] = i
	if release {
		s.released = append(s.released, run.Installation)
	}
	s.mu.Unlock()
	s.finished <- run
	return nil
}
func (s *fakeStore) ActiveRuns(context.Context) ([]orchestrator.Run, error)        { return nil, nil }
func (s *fakeStore) Runs(context.Context, string, int) ([]orchestrator.Run, error) { return nil, nil }
func (s *fakeStore) Run(_ context.Context, id string) (orchestrator.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.begun {
		if r.ID == id {
			return r, nil
		}
	}
	return orchestrator.Run{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no")
}
func (s *fakeStore) LastOutputs(context.Context, string) (map[string][]byte, error) {
	return map[string][]byte{}, nil
}
func (s *fakeStore) LastParameters(context.Context, string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "no")
	}
	return maps.Clone(s.last), nil
}

func newEngine(host *fakeHost, store *fakeStore, run func(orchestrator.RunRequest) (orchestrator.RunResult, error)) *orchestrator.Engine {
	var n atomic.Int64 // ids are drawn by concurrent runs (UninstallAll)
	e := orchestrator.New(orchestrator.Deps{
		Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Runner: fakeRunner{run: run}, Host: host,
		Installations: store, Runs: store, Now: time.Now,
		NewID: func() string { return fmt.Sprintf("id%d", n.Add(1)) },
	})
	_ = e.Recover(context.Background()) // fails, leaving it not ready, when the host's Docker is down
	return e
}

func newStore() *fakeStore {
	return &fakeStore{insts: map[string]orchestrator.Installation{}, finished: make(chan orchestrator.Run, 4)}
}

func TestInstallRefusals(t *testing.T) {
	never := func(orchestrator.RunRequest) (orchestrator.RunResult, error) { panic("must not run") }
	tests := []struct {
		name string
		req  orchestrator.InstallRequest
		host *fakeHost
		code string
	}{
		{"bad name", orchestrator.InstallRequest{App: "Demo"}, &fakeHost{}, orchestrator.EINVALID},
		{"bad instance name", orchestrator.InstallRequest{App: "demo", Name: "a b"}, &fakeHost{}, orchestrator.EINVALID},
		{"unknown app", orchestrator.InstallRequest{App: "nope"}, &fakeHost{}, orchestrator.ENOTFOUND},
		{"docker down", orchestrator.InstallRequest{App: "demo"}, &fakeHost{ping: orchestrator.Errorf(orchestrator.EUNAVAILABLE, "down")}, orchestrator.EUNAVAILABLE},
		{"container exists", orchestrator.InstallRequest{App: "demo"}, &fakeHost{existing: []string{"websoft9-demo-db"}}, orchestrator.ECONFLICT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			_, err := newEngine(tc.host, store, never).Install(t.Context(), tc.req)
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%v", err)
			assert.Empty(t, store.insts, "nothing is reserved")
		})
	}
}

// Installs plan one at a time, so the ledger's UNIQUE constraint refusing
// a port is never retried: it is a plain conflict and nothing starts.
func TestInstallRefusedWhenTheLedgerRefusesAPort(t *testing.T) {
	store := newStore()
	store.loseRace = 1
	ran := false
	e := newEngine(&fakeHost{}, store, func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
		ran = true
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo"})
	require.Error(t, err)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	_, err = store.Installation(t.Context(), "demo")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "no record")
	assert.False(t, ran, "no run")
}

func TestFailedInstallCleansUpAndReleases(t *testing.T) {
	store := newStore()
	host := &fakeHost{}
	e := newEngine(host, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
		_, _ = io.WriteString(req.Out, "websoft9: Container websoft9-demo Started\nError: install websoft9-demo: container websoft9-demo exited (1)\nError: step 1\n")
		return orchestrator.RunResult{Status: orchestrator.RunFailed, Message: "container exit code: 1"}, nil
	})
	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo"})
	require.NoError(t, err)
	run := <-store.finished
	assert.Equal(t, orchestrator.RunFailed, run.Status)
	got, _ := store.Installation(t.Context(), "demo")
	assert.Equal(t, orchestrator.StateFailed, got.State)
	assert.Equal(t, "install websoft9-demo: container websoft9-demo exited (1)", got.Reason)
	assert.Equal(t, []string{"demo/" + run.Revision + "/false"}, host.removed, "only what this run created is removed")
	assert.Equal(t, []string{"demo"}, store.released)
}

// TestFailedInstallCleanupWaitsForDocker: a cleanup that fails while
// dockerd restarts is tried again, and the ports are released once it
// succeeds.
func TestFailedInstallCleanupWaitsForDocker(t *testing.T) {
	store := newStore()
	host := &fakeHost{removeFails: 2}
	e := newEngine(host, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
		return orchestrator.RunResult{}, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "dockerd went away")
	})
	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo"})
	require.NoError(t, err)
	run := <-store.finished
	assert.Equal(t, orchestrator.RunFailed, run.Status)
	assert.Len(t, host.removed, 3, "tried again until it worked")
	assert.Equal(t, []string{"demo"}, store.released, "the ports go once the cleanup succeeded")
	assert.NotContains(t, run.Message, "cleanup failed")
}

func TestUpgradeKeepsSecretsApartAndPortsFixed(t *testing.T) {
	store := newStore()
	store.insts["demo"] = orchestrator.Installation{Name: "demo", App: "demo", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9005}, {Param: "db_port", Port: 3310}}}
	var got orchestrator.RunRequest
	e := newEngine(&fakeHost{}, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
		got = req
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	_, err := e.Upgrade(t.Context(), orchestrator.UpgradeRequest{Name: "demo", Parameters: map[string]any{"message": "v2", "admin_password": "canary"}})
	require.NoError(t, err)
	<-store.finished
	require.Len(t, store.begun, 1)
	assert.Equal(t, map[string]any{"message": "v2", "port": 9005, "db_port": 3310}, store.begun[0].Parameters)
	assert.Equal(t, map[string]any{"admin_password": "canary"}, store.begun[0].Secrets)
	assert.Equal(t, orchestrator.ActionUpgrade, got.Action)

	_, err = e.Upgrade(t.Context(), orchestrator.UpgradeRequest{Name: "demo", Parameters: map[string]any{"port": 1}})
	assert.Equal(t, orchestrator.EPARAMETERS, orchestrator.ErrorCode(err), "ports cannot be set")
	assert.Contains(t, orchestrator.ErrorFields(err)["port"], "keeps the ports")
	_, err = e.Action(t.Context(), orchestrator.ActionRequest{Name: "demo", Action: "backup"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	_, err = e.Action(t.Context(), orchestrator.ActionRequest{Name: "demo", Action: "install"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
}

func TestNotReadyUntilRecovered(t *testing.T) {
	host := &fakeHost{ping: orchestrator.Errorf(orchestrator.EUNAVAILABLE, "down")}
	store := newStore()
	e := newEngine(host, store, nil)
	assert.False(t, e.Ready())
	host.ping = nil
	_, err := e.Upgrade(t.Context(), orchestrator.UpgradeRequest{Name: "demo"})
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "reads and lookups still answer")
	store.insts["demo"] = orchestrator.Installation{Name: "demo", App: "demo", State: orchestrator.StateRunning}
	_, err = e.Action(t.Context(), orchestrator.ActionRequest{Name: "demo", Action: "stop"})
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "changes wait for recovery")
	require.NoError(t, e.Recover(t.Context()))
	assert.True(t, e.Ready())
}

func TestRunsRefusals(t *testing.T) {
	store := newStore()
	store.insts["demo"] = orchestrator.Installation{Name: "demo", State: orchestrator.StateRunning}
	e := newEngine(&fakeHost{}, store, nil)
	for _, tc := range []struct {
		name  string
		limit int
		code  string
	}{
		{"demo", 0, orchestrator.EINVALID},
		{"demo", orchestrator.MaxRunsLimit + 1, orchestrator.EINVALID},
		{"Demo!", 10, orchestrator.EINVALID},
		{"nope", 10, orchestrator.ENOTFOUND},
		{"demo", orchestrator.MaxRunsLimit, ""},
	} {
		_, err := e.Runs(t.Context(), tc.name, tc.limit)
		assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%s limit %d: %v", tc.name, tc.limit, err)
	}
}

type versionedStore struct {
	*fakeStore
	v uint64
}

func (s *versionedStore) Version() uint64 { return s.v }

type versionedObserver struct{ v uint64 }

func (o *versionedObserver) AppContainers(string) ([]orchestrator.Container, bool) { return nil, true }
func (o *versionedObserver) Refresh(context.Context, string) error                 { return nil }
func (o *versionedObserver) Version() uint64                                       { return o.v }

type plainObserver struct{}

func (plainObserver) AppContainers(string) ([]orchestrator.Container, bool) { return nil, true }
func (plainObserver) Refresh(context.Context, string) error                 { return nil }

// TestListStamp: the stamp follows both the store and the observer, and
// is refused when either cannot count its changes.
func TestListStamp(t *testing.T) {
	store := &versionedStore{fakeStore: newStore(), v: 7}
	obs := &versionedObserver{v: 3}
	e := orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Observer: obs, Now: time.Now})
	st, ok := e.ListStamp()
	require.True(t, ok)
	assert.Equal(t, orchestrator.ListStamp{Store: 7, Observed: 3}, st)
	obs.v++
	st2, _ := e.ListStamp()
	assert.NotEqual(t, st, st2, "a container change moves the stamp")
	store.v++
	st3, _ := e.ListStamp()
	assert.NotEqual(t, st2, st3, "a write moves the stamp")

	_, ok = orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Observer: plainObserver{}, Now: time.Now}).ListStamp()
	assert.False(t, ok, "an observer that does not count")
	plain := newStore()
	_, ok = orchestrator.New(orchestrator.Deps{Installations: plain, Runs: plain, Now: time.Now}).ListStamp()
	assert.False(t, ok, "a store that does not count")
	_, ok = orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Now: time.Now}).ListStamp()
	assert.True(t, ok, "no observer: the store's count is enough")
	_, ok = orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Catalog: fakeCatalog{}, Now: time.Now}).ListStamp()
	assert.False(t, ok, "a catalog that does not count")
	cat := &versionedCatalog{v: 1}
	e = orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Observer: obs, Catalog: cat, Now: time.Now})
	st4, ok := e.ListStamp()
	require.True(t, ok)
	cat.v++
	st5, _ := e.ListStamp()
	assert.NotEqual(t, st4, st5, "a pulled bundle moves the stamp")
}

type versionedCatalog struct {
	fakeCatalog
	v uint64
}

func (c *versionedCatalog) Version() uint64 { return c.v }

// TestInstallWithParameters: an install takes values for the bundle's
// parameters, every wrong one reported at once by name with its rule
// before anything is reserved; a port asked for is given when free and a
// conflict when taken; sensitive values go apart, generated ones fill the
// rest.
func TestInstallWithParameters(t *testing.T) {
	store := newStore()
	e := newEngine(&fakeHost{}, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "bad", Parameters: map[string]any{
		"message": "<script>", "workers": 11, "mode": "slow", "purge": true, "nope": 1, "port": 80,
	}})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EPARAMETERS, orchestrator.ErrorCode(err))
	fields := orchestrator.ErrorFields(err)
	assert.Equal(t, []string{"message", "mode", "nope", "port", "purge", "workers"}, slices.Sorted(maps.Keys(fields)), "%v", fields)
	assert.Contains(t, fields["message"], "pattern")
	assert.Contains(t, fields["workers"], "10")
	assert.Contains(t, fields["mode"], "fast")
	assert.Contains(t, fields["nope"], "no parameter nope")
	assert.Contains(t, fields["purge"], "cannot be set")
	assert.Contains(t, fields["port"], "9001")
	assert.Empty(t, store.installs, "nothing reserved")

	_, err = e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "noreq", Parameters: map[string]any{"message": "hi"}})
	assert.Equal(t, "required: the bundle gives it no default", orchestrator.ErrorFields(err)["mode"])

	_, err = e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "blog", Parameters: map[string]any{
		"message": "hi: \"there\"", "workers": json.Number("3"), "mode": "safe", "admin_password": "s3cret", "port": 9555,
	}})
	require.NoError(t, err)
	<-store.finished
	require.Len(t, store.installs, 1)
	run := store.installs[0]
	assert.Equal(t, 9555, run.Parameters["port"], "the port asked for")
	assert.Equal(t, "hi: \"there\"", run.Parameters["message"])
	assert.Equal(t, int64(3), run.Parameters["workers"], "typed as the definition says")
	assert.Equal(t, "safe", run.Parameters["mode"])
	assert.NotContains(t, run.Parameters, "admin_password", "sensitive values go apart")
	assert.Equal(t, "s3cret", run.Secrets["admin_password"])

	store.mu.Lock()
	store.insts["other"] = orchestrator.Installation{Name: "other", App: "demo", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9600}}}
	store.mu.Unlock()
	_, err = e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "taken", Parameters: map[string]any{"mode": "safe", "port": 9600}})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "port 9600 asked for port is reserved by other")
}

func TestSettingsAndPlanUpgrade(t *testing.T) {
	store := newStore()
	never := func(orchestrator.RunRequest) (orchestrator.RunResult, error) { panic("a plan must not run") }
	e := newEngine(&fakeHost{}, store, never)
	store.insts["blog"] = orchestrator.Installation{Name: "blog", App: "demo", Version: "0.0.9", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}}
	// The last run, of a version without message.
	store.last = map[string]any{"port": 9001.0, "admin_password": "s3cret", "mode": "fast", "workers": 3.0}

	st, err := e.Settings(t.Context(), "blog")
	require.NoError(t, err)
	assert.Equal(t, "0.0.9", st.Version)
	assert.Equal(t, []orchestrator.Setting{
		{Name: "message", Value: "hello", Set: true, Editable: true},
		{Name: "admin_password", Sensitive: true, Set: true, Editable: true},
		{Name: "workers", Value: 3.0, Set: true},
		{Name: "mode", Value: "fast", Set: true, Editable: true},
	}, st.Values, "message as the run got it (the default); ports and purge are not settings; the secret's value is not there; workers applies to install only")
	_, err = e.Settings(t.Context(), "nope")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))

	plan, err := e.PlanUpgrade(t.Context(), orchestrator.UpgradeRequest{Name: "blog",
		Parameters: map[string]any{"mode": "fast", "admin_password": "n3w"}})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.UpgradePlan{Name: "blog", FromVersion: "0.0.9", ToVersion: "0.1.0", Changes: []orchestrator.SettingChange{
		{Name: "admin_password", Sensitive: true},
	}}, plan, "the same mode is no change; a secret is named, never shown; message stays the default")

	plan, err = e.PlanUpgrade(t.Context(), orchestrator.UpgradeRequest{Name: "blog", Parameters: map[string]any{"message": "bye", "mode": "safe"}})
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.SettingChange{{Name: "message", From: "hello", To: "bye", FromDefault: true}, {Name: "mode", From: "fast", To: "safe"}}, plan.Changes)

	_, err = e.PlanUpgrade(t.Context(), orchestrator.UpgradeRequest{Name: "blog", Parameters: map[string]any{"message": "<b>", "workers": 4, "port": 9009}})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EPARAMETERS, orchestrator.ErrorCode(err), "refused as the upgrade is")
	assert.Equal(t, []string{"message", "port", "workers"}, slices.Sorted(maps.Keys(orchestrator.ErrorFields(err))))
	assert.Empty(t, store.begun, "a plan runs nothing")
}

// fakeNodes is a NodeObserver answering from fixed maps.
type fakeNodes struct {
	nodes map[string]orchestrator.Node
	tasks map[string][]orchestrator.Container
	v     uint64
}

func (f *fakeNodes) SwarmNode(id string) (orchestrator.Node, bool) {
	n, ok := f.nodes[id]
	return n, ok
}
func (f *fakeNodes) AppTasks(app string) ([]orchestrator.Container, bool) {
	cs, ok := f.tasks[app]
	return cs, ok
}
func (f *fakeNodes) Refresh(context.Context, string) error { return nil }
func (f *fakeNodes) Version() uint64                       { return f.v }

// TestObserveRemoteApp: an app on another Swarm node shows its node's
// state and its services' tasks as the manager sees them: unreachable
// while its node is down, stopped while its tasks are not running, and
// its changes move the list's stamp. An app on the single host is the
// local watcher's.
func TestObserveRemoteApp(t *testing.T) {
	store := &versionedStore{fakeStore: newStore(), v: 1}
	remote := orchestrator.Installation{Name: "far", App: "demo", State: orchestrator.StateRunning, Containers: []string{"websoft9-far"},
		Node: orchestrator.Placement{NodeID: "n3", Hostname: "three", Addr: "10.0.0.3"}}
	local := orchestrator.Installation{Name: "near", App: "demo", State: orchestrator.StateRunning, Containers: []string{"websoft9-near"}}
	store.insts["far"], store.insts["near"] = remote, local
	nodes := &fakeNodes{v: 5,
		nodes: map[string]orchestrator.Node{"n3": {ID: "n3", State: "down", Message: "heartbeat failure"}},
		tasks: map[string][]orchestrator.Container{"far": {{Name: "websoft9-far", State: "running"}}, "near": {{Name: "websoft9-near", State: "pending"}}}}
	obs := &versionedObserver{v: 2}
	e := orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Observer: obs, Nodes: nodes, Now: time.Now})

	inst, err := e.Info(t.Context(), "far")
	require.NoError(t, err)
	assert.Equal(t, "down", inst.NodeState)
	assert.Equal(t, orchestrator.ConditionUnreachable, inst.Condition().State)
	assert.Equal(t, "node three is down: the app cannot be reached (heartbeat failure)", inst.Condition().Detail)

	nodes.nodes["n3"] = orchestrator.Node{ID: "n3", State: "ready"}
	inst, err = e.Info(t.Context(), "far")
	require.NoError(t, err)
	assert.Equal(t, "running", inst.Condition().State)
	nodes.tasks["far"][0].State = "starting"
	inst, _ = e.Info(t.Context(), "far")
	assert.Equal(t, orchestrator.ConditionStopped, inst.Condition().State, "back, its task not running yet")

	inst, err = e.Info(t.Context(), "near")
	require.NoError(t, err)
	assert.Empty(t, inst.NodeState, "an app on the single host has no node")
	assert.NotContains(t, inst.Condition().Detail, "pending", "the local watcher's view, not the Swarm's")

	st, ok := e.ListStamp()
	require.True(t, ok)
	assert.Equal(t, orchestrator.ListStamp{Store: 1, Observed: 2, Nodes: 5}, st)
	nodes.v++
	st2, _ := e.ListStamp()
	assert.NotEqual(t, st, st2, "a node's or a task's change moves the stamp")
}
