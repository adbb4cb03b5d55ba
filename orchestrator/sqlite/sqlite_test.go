package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "state.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

func newInstall(name string, ports ...int) (orchestrator.Installation, orchestrator.Run) {
	inst := orchestrator.Installation{Name: name, App: "demo", Version: "0.1.0", State: orchestrator.StateInstalling,
		Containers: []string{"websoft9-" + name, "websoft9-" + name + "-db"}, Created: t0, Updated: t0}
	params := []string{"port", "db_port", "x_port"}
	for i, p := range ports {
		inst.Ports = append(inst.Ports, orchestrator.PortBinding{Param: params[i], Port: p})
	}
	run := orchestrator.Run{ID: "run-" + name + "-" + time.Now().Format("150405.000000000"), Installation: name, Action: "install",
		Revision: "rev", Status: orchestrator.RunRunning, Created: t0, Parameters: map[string]any{"port": 1}}
	return inst, run
}

func TestBeginInstallAndInfo(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	inst, run := newInstall("demo", 9001, 3307)
	require.NoError(t, db.BeginInstall(ctx, inst, run))

	got, err := db.Installation(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateInstalling, got.State)
	assert.Equal(t, inst.Ports, got.Ports)
	assert.Equal(t, []string{"websoft9-demo", "websoft9-demo-db"}, got.Containers)
	assert.Equal(t, 9001, got.Port("port"))

	reserved, err := db.ReservedPorts(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[int]string{9001: "demo", 3307: "demo"}, reserved)

	_, err = db.Installation(ctx, "nope")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))

	list, err := db.Installations(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, got, list[0])
}

func TestBeginInstallConflicts(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	inst, run := newInstall("demo", 9001, 3307)
	require.NoError(t, db.BeginInstall(ctx, inst, run))

	t.Run("live installation", func(t *testing.T) {
		inst, run := newInstall("demo", 9002, 3308)
		err := db.BeginInstall(ctx, inst, run)
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	})
	t.Run("port taken", func(t *testing.T) {
		inst, run := newInstall("other", 9003, 3307)
		err := db.BeginInstall(ctx, inst, run)
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
		_, lost := errors.AsType[orchestrator.ErrPortTaken](err)
		assert.True(t, lost, "got %v, want ErrPortTaken", err)
		_, err = db.Installation(ctx, "other")
		assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "nothing of a refused install is kept")
	})
	t.Run("container name taken", func(t *testing.T) {
		// app "demo-db" would be websoft9-demo-db, demo's db service.
		inst, run := newInstall("demo-db", 9004)
		inst.Containers = []string{"websoft9-demo-db"}
		err := db.BeginInstall(ctx, inst, run)
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
		assert.Contains(t, orchestrator.ErrorMessage(err), "websoft9-demo-db")
	})
	t.Run("second active run", func(t *testing.T) {
		r := orchestrator.Run{ID: "r2", Installation: "demo", Action: "uninstall", Revision: "x", Status: orchestrator.RunRunning, Created: t0}
		err := db.BeginRun(ctx, r, orchestrator.StateUninstalling)
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
		assert.ErrorIs(t, err, orchestrator.ErrRunInProgress{})
	})
}

func TestFinishRunReleasesAndRevives(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	inst, run := newInstall("demo", 9001, 3307)
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	run.Status, run.Message, run.Finished = orchestrator.RunFailed, "boom", t0.Add(time.Second)
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateFailed, "boom", true))

	got, err := db.Installation(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateFailed, got.State)
	assert.Equal(t, "boom", got.Reason)
	assert.Empty(t, got.Ports)
	reserved, err := db.ReservedPorts(ctx)
	require.NoError(t, err)
	assert.Empty(t, reserved)

	// Installing again over a failed record works and takes new ports.
	inst2, run2 := newInstall("demo", 9005, 3309)
	require.NoError(t, db.BeginInstall(ctx, inst2, run2))
	run2.Status, run2.Finished, run2.Outputs = orchestrator.RunSucceeded, t0, map[string]string{"port": "9005"}
	require.NoError(t, db.FinishRun(ctx, run2, orchestrator.StateRunning, "", false))
	got, err = db.Installation(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateRunning, got.State)
	assert.Equal(t, "", got.Reason)
	assert.Equal(t, map[string]string{"port": "9005"}, got.Outputs)

	active, err := db.ActiveRuns(ctx)
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestConcurrentInstallsOnePort(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			inst, run := newInstall("app"+string(rune('a'+i)), 9001)
			inst.Containers = []string{"websoft9-app" + string(rune('a'+i))}
			run.ID = "run" + string(rune('a'+i))
			errs[i] = db.BeginInstall(ctx, inst, run)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "got %v", err)
	}
	assert.Equal(t, 1, ok, "exactly one install gets port 9001")
}

