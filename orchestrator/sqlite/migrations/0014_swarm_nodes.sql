-- Swarm placement: the node an installation is placed on (its ID, and its
-- hostname and address when placed; '' for the single host), and a port
-- ledger per node: the same host port may be reserved on two nodes, never
-- twice on one.
ALTER TABLE installations ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
ALTER TABLE installations ADD COLUMN node_hostname TEXT NOT NULL DEFAULT '';
ALTER TABLE installations ADD COLUMN node_addr TEXT NOT NULL DEFAULT '';

CREATE TABLE port_reservations_by_node (
    node         TEXT NOT NULL DEFAULT '',
    host_port    INTEGER NOT NULL CHECK (host_port BETWEEN 1 AND 65535),
    installation TEXT NOT NULL REFERENCES installations (name) ON DELETE CASCADE,
    param        TEXT NOT NULL,
    UNIQUE (node, host_port),
    UNIQUE (installation, param)
);
-- In rowid order: an installation's ports read back in the order reserved.
INSERT INTO port_reservations_by_node (node, host_port, installation, param)
    SELECT '', host_port, installation, param FROM port_reservations ORDER BY rowid;
DROP TABLE port_reservations;
ALTER TABLE port_reservations_by_node RENAME TO port_reservations;
