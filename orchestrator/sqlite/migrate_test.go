package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// The secret of the token in testdata/migrate/*.sql.
const fixtureToken = "shk_migration-fixture-token-0000000000000000000000"

// fixtureDB writes testdata/migrate/<name> into a new database file, as the
// older StackHub left it, and returns its path.
func fixtureDB(t *testing.T, name string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "migrate", name))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "stackhub.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.ExecContext(t.Context(), string(body))
	require.NoError(t, err)
	return path
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer raw.Close()
	var v int
	require.NoError(t, raw.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v))
	return v
}

// TestMigrateFromEarlierVersions opens databases written at earlier schema
// versions: today's code migrates them and every record still reads.
func TestMigrateFromEarlierVersions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	latest := len(files)
	for _, fixture := range []string{"v1.sql", "v3.sql"} {
		t.Run(fixture, func(t *testing.T) {
			path := fixtureDB(t, fixture)
			ctx := t.Context()
			db, err := sqlite.Open(ctx, path)
			require.NoError(t, err)
			defer db.Close()
			db.Sealer = xorSealer{}
			assert.Equal(t, latest, userVersion(t, path))

			inst, err := db.Installation(ctx, "redmine")
			require.NoError(t, err)
			assert.Equal(t, orchestrator.StateRunning, inst.State)
			assert.Equal(t, []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}, inst.Ports)
			assert.Equal(t, []string{"websoft9-redmine", "websoft9-redmine-mariadb"}, inst.Containers)
			assert.Equal(t, map[string]string{"url": "http://127.0.0.1:9001"}, inst.Outputs)
			_, err = db.Installation(ctx, "gone")
			assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
			list, err := db.Installations(ctx)
			require.NoError(t, err)
			assert.Len(t, list, 1)
			reserved, err := db.ReservedPorts(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[int]string{9001: "redmine", 3307: "redmine"}, reserved)

			tok, err := orchestrator.Authenticate(ctx, db, fixtureToken, t0)
			require.NoError(t, err, "a token made before the upgrade still works")
			assert.Equal(t, orchestrator.ScopeAdmin, tok.Scope)
			params, err := db.LastParameters(ctx, "redmine")
			require.NoError(t, err)
			assert.EqualValues(t, 9001, params["port"])
			n, err := db.CountUsers(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "the users table exists and is empty")
			run, err := db.Run(ctx, "run-1")
			require.NoError(t, err)
			assert.Equal(t, orchestrator.RunSucceeded, run.Status)

			// The migrated file takes new records: an upgrade run.
			up := orchestrator.Run{ID: "run-3", Installation: "redmine", Action: "upgrade", Revision: "rev-2",
				Status: orchestrator.RunRunning, Created: t0, Secrets: map[string]any{"db_password": "s3cret"}}
			require.NoError(t, db.BeginRun(ctx, up, orchestrator.StateRunning))
			up.Status, up.Finished = orchestrator.RunSucceeded, t0
			require.NoError(t, db.FinishRun(ctx, up, orchestrator.StateRunning, "", false))
			params, err = db.LastParameters(ctx, "redmine")
			require.NoError(t, err)
			assert.Equal(t, "s3cret", params["db_password"])
		})
	}
}

