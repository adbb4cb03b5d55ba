package wire

// Cluster is GET /api/v1/cluster: where the server's Docker engine stands
// in a Swarm.
type Cluster struct {
	// Swarm is inactive (one host, as without a cluster), manager, worker,
	// pending, error or locked.
	Swarm string `json:"swarm"`
	// NodeID is the engine's node; NodeAddr the address it advertises.
	NodeID   string `json:"nodeId,omitempty"`
	NodeAddr string `json:"nodeAddr,omitempty"`
	// ClusterID, Nodes and Managers: a manager's view of the swarm.
	ClusterID string `json:"clusterId,omitempty"`
	Nodes     int    `json:"nodes"`
	Managers  int    `json:"managers"`
	// Reason is the engine's account of the error state.
	Reason string `json:"reason,omitempty"`
}

// ClusterInit is the body of POST /api/v1/cluster/init.
type ClusterInit struct {
	// AdvertiseAddr is the IP (or IP:port) the other machines reach this
	// one at; empty lets the engine choose.
	AdvertiseAddr string `json:"advertiseAddr,omitempty"`
}

// JoinCommand is GET /api/v1/cluster/join (admins): what a new machine
// runs to join the swarm as a worker. Token is a secret.
type JoinCommand struct {
	// Command is the command line to type on the new machine.
	Command string `json:"command"`
	// Argv is the same command as its arguments.
	Argv []string `json:"argv"`
	// Token is the swarm's worker join token.
	Token string `json:"token"`
	// Addr is the manager's host:port the new machine connects to.
	Addr string `json:"addr"`
}

// Node is one machine of the swarm: GET /api/v1/nodes.
type Node struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	// Role is manager or worker; Leader marks the managers' leader.
	Role   string `json:"role"`
	Leader bool   `json:"leader,omitempty"`
	// Availability is active, pause or drain.
	Availability string `json:"availability"`
	// State is ready, down, disconnected or unknown, with Message saying
	// why when the managers say.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Reachability is a manager's: reachable, unreachable or unknown.
	Reachability  string            `json:"reachability,omitempty"`
	EngineVersion string            `json:"engineVersion"`
	Addr          string            `json:"addr"`
	CPUs          float64           `json:"cpus"`
	MemoryBytes   int64             `json:"memoryBytes"`
	Labels        map[string]string `json:"labels"`
	// Self is the node the StackHub server runs on.
	Self bool `json:"self"`
	// Apps counts the apps StackHub placed on the node.
	Apps int `json:"apps"`
	// Disk is known for the node StackHub runs on only (its data
	// directory's filesystem): Swarm reports no disks. Absent: unknown.
	Disk *NodeDisk `json:"disk,omitempty"`
}

// NodeDisk is a node's disk size and use in bytes.
type NodeDisk struct {
	Total uint64 `json:"total"`
	Used  uint64 `json:"used"`
}
