// Package sqlite stores StackHub's state in one SQLite file through
// modernc.org/sqlite (no cgo): installations (with the Swarm node each is
// placed on), the port ledger (port_reservations, UNIQUE(node,
// host_port): one ledger per Swarm node, ” for the single host),
// container-name reservations, runs (one active per installation, by a partial unique index), API
// tokens (hashes only) and the operator's grants of bundle permissions
// (one live per app and bundle digest, by a partial unique index;
// revoked ones kept). Schema changes are embedded, numbered migrations.
//
// Every exported method is one transaction; constraint violations become
// orchestrator.ECONFLICT. Installations and tokens are read from an
// in-memory snapshot that every write drops (readmodel.go). It imports orchestrator and the SQLite driver only.
package sqlite
