package sqlite

import (
	"database/sql"
	"testing"
)

// RawDB gives tests the underlying handle, to look at what is at rest.
func RawDB(tb testing.TB, d *DB) *sql.DB { return d.db }