// TestMigrateFromThePreviousSchema opens a database the previous release
// wrote (every migration but the last, with a record in each kind of
// table): a copy of it is made first, the migration runs, and every
// record still reads.
func TestMigrateFromThePreviousSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	sort.Strings(files)
	latest := len(files)
	path := filepath.Join(t.TempDir(), "stackhub.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	for _, f := range files[:latest-1] {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = raw.ExecContext(t.Context(), string(body))
		require.NoError(t, err, f)
	}
	fixture, err := os.ReadFile(filepath.Join("testdata", "migrate", "v3.sql"))
	require.NoError(t, err)
	var rows []string
	for _, stmt := range strings.SplitAfter(string(fixture), ";\n") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSpace(strings.Join(lines, "\n")); strings.HasPrefix(s, "INSERT") {
			rows = append(rows, s)
		}
	}
	require.NotEmpty(t, rows)
	rows = append(rows,
		"INSERT INTO users (id, name, hash, created, changed, initial, role) VALUES ('u1', 'ada', 'x', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 0, 'operator')",
		"INSERT INTO grants (id, app, version, digest, permissions, granted_by, granted_at) VALUES ('g1', 'redmine', '5.0.0', 'sha256:aa', '[\"network\"]', 'ada', '2026-01-02T00:00:00Z')",
		"INSERT INTO backup_policies (installation, schedule, keep_last, updated) VALUES ('redmine', '@daily', 7, '2026-01-02T00:00:00Z')",
		fmt.Sprintf("PRAGMA user_version = %d", latest-1))
	for _, r := range rows {
		_, err = raw.ExecContext(t.Context(), r)
		require.NoError(t, err, r)
	}
	require.NoError(t, raw.Close())

	ctx := t.Context()
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	assert.Equal(t, latest, userVersion(t, path))
	backups, err := filepath.Glob(path + fmt.Sprintf(".schema-%d-*", latest-1) + sqlite.BackupSuffix)
	require.NoError(t, err)
	require.Len(t, backups, 1, "a copy of the file before the migration")
	assert.Equal(t, latest-1, userVersion(t, backups[0]), "the copy is at the old schema")

	inst, err := db.Installation(ctx, "redmine")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateRunning, inst.State)
	assert.Equal(t, []string{"websoft9-redmine", "websoft9-redmine-mariadb"}, inst.Containers)
	tok, err := orchestrator.Authenticate(ctx, db, fixtureToken, t0)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.ScopeAdmin, tok.Scope)
	n, err := db.CountUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	run, err := db.Run(ctx, "run-1")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.RunSucceeded, run.Status)
	domains, err := db.Domains(ctx, "", true)
	require.NoError(t, err)
	assert.Empty(t, domains, "the new table is there")

	// The ledger gained the node: the old reservations are the single
	// host's, in their order, and the same port is free on a Swarm node.
	assert.Equal(t, []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}, inst.Ports)
	assert.False(t, inst.Node.OnSwarm(), "an installation made before Swarm is on the single host")
	reserved, err := db.ReservedPorts(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, map[int]string{9001: "redmine", 3307: "redmine"}, reserved)
	onNode := orchestrator.Installation{Name: "kuma", App: "uptime-kuma", Version: "1", State: orchestrator.StateInstalling,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}}, Node: orchestrator.Placement{NodeID: "n1", Hostname: "w1", Addr: "10.1.0.2"},
		Created: t0, Updated: t0}
	require.NoError(t, db.BeginInstall(ctx, onNode, orchestrator.Run{ID: "run-kuma", Installation: "kuma", Action: "install",
		Revision: "r", Status: orchestrator.RunRunning, Created: t0}))
	got, err := db.Installation(ctx, "kuma")
	require.NoError(t, err)
	assert.Equal(t, onNode.Node, got.Node)
	onNode.Name, onNode.Node.Hostname = "kuma2", "w1"
	err = db.BeginInstall(ctx, onNode, orchestrator.Run{ID: "run-kuma2", Installation: "kuma2", Action: "install",
		Revision: "r", Status: orchestrator.RunRunning, Created: t0})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "UNIQUE(node, host_port) holds after the migration")

	// Opened again: nothing to migrate, no second copy.
	require.NoError(t, db.Close())
	db, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	again, _ := filepath.Glob(path + ".schema-*")
	assert.Len(t, again, 1)
}

// TestOpenRefusesANewerSchema: a database written by a newer StackHub is
// not opened, and not marked older.
func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stackhub.db")
	db, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = raw.ExecContext(context.Background(), "PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	_, err = sqlite.Open(t.Context(), path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version 99, newer than this stackhub knows")
	assert.Equal(t, 99, userVersion(t, path))
}
