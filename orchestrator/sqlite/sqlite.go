package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/websoft9/stackhub/orchestrator"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the state database.
type DB struct {
	db *sql.DB
	rm readModel
	// Sealer seals sensitive outputs; without one they are not stored.
	Sealer orchestrator.Sealer
}

var (
	_ orchestrator.Installations = (*DB)(nil)
	_ orchestrator.Runs          = (*DB)(nil)
	_ orchestrator.Tokens        = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path and migrates it.
// WAL, synchronous FULL, foreign keys and a busy timeout are set here once.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(5000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	// Keep every connection once opened: with database/sql's default of 2
	// idle, concurrent reads closed and reopened connections (a file open
	// and the pragmas each time), and the server's open files rose and fell
	// with the load (make load checks they come back to baseline).
	db.SetMaxIdleConns(4)
	d := &DB{db: db}
	if err := d.migrate(ctx, path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

var _ orchestrator.StorePinger = (*DB)(nil)

// Ping implements orchestrator.StorePinger: a query that reads the
// file's schema page answers (readyz). Returns EUNAVAILABLE when it does
// not (database closed, file unreadable).
func (d *DB) Ping(ctx context.Context) error {
	var n int
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "the state database does not answer a query")
	}
	return nil
}

// BackupSuffix ends the name of the copy of the database file made before
// a migration: PATH.schema-N-YYYYMMDDTHHMMSSZ.bak, N the old schema version.
const BackupSuffix = ".bak"

func (d *DB) migrate(ctx context.Context, path string) error {
	defer d.changed() // after the commit: readers load a new snapshot
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var before int
	if err := d.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&before); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if before > 0 && before < len(names) {
		// A copy of the file as the older release left it, consistent
		// (VACUUM INTO reads one snapshot), before anything changes: a
		// migration gone wrong, or a step back to that release, starts
		// from it.
		backup := fmt.Sprintf("%s.schema-%d-%s%s", path, before, time.Now().UTC().Format("20060102T150405Z"), BackupSuffix)
		if _, err := d.db.ExecContext(ctx, "VACUUM INTO ?", backup); err != nil {
			return fmt.Errorf("migrate: copy the database to %s first: %w", backup, err)
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if version > len(names) {
		// Marking it older would run old code over a schema it does not know.
		return fmt.Errorf("the database is at schema version %d, newer than this stackhub knows (%d): run the stackhub release that wrote it, or a newer one", version, len(names))
	}
	for i, name := range names {
		if i < version {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an int we computed.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+fmt.Sprint(len(names))); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return tx.Commit()
}

func isUniqueViolation(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

const timeFormat = time.RFC3339Nano

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// classify turns storage errors into domain errors once, here.
// badRow says a row holds a value the domain does not know (a newer
// StackHub wrote it, or it was edited by hand): refused, never guessed.
func badRow(what string, err error) error {
	return orchestrator.WrapError(orchestrator.EINTERNAL, err, "the state database holds a bad %s: %s", what, orchestrator.ErrorMessage(err))
}

func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*orchestrator.Error](err); ok {
		return err
	}
	// Codes come extended (SQLITE_IOERR_WRITE, …): the low byte is the
	// primary code.
	if e, ok := errors.AsType[*sqlite.Error](err); ok && (e.Code()&0xff == sqlite3.SQLITE_FULL || e.Code()&0xff == sqlite3.SQLITE_IOERR) {
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err,
			"the state database cannot be written (disk full or I/O error): nothing was changed; free space in the data directory and retry")
	}
	return fmt.Errorf("%s: %w", op, err)
}

// SchemaVersion is the schema version this StackHub migrates databases
// to (PRAGMA user_version after Open).
func SchemaVersion() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
}