func TestTokens(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	secret, tok, err := orchestrator.NewToken(ctx, db, "t1", "cli", orchestrator.ScopeAdmin, t0)
	require.NoError(t, err)
	assert.NotContains(t, tok.Hash, secret)

	got, err := orchestrator.Authenticate(ctx, db, secret, t0)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.ScopeAdmin, got.Scope)

	for _, bad := range []string{"", "shk_nope", "Bearer " + secret, secret + "x"} {
		_, err := orchestrator.Authenticate(ctx, db, bad, t0)
		assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "secret %q", bad)
	}
	_, _, err = orchestrator.NewToken(ctx, db, "t2", "x", "root", t0)
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))

	list, err := db.ListTokens(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, t0, list[0].LastUsed)
	require.NoError(t, db.RevokeToken(ctx, "t1", t0))
	_, err = orchestrator.Authenticate(ctx, db, secret, t0)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "a revoked token is refused")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(db.RevokeToken(ctx, "t1", t0)))
}

type xorSealer struct{}

func (xorSealer) Seal(p []byte) ([]byte, error) { return xor(p), nil }
func (xorSealer) Open(p []byte) ([]byte, error) { return xor(p), nil }
func xor(p []byte) []byte {
	out := make([]byte, len(p))
	for i, b := range p {
		out[i] = b ^ 0x5a
	}
	return out
}

func TestOutputsAndParameters(t *testing.T) {
	db := MustOpenDB(t)
	db.Sealer = xorSealer{}
	ctx := t.Context()
	inst, run := newInstall("demo", 9001)
	run.Parameters = map[string]any{"port": 9001}
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	run.Status, run.Finished, run.Version = orchestrator.RunSucceeded, t0, "0.1.0"
	run.Values = []orchestrator.Output{
		{Name: "porter-state", Value: []byte{0x1f, 0x8b, 0x00}, Internal: true},
		{Name: "password", Value: []byte("s3cret"), Sensitive: true},
		{Name: "url", Value: []byte("http://a")},
	}
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))

	up := orchestrator.Run{ID: "up1", Installation: "demo", Action: "upgrade", Revision: "r2", Status: orchestrator.RunRunning,
		Created: t0.Add(time.Minute), Parameters: map[string]any{"port": 9001, "x": true}, Secrets: map[string]any{"admin_password": "canary-Zq9"}}
	require.NoError(t, db.BeginRun(ctx, up, orchestrator.StateRunning))
	got, err := db.Installation(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.ActionUpgrade, got.Active, "the active run shows")
	up.Status, up.Finished, up.Version = orchestrator.RunSucceeded, t0.Add(2*time.Minute), "0.2.0"
	up.Values = []orchestrator.Output{{Name: "url", Value: []byte("http://b")}}
	require.NoError(t, db.FinishRun(ctx, up, orchestrator.StateRunning, "", false))

	outs, err := db.LastOutputs(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"porter-state": {0x1f, 0x8b, 0x00}, "password": []byte("s3cret"), "url": []byte("http://b")}, outs)

	var raw []byte
	require.NoError(t, sqlite.RawDB(t, db).QueryRowContext(ctx, `SELECT value FROM outputs WHERE name = 'password'`).Scan(&raw))
	assert.NotContains(t, string(raw), "s3cret", "sensitive outputs are sealed at rest")

	params, err := db.LastParameters(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"port": float64(9001), "x": true, "admin_password": "canary-Zq9"}, params)
	var clear int
	require.NoError(t, sqlite.RawDB(t, db).QueryRowContext(ctx,
		`SELECT count(*) FROM runs WHERE parameters LIKE '%canary-Zq9%' OR CAST(secrets AS TEXT) LIKE '%canary-Zq9%'`).Scan(&clear))
	assert.Zero(t, clear, "sensitive parameters are sealed at rest")
	got, err = db.Installation(ctx, "demo")
	require.NoError(t, err)
	assert.Equal(t, "0.2.0", got.Version, "a successful upgrade sets the version")
	assert.Empty(t, got.Active)

	sealed, err := db.HasSealed(ctx)
	require.NoError(t, err)
	assert.True(t, sealed)

	// Without a sealer, sensitive outputs are not stored at all.
	db.Sealer = nil
	outs, err = db.LastOutputs(ctx, "demo")
	require.NoError(t, err)
	assert.NotContains(t, outs, "password")
}

