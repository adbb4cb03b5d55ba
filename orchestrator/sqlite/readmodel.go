package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/websoft9/stackhub/orchestrator"
)

// The read model: the hot reads (an installation, the list, a token by its
// hash) are served from a snapshot in memory, instead of five statements per
// request, until the next write.
//
// Every write of this package ends with d.changed() (a test holds every
// function that writes to it), which moves the generation on: a read that
// starts after a write returned loads a new snapshot. A snapshot is tagged
// with the generation read before it was loaded, so its data are never older
// than its tag; a write that lands during the load costs one more load.
//
// Writes by other processes: the server is the only one that writes
// installations, runs and the use or revocation of tokens (it holds the data
// directory's lock); stackhub token create and stackhub user, run beside it,
// add tokens and users. Users are not cached, and a token the snapshot does
// not know is looked up in the database before it is refused.
type readModel struct {
	gen atomic.Uint64
	cur atomic.Pointer[snapshot]
	mu  sync.Mutex // one load at a time
}

// snapshot is the live installations and tokens at one generation.
type snapshot struct {
	gen uint64
	// installs are the installations but uninstalled ones, by name.
	installs []orchestrator.Installation
	byName   map[string]int
	// tokens are the unrevoked tokens by hash.
	tokens map[string]orchestrator.Token
}

// changed drops the snapshot: the next read loads a new one.
func (d *DB) changed() { d.rm.gen.Add(1) }

// Version implements orchestrator.Versioned: it moves after every commit
// of this process (which is the only writer of installations).
func (d *DB) Version() uint64 { return d.rm.gen.Load() }

// snapshot returns a snapshot as new as the last write, loading one when
// there was a write since the last load.
func (d *DB) snapshot(ctx context.Context) (*snapshot, error) {
	g := d.rm.gen.Load()
	if s := d.rm.cur.Load(); s != nil && s.gen == g {
		return s, nil
	}
	d.rm.mu.Lock()
	defer d.rm.mu.Unlock()
	// Another reader may have loaded it while this one waited.
	g = d.rm.gen.Load()
	if s := d.rm.cur.Load(); s != nil && s.gen == g {
		return s, nil
	}
	s, err := d.loadSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	s.gen = g
	d.rm.cur.Store(s)
	return s, nil
}

// loadSnapshot reads the live installations and tokens in one read
// transaction: five statements, whatever the number of installations.
func (d *DB) loadSnapshot(ctx context.Context) (*snapshot, error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	s := &snapshot{byName: map[string]int{}, tokens: map[string]orchestrator.Token{}}

	rows, err := tx.QueryContext(ctx, `SELECT name, app, version, digest, state, reason, outputs, last_run_id, created, updated,
  node_id, node_hostname, node_addr
FROM installations WHERE state != 'uninstalled' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		var inst orchestrator.Installation
		var state, outputs, created, updated string
		if err := rows.Scan(&inst.Name, &inst.App, &inst.Version, &inst.Digest, &state, &inst.Reason, &outputs, &inst.LastRunID, &created, &updated,
			&inst.Node.NodeID, &inst.Node.Hostname, &inst.Node.Addr); err != nil {
			return err
		}
		inst.State, inst.Created, inst.Updated = orchestrator.State(state), parseTime(created), parseTime(updated)
		if err := json.Unmarshal([]byte(outputs), &inst.Outputs); err != nil {
			return fmt.Errorf("outputs of %s: %w", inst.Name, err)
		}
		s.byName[inst.Name] = len(s.installs)
		s.installs = append(s.installs, inst)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The parts, in the order the per-name reads give them.
	at := func(name string) *orchestrator.Installation {
		if i, ok := s.byName[name]; ok {
			return &s.installs[i]
		}
		return nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT installation, param, host_port FROM port_reservations ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		var name string
		var pb orchestrator.PortBinding
		if err := rows.Scan(&name, &pb.Param, &pb.Port); err != nil {
			return err
		}
		if inst := at(name); inst != nil {
			inst.Ports = append(inst.Ports, pb)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT installation, action FROM runs WHERE finished IS NULL`)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		var name, action string
		if err := rows.Scan(&name, &action); err != nil {
			return err
		}
		a, err := orchestrator.ParseAction(action)
		if err != nil {
			return badRow("run action", err)
		}
		if inst := at(name); inst != nil {
			inst.Active = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT installation, name FROM container_names ORDER BY name`)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		var name, container string
		if err := rows.Scan(&name, &container); err != nil {
			return err
		}
		if inst := at(name); inst != nil {
			inst.Containers = append(inst.Containers, container)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, selectLiveTokens)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		t, err := scanToken(rows)
		if err != nil {
			return err
		}
		s.tokens[t.Hash] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// eachRow calls fn for every row and closes rows.
func eachRow(rows *sql.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// clone copies inst's slices and map: callers own what they are given, the
// snapshot is shared.
func clone(inst orchestrator.Installation) orchestrator.Installation {
	inst.Ports = slices.Clone(inst.Ports)
	inst.Containers = slices.Clone(inst.Containers)
	inst.Outputs = maps.Clone(inst.Outputs)
	return inst
}
