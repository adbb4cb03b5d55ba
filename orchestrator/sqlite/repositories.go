package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.RepositoryConfigs = (*DB)(nil)

// repoLocation is the location column.
type repoLocation struct {
	Path      string `json:"path,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
	Insecure  bool   `json:"insecure,omitempty"`
}

// repoSecrets is the secrets column, sealed.
type repoSecrets struct {
	Password  string `json:"password"`
	SecretKey string `json:"secretKey,omitempty"`
}

// AddRepositoryConfig implements orchestrator.RepositoryConfigs.
func (d *DB) AddRepositoryConfig(ctx context.Context, c orchestrator.RepositoryConfig) error {
	defer d.changed() // after the commit: readers load a new snapshot
	if d.Sealer == nil {
		return orchestrator.Errorf(orchestrator.EINTERNAL, "a repository's password needs a sealer: none is configured")
	}
	loc, err := json.Marshal(repoLocation{Path: c.Path, Endpoint: c.Endpoint, Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region,
		AccessKey: c.AccessKey, Insecure: c.Insecure})
	if err != nil {
		return err
	}
	plain, err := json.Marshal(repoSecrets{Password: c.Password, SecretKey: c.SecretKey})
	if err != nil {
		return err
	}
	sealed, err := d.Sealer.Seal(plain)
	if err != nil {
		return classify("seal repository secrets", err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("add repository", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM repositories`).Scan(&n); err != nil {
		return classify("add repository", err)
	}
	def := c.Default || n == 0
	if def {
		if _, err := tx.ExecContext(ctx, `UPDATE repositories SET is_default = 0`); err != nil {
			return classify("add repository", err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO repositories (id, kind, location, secrets, is_default, created) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Kind, string(loc), sealed, def, formatTime(c.Created))
	if isUniqueViolation(err) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "a repository named %s exists", c.ID)
	}
	if err != nil {
		return classify("add repository", err)
	}
	return classify("add repository", tx.Commit())
}

const repoColumns = `id, kind, location, secrets, is_default, created`

func (d *DB) scanRepository(row interface{ Scan(...any) error }, withSecrets bool) (orchestrator.RepositoryConfig, error) {
	var c orchestrator.RepositoryConfig
	var loc, created string
	var sealed []byte
	if err := row.Scan(&c.ID, &c.Kind, &loc, &sealed, &c.Default, &created); err != nil {
		return c, err
	}
	var l repoLocation
	if err := json.Unmarshal([]byte(loc), &l); err != nil {
		return c, badRow("repository location", err)
	}
	c.Path, c.Endpoint, c.Bucket, c.Prefix, c.Region, c.AccessKey, c.Insecure = l.Path, l.Endpoint, l.Bucket, l.Prefix, l.Region, l.AccessKey, l.Insecure
	c.Created = parseTime(created)
	if withSecrets {
		if d.Sealer == nil {
			return c, orchestrator.Errorf(orchestrator.EINTERNAL, "repository %s's password cannot be read: no sealer is configured", c.ID)
		}
		plain, err := d.Sealer.Open(sealed)
		if err != nil {
			return c, classify("open repository secrets", err)
		}
		var s repoSecrets
		if err := json.Unmarshal(plain, &s); err != nil {
			return c, badRow("repository secrets", err)
		}
		c.Password, c.SecretKey = s.Password, s.SecretKey
	}
	return c, nil
}

// RepositoryConfig implements orchestrator.RepositoryConfigs.
func (d *DB) RepositoryConfig(ctx context.Context, id string) (orchestrator.RepositoryConfig, error) {
	q, arg := `SELECT `+repoColumns+` FROM repositories WHERE id = ?`, any(id)
	if id == "" {
		q, arg = `SELECT `+repoColumns+` FROM repositories WHERE is_default = 1`, nil
	}
	var row *sql.Row
	if arg == nil {
		row = d.db.QueryRowContext(ctx, q)
	} else {
		row = d.db.QueryRowContext(ctx, q, arg)
	}
	c, err := d.scanRepository(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		if id == "" {
			return c, orchestrator.Errorf(orchestrator.ENOTFOUND, "no backup repository is configured: add one first (POST /api/v1/repositories, stackhub backup repository add)")
		}
		return c, orchestrator.Errorf(orchestrator.ENOTFOUND, "no backup repository named %s", id)
	}
	return c, classify("repository", err)
}

// RepositoryConfigs implements orchestrator.RepositoryConfigs.
func (d *DB) RepositoryConfigs(ctx context.Context) ([]orchestrator.RepositoryConfig, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+repoColumns+` FROM repositories ORDER BY created, id`)
	if err != nil {
		return nil, classify("repositories", err)
	}
	defer rows.Close()
	out := []orchestrator.RepositoryConfig{}
	for rows.Next() {
		c, err := d.scanRepository(rows, false)
		if err != nil {
			return nil, classify("repositories", err)
		}
		out = append(out, c)
	}
	return out, classify("repositories", rows.Err())
}

// RemoveRepositoryConfig implements orchestrator.RepositoryConfigs. When
// the default goes, the oldest left becomes the default.
func (d *DB) RemoveRepositoryConfig(ctx context.Context, id string) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("remove repository", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM repositories WHERE id = ?`, id)
	if err != nil {
		return classify("remove repository", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no backup repository named %s", id)
	}
	_, err = tx.ExecContext(ctx, `UPDATE repositories SET is_default = 1 WHERE id = (SELECT id FROM repositories ORDER BY created, id LIMIT 1)
AND NOT EXISTS (SELECT 1 FROM repositories WHERE is_default = 1)`)
	if err != nil {
		return classify("remove repository", err)
	}
	return classify("remove repository", tx.Commit())
}