func TestRunsNewestFirst(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	inst, run := newInstall("hist", 9001)
	run.ID = "a-install"
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	run.Status, run.Finished, run.Outputs = orchestrator.RunSucceeded, t0.Add(time.Second), map[string]string{"port": "9001"}
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))
	// Later runs; two share a creation time and are ordered by id.
	for i, id := range []string{"b-stop", "c-start", "d-restart"} {
		r := orchestrator.Run{ID: id, Installation: "hist", Action: orchestrator.Action(id[2:]), Revision: "rev", Status: orchestrator.RunRunning,
			Created: t0.Add(time.Duration(min(i, 1)+1) * time.Minute), Parameters: map[string]any{}}
		require.NoError(t, db.BeginRun(ctx, r, orchestrator.StateRunning))
		if id != "d-restart" {
			r.Status, r.Message, r.Finished = orchestrator.RunFailed, "boom "+id, r.Created.Add(time.Second)
			require.NoError(t, db.FinishRun(ctx, r, orchestrator.StateRunning, "", false))
		}
	}
	other, orun := newInstall("other", 9002)
	require.NoError(t, db.BeginInstall(ctx, other, orun))

	runs, err := db.Runs(ctx, "hist", 10)
	require.NoError(t, err)
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"d-restart", "c-start", "b-stop", "a-install"}, ids, "newest first, then by id; the other app's run is not there")
	assert.True(t, runs[0].Finished.IsZero(), "the active run has no finish time")
	assert.Equal(t, "boom c-start", runs[1].Message)
	assert.Equal(t, map[string]string{"port": "9001"}, runs[3].Outputs)
	assert.Equal(t, map[string]any{"port": float64(1)}, runs[3].Parameters)

	runs, err = db.Runs(ctx, "hist", 2)
	require.NoError(t, err)
	assert.Len(t, runs, 2)
	runs, err = db.Runs(ctx, "nobody", 10)
	require.NoError(t, err)
	assert.NotNil(t, runs)
	assert.Empty(t, runs)
}

func TestVersionMovesAfterWrites(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	v0 := db.Version()
	inst, run := newInstall("ver", 9001)
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	v1 := db.Version()
	assert.Greater(t, v1, v0, "an install moves the version")
	_, err := db.Installations(ctx)
	require.NoError(t, err)
	assert.Equal(t, v1, db.Version(), "a read does not")
	run.Status, run.Finished = orchestrator.RunSucceeded, t0
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))
	assert.Greater(t, db.Version(), v1, "a finished run moves it")
}

// A row holding an action or status the domain does not know is refused
// when read, never passed on as if it were valid. (A token's scope has a
// CHECK constraint: such a row cannot be written.)
func TestUnknownValuesInRowsAreRefused(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name   string
		update string
		read   func(db *sqlite.DB, runID string) error
	}{
		{"run action", `UPDATE runs SET action = 'Bogus Action' WHERE id = ?`, func(db *sqlite.DB, id string) error {
			_, err := db.Run(ctx, id)
			return err
		}},
		{"run status", `UPDATE runs SET status = 'exploded' WHERE id = ?`, func(db *sqlite.DB, id string) error {
			_, err := db.Run(ctx, id)
			return err
		}},
		{"active run status", `UPDATE runs SET status = 'exploded' WHERE id = ?`, func(db *sqlite.DB, _ string) error {
			_, err := db.ActiveRuns(ctx)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := MustOpenDB(t)
			inst, run := newInstall("rows", 9001)
			require.NoError(t, db.BeginInstall(ctx, inst, run))
			require.NoError(t, tc.read(db, run.ID), "the row reads before it is spoiled")
			_, err := sqlite.RawDB(t, db).ExecContext(ctx, tc.update, run.ID)
			require.NoError(t, err)
			err = tc.read(db, run.ID)
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINTERNAL, orchestrator.ErrorCode(err), "got %v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), "bad")
		})
	}
}

func TestPolicyRefusals(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for i, inst := range []string{"a", "b", "a"} {
		require.NoError(t, db.RecordRefusal(ctx, orchestrator.PolicyRefusal{At: at.Add(time.Duration(i) * time.Second), Installation: inst,
			RunID: fmt.Sprint("run", i), Rule: "privileged", Call: "POST /containers/create", Detail: fmt.Sprint("try ", i)}))
	}
	all, err := db.Refusals(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, "try 2", all[0].Detail, "newest first")
	assert.Equal(t, at.Add(2*time.Second), all[0].At)
	ofA, err := db.Refusals(ctx, "a", 1)
	require.NoError(t, err)
	require.Len(t, ofA, 1)
	assert.Equal(t, "run2", ofA[0].RunID)
	none, err := db.Refusals(ctx, "c", 10)
	require.NoError(t, err)
	assert.Empty(t, none)
}

// TestBundleDigestRecorded: each install or upgrade run keeps the bundle
// version and digest it ran, and a successful one makes them the
// installation's; a failed upgrade leaves the installation's as they were.
func TestBundleDigestRecorded(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	inst, run := newInstall("blog", 9001)
	run.Version, run.Digest = "0.1.0", "sha256:aaa"
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	run.Status, run.Finished = orchestrator.RunSucceeded, t0.Add(time.Minute)
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))
	got, err := db.Installation(ctx, "blog")
	require.NoError(t, err)
	assert.Equal(t, "sha256:aaa", got.Digest)

	finish := func(id, version, digest string, status orchestrator.RunStatus, state orchestrator.State) {
		up := orchestrator.Run{ID: id, Installation: "blog", Action: orchestrator.ActionUpgrade, Revision: "r", Status: orchestrator.RunRunning,
			Created: t0.Add(2 * time.Minute), Version: version, Digest: digest}
		require.NoError(t, db.BeginRun(ctx, up, orchestrator.StateRunning))
		up.Status, up.Finished = status, t0.Add(3*time.Minute)
		require.NoError(t, db.FinishRun(ctx, up, state, "", false))
		stored, err := db.Run(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, [2]string{version, digest}, [2]string{stored.Version, stored.Digest})
	}
	finish("up-failed", "0.2.0", "sha256:bbb", orchestrator.RunFailed, orchestrator.StateFailed)
	got, err = db.Installation(ctx, "blog")
	require.NoError(t, err)
	assert.Equal(t, [2]string{"0.1.0", "sha256:aaa"}, [2]string{got.Version, got.Digest}, "a failed upgrade changes neither")
	finish("up-ok", "0.2.0", "sha256:bbb", orchestrator.RunSucceeded, orchestrator.StateRunning)
	got, err = db.Installation(ctx, "blog")
	require.NoError(t, err)
	assert.Equal(t, [2]string{"0.2.0", "sha256:bbb"}, [2]string{got.Version, got.Digest})
}

// TestPing answers while the database is open, EUNAVAILABLE once closed.
func TestPing(t *testing.T) {
	db := MustOpenDB(t)
	require.NoError(t, db.Ping(t.Context()))
	require.NoError(t, db.Close())
	err := db.Ping(t.Context())
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
	assert.Equal(t, "the state database does not answer a query", orchestrator.ErrorMessage(err))
}
