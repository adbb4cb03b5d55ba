package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// The place of the engine StackHub uses in a Docker Swarm
// (ClusterStatus.Swarm).
const (
	// SwarmInactive: no swarm; StackHub runs apps on this host alone, as it
	// always has.
	SwarmInactive = "inactive"
	// SwarmManager: the engine manages a swarm; its nodes can be listed
	// and changed.
	SwarmManager = "manager"
	// SwarmWorker: the engine was joined to someone else's swarm as a
	// worker; nodes are managed from a manager of that swarm.
	SwarmWorker = "worker"
	// SwarmPending, SwarmError, SwarmLocked: the engine is joining, has
	// failed to, or is a locked manager (docker swarm unlock).
	SwarmPending = "pending"
	SwarmError   = "error"
	SwarmLocked  = "locked"
)

// Node roles and availabilities, as Swarm names them.
const (
	NodeManager = "manager"
	NodeWorker  = "worker"

	NodeActive = "active" // takes new tasks
	NodePause  = "pause"  // keeps its tasks, takes no new ones
	NodeDrain  = "drain"  // its tasks are stopped (moved where they may be)

	// NodeReady is the state of a node the managers hear from.
	NodeReady = "ready"
)

// SwarmPort is the port managers listen on for the cluster (join, raft).
const SwarmPort = 2377

// ClusterStatus is where the engine StackHub uses stands in a swarm.
type ClusterStatus struct {
	// Swarm is one of SwarmInactive, SwarmManager, SwarmWorker,
	// SwarmPending, SwarmError, SwarmLocked.
	Swarm string
	// NodeID is the engine's node ("" when inactive).
	NodeID string
	// NodeAddr is the address the node advertises to the others.
	NodeAddr string
	// ClusterID identifies the swarm (managers only).
	ClusterID string
	// Nodes and Managers count the swarm's nodes (managers only).
	Nodes, Managers int
	// Error is the engine's own account of SwarmError.
	Error string
}

// Node is one machine of the swarm, as the managers see it.
type Node struct {
	ID       string
	Hostname string
	// Role is NodeManager or NodeWorker.
	Role string
	// Availability is NodeActive, NodePause or NodeDrain.
	Availability string
	// State is what the managers hear of the node: ready, down,
	// disconnected or unknown; Message says why when it is not ready.
	State   string
	Message string
	// Reachability is a manager's standing in the managers' quorum
	// (reachable, unreachable, unknown); "" for a worker.
	Reachability string
	// Leader is the managers' leader.
	Leader        bool
	EngineVersion string
	// Addr is the node's address as the managers see it.
	Addr string
	// CPUs and MemoryBytes are what the node's engine reports it has.
	CPUs        float64
	MemoryBytes int64
	// Labels are the node's labels (docker node update --label-add).
	Labels map[string]string
	// Self is the node StackHub's engine is: the one StackHub runs on.
	Self bool
	// Apps counts the installations StackHub placed on the node.
	Apps int
	// Disk is the node's disk use where it is known: Swarm reports no
	// disks, so only the node StackHub runs on has one (the data
	// directory's filesystem, from the host's samples); nil elsewhere.
	Disk *DiskUsage
}

// DiskUsage is a filesystem's size and use in bytes.
type DiskUsage struct {
	Total, Used uint64
}

// Ready tells whether the managers hear from the node and it takes tasks.
func (n Node) Ready() bool { return n.State == NodeReady && n.Availability == NodeActive }

// JoinCommand is what a new machine runs to join the swarm as a worker.
// Token is a secret: whoever has it can add machines to the cluster.
type JoinCommand struct {
	Token string
	// Addr is a manager's host:port.
	Addr string
}

// Argv is the command as its arguments.
func (j JoinCommand) Argv() []string {
	return []string{"docker", "swarm", "join", "--token", j.Token, j.Addr}
}

// String is the command as it is typed.
func (j JoinCommand) String() string { return strings.Join(j.Argv(), " ") }

// Swarm is the Swarm of the engine StackHub uses; dockerhost.Swarm
// implements it over the Docker API. Every method returns EUNAVAILABLE
// when the engine does not answer.
type Swarm interface {
	// SwarmStatus says where the engine stands.
	SwarmStatus(ctx context.Context) (ClusterStatus, error)
	// InitSwarm makes the engine the first manager of a new swarm,
	// advertising advertiseAddr (IP or IP:port; "" lets the engine choose)
	// and returns its node ID. Returns ECONFLICT when it is already in a
	// swarm, EINVALID when the engine refuses the address (or cannot
	// choose one).
	InitSwarm(ctx context.Context, advertiseAddr string) (string, error)
	// WorkerToken returns the token that joins a machine as a worker.
	// Returns ECONFLICT unless the engine is a manager.
	WorkerToken(ctx context.Context) (string, error)
	// Nodes lists the swarm's nodes (Self and Apps left for the caller).
	// Returns ECONFLICT unless the engine is a manager.
	Nodes(ctx context.Context) ([]Node, error)
	// SetAvailability sets node id's availability. Returns ENOTFOUND for
	// an unknown node.
	SetAvailability(ctx context.Context, id, availability string) error
	// RemoveNode removes node id from the swarm; force removes one that
	// is not down. Returns ENOTFOUND for an unknown node.
	RemoveNode(ctx context.Context, id string, force bool) error
}

// InstallationLister lists installations (every Installations store does).
type InstallationLister interface {
	Installations(ctx context.Context) ([]Installation, error)
}

// Cluster is the use cases of a StackHub that spans a Docker Swarm: make
// the host's engine a manager, hand out the command that joins a machine,
// list, drain, activate and remove nodes. A host that never inits a
// cluster is untouched: every read says so (ECONFLICT, "not a swarm") and
// nothing else changes. It is safe for concurrent use; Swarm arbitrates.
type Cluster struct {
	Swarm Swarm
	// Installations are counted on the nodes they were placed on.
	Installations InstallationLister
	// Stats gives the disk of the node StackHub runs on; nil: unknown.
	Stats  HostStats
	Logger *slog.Logger
}

// ClusterInitRequest asks to make the host's engine a swarm manager.
type ClusterInitRequest struct {
	// AdvertiseAddr is the address the other machines reach this one at:
	// an IP, or IP:port for a port other than 2377. Empty lets the engine
	// choose (it refuses when the host has several addresses).
	AdvertiseAddr string
}

// NodeChange asks to change one node, named by ID, unique ID prefix or
// hostname.
type NodeChange struct {
	Node string
	// Force drains the last active node, or removes a node that is still
	// ready or still holds apps.
	Force bool
}

func (c *Cluster) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger.With("component", "cluster")
}

func (c *Cluster) swarm() (Swarm, error) {
	if c == nil || c.Swarm == nil {
		return nil, Errorf(EUNAVAILABLE, "this server drives no Docker engine: clusters are not available")
	}
	return c.Swarm, nil
}

// Status says whether the host's engine is in a swarm, and as what.
// Returns EUNAVAILABLE when Docker does not answer.
func (c *Cluster) Status(ctx context.Context) (ClusterStatus, error) {
	sw, err := c.swarm()
	if err != nil {
		return ClusterStatus{}, err
	}
	st, err := sw.SwarmStatus(ctx)
	if err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster status: %w", err)
	}
	return st, nil
}

// Init makes the host's engine the first manager of a new swarm and
// returns the new status. Returns EINVALID for a bad advertise address
// (or one the engine cannot choose), ECONFLICT when the engine is
// already in a swarm, EUNAVAILABLE when Docker does not answer.
func (c *Cluster) Init(ctx context.Context, req ClusterInitRequest) (ClusterStatus, error) {
	sw, err := c.swarm()
	if err != nil {
		return ClusterStatus{}, err
	}
	if err := ValidateAdvertiseAddr(req.AdvertiseAddr); err != nil {
		return ClusterStatus{}, err
	}
	st, err := sw.SwarmStatus(ctx)
	if err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster init: %w", err)
	}
	if st.Swarm != SwarmInactive {
		return st, alreadyInSwarm(st)
	}
	id, err := sw.InitSwarm(ctx, req.AdvertiseAddr)
	if err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster init: %w", err)
	}
	c.log().Info("swarm initialised: this host's engine is its manager", "node", id, "advertise_addr", req.AdvertiseAddr)
	st, err = sw.SwarmStatus(ctx)
	if err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster init: status: %w", err)
	}
	return st, nil
}

// alreadyInSwarm is the ECONFLICT of an init on an engine in a swarm.
func alreadyInSwarm(st ClusterStatus) error {
	switch st.Swarm {
	case SwarmManager:
		return Errorf(ECONFLICT, "the engine is already the manager of a swarm (node %s): nothing to initialise; `stackhub node add` tells how to add a machine", st.NodeID)
	case SwarmWorker:
		return Errorf(ECONFLICT, "the engine is already a worker of another swarm (node %s): manage that swarm from its manager, or leave it (docker swarm leave) first", st.NodeID)
	}
	return Errorf(ECONFLICT, "the engine is already in a swarm (state %s): leave it (docker swarm leave) before making a new one", st.Swarm)
}

// notManager is the ECONFLICT of a cluster operation on an engine that
// manages no swarm.
func notManager(st ClusterStatus) error {
	switch st.Swarm {
	case SwarmManager:
		return nil
	case SwarmInactive:
		return Errorf(ECONFLICT, "not a swarm: this server runs apps on one host; `stackhub cluster init` makes it the manager of a cluster")
	case SwarmWorker:
		return Errorf(ECONFLICT, "the engine is a worker of a swarm, not a manager: nodes are managed from a manager")
	}
	return Errorf(ECONFLICT, "the engine's swarm is %s, not managed: %s", st.Swarm, st.Error)
}

// ValidateAdvertiseAddr accepts "" (the engine chooses), an IP address or
// IP:port (IPv6 in brackets with a port). Returns EINVALID with the reason
// otherwise: a host name, an interface name, the unspecified, a multicast
// address, a port out of range.
func ValidateAdvertiseAddr(s string) error {
	if s == "" {
		return nil
	}
	bad := func(why string) error {
		return Errorf(EINVALID, "advertise address %q: %s (want an IP address the other machines reach this one at, e.g. 192.168.1.10, or IP:port)", s, why)
	}
	if len(s) > 64 {
		return bad("too long")
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return bad("not an IP address or IP:port")
		}
		if ap.Port() == 0 {
			return bad("port 0")
		}
		addr = ap.Addr()
	}
	switch {
	case addr.Zone() != "":
		return bad("a zoned address")
	case addr.IsUnspecified():
		return bad("the unspecified address")
	case addr.IsMulticast():
		return bad("a multicast address")
	}
	return nil
}

// JoinCommand returns the command that joins a new machine to the swarm
// as a worker. Its token is a secret: only admins are given it, and it is
// never logged. Returns ECONFLICT unless the engine is a manager,
// EUNAVAILABLE when Docker does not answer.
func (c *Cluster) JoinCommand(ctx context.Context) (JoinCommand, error) {
	sw, err := c.swarm()
	if err != nil {
		return JoinCommand{}, err
	}
	st, err := sw.SwarmStatus(ctx)
	if err != nil {
		return JoinCommand{}, fmt.Errorf("join command: %w", err)
	}
	if err := notManager(st); err != nil {
		return JoinCommand{}, err
	}
	token, err := sw.WorkerToken(ctx)
	if err != nil {
		return JoinCommand{}, fmt.Errorf("join command: %w", err)
	}
	nodes, err := sw.Nodes(ctx)
	if err != nil {
		return JoinCommand{}, fmt.Errorf("join command: %w", err)
	}
	return JoinCommand{Token: token, Addr: managerAddr(st, nodes)}, nil
}

// managerAddr is where a new machine reaches a manager: this node's
// manager address (its advertise address and port), else its advertise
// address with the swarm port.
func managerAddr(st ClusterStatus, nodes []Node) string {
	for _, n := range nodes {
		if n.ID == st.NodeID && n.Role == NodeManager && strings.Contains(n.Addr, ":") {
			if _, err := netip.ParseAddrPort(n.Addr); err == nil {
				return n.Addr
			}
		}
	}
	if a, err := netip.ParseAddr(st.NodeAddr); err == nil {
		return netip.AddrPortFrom(a, SwarmPort).String()
	}
	return fmt.Sprintf("%s:%d", st.NodeAddr, SwarmPort)
}

// Nodes lists the swarm's nodes by hostname, each with the apps StackHub
// placed on it, and the disk of the one StackHub runs on. Returns
// ECONFLICT ("not a swarm") unless the engine is a manager, EUNAVAILABLE
// when Docker does not answer.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	sw, err := c.swarm()
	if err != nil {
		return nil, err
	}
	st, err := sw.SwarmStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	if err := notManager(st); err != nil {
		return nil, err
	}
	return c.nodes(ctx, sw, st)
}

func (c *Cluster) nodes(ctx context.Context, sw Swarm, st ClusterStatus) ([]Node, error) {
	nodes, err := sw.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	apps := map[string]int{}
	if c.Installations != nil {
		list, err := c.Installations.Installations(ctx)
		if err != nil {
			return nil, fmt.Errorf("nodes: installations: %w", err)
		}
		apps = AppsByNode(list)
	}
	for i := range nodes {
		n := &nodes[i]
		n.Self = n.ID == st.NodeID
		n.Apps = apps[n.ID]
		if n.Self && c.Stats != nil {
			if smp, ok := c.Stats.Latest(); ok && smp.DiskTotal > 0 {
				n.Disk = &DiskUsage{Total: smp.DiskTotal, Used: smp.DiskUsed}
			}
		}
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.ID, b.ID))
	})
	return nodes, nil
}

// InstallationNode is the swarm node an installation was placed on
// (placement.go), "" for one that runs on the host's engine without a
// swarm.
func InstallationNode(inst Installation) string { return inst.Node.NodeID }

// AppsByNode counts the live installations on each node.
func AppsByNode(list []Installation) map[string]int {
	out := map[string]int{}
	for _, inst := range list {
		if node := InstallationNode(inst); node != "" && inst.State != StateUninstalled {
			out[node]++
		}
	}
	return out
}

// nodeRef is what a node may be named by: an ID, an ID prefix or a
// hostname.
var nodeRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

// findNode returns the node ref names: the node of that ID, else of that
// hostname, else the one whose ID starts with ref. Returns EINVALID for a
// malformed ref or one that names several nodes, ENOTFOUND for none.
func findNode(nodes []Node, ref string) (Node, error) {
	if !nodeRef.MatchString(ref) {
		return Node{}, Errorf(EINVALID, "node %q: give a node's ID or hostname (letters, digits, '.', '_', '-')", ref)
	}
	for _, n := range nodes {
		if n.ID == ref {
			return n, nil
		}
	}
	var byName, byPrefix []Node
	for _, n := range nodes {
		if n.Hostname == ref {
			byName = append(byName, n)
		}
		if strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
	}
	for _, found := range [][]Node{byName, byPrefix} {
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		ids := make([]string, 0, len(found))
		for _, n := range found {
			ids = append(ids, n.ID)
		}
		return Node{}, Errorf(EINVALID, "node %q names %d nodes (%s): give its ID", ref, len(found), strings.Join(ids, ", "))
	}
	return Node{}, Errorf(ENOTFOUND, "no node %q in the swarm (`stackhub node list` lists them)", ref)
}

// Drain stops the swarm from running tasks on a node: its Swarm apps stop
// until it is active again (their volumes are on that node; nothing
// moves), and no new app is placed there. The node StackHub runs on may
// be drained (apps installed without the swarm are plain containers and
// keep running), but not the last active node of the swarm unless Force:
// no Swarm app could run anywhere then. Draining a drained node changes
// nothing. Returns the node as it is now; EINVALID or ENOTFOUND for the
// node, ECONFLICT for the last active node or an engine that manages no
// swarm, EUNAVAILABLE when Docker does not answer.
func (c *Cluster) Drain(ctx context.Context, req NodeChange) (Node, error) {
	return c.setAvailability(ctx, req, NodeDrain)
}

// Activate lets the swarm run tasks on a drained or paused node again.
// Same errors as Drain, without the last-node refusal.
func (c *Cluster) Activate(ctx context.Context, req NodeChange) (Node, error) {
	return c.setAvailability(ctx, req, NodeActive)
}

func (c *Cluster) setAvailability(ctx context.Context, req NodeChange, to string) (Node, error) {
	sw, st, nodes, err := c.managed(ctx)
	if err != nil {
		return Node{}, err
	}
	n, err := findNode(nodes, req.Node)
	if err != nil {
		return Node{}, err
	}
	if n.Availability == to {
		return n, nil
	}
	if to == NodeDrain && n.Availability == NodeActive && !req.Force {
		others := slices.ContainsFunc(nodes, func(o Node) bool { return o.ID != n.ID && o.Ready() })
		if !others {
			return Node{}, Errorf(ECONFLICT, "node %s is the swarm's last active node: drained, no Swarm app could run anywhere; add or activate another node first, or force it", n.Hostname)
		}
	}
	if err := sw.SetAvailability(ctx, n.ID, to); err != nil {
		return Node{}, fmt.Errorf("set node %s %s: %w", n.ID, to, err)
	}
	c.log().Info("node availability changed", "node", n.ID, "hostname", n.Hostname, "from", n.Availability, "to", to, "apps", n.Apps)
	after, err := c.nodes(ctx, sw, st)
	if err != nil {
		return Node{}, err
	}
	if i := slices.IndexFunc(after, func(o Node) bool { return o.ID == n.ID }); i >= 0 {
		return after[i], nil
	}
	n.Availability = to
	return n, nil
}

// managed returns the swarm, its status and its nodes, or ECONFLICT when
// the engine manages none.
func (c *Cluster) managed(ctx context.Context) (Swarm, ClusterStatus, []Node, error) {
	sw, err := c.swarm()
	if err != nil {
		return nil, ClusterStatus{}, nil, err
	}
	st, err := sw.SwarmStatus(ctx)
	if err != nil {
		return nil, st, nil, fmt.Errorf("nodes: %w", err)
	}
	if err := notManager(st); err != nil {
		return nil, st, nil, err
	}
	nodes, err := c.nodes(ctx, sw, st)
	return sw, st, nodes, err
}

// Remove takes a node out of the swarm. It refuses, whatever Force: the
// node StackHub runs on (leaving is done on the host: docker swarm leave
// --force), and a manager (demote it first: docker node demote). Without
// Force it refuses a node that is still ready (run docker swarm leave on
// it first, so its engine knows) and one that holds apps (uninstall or
// move them: their volumes are there). Returns EINVALID or ENOTFOUND for
// the node, ECONFLICT for a refusal or an engine that manages no swarm,
// EUNAVAILABLE when Docker does not answer.
func (c *Cluster) Remove(ctx context.Context, req NodeChange) (Node, error) {
	sw, _, nodes, err := c.managed(ctx)
	if err != nil {
		return Node{}, err
	}
	n, err := findNode(nodes, req.Node)
	if err != nil {
		return Node{}, err
	}
	switch {
	case n.Self:
		return Node{}, Errorf(ECONFLICT, "node %s is the one StackHub runs on: it cannot be removed from its own cluster", n.Hostname)
	case n.Role == NodeManager:
		return Node{}, Errorf(ECONFLICT, "node %s is a manager: demote it first (docker node demote %s on a manager), then remove it", n.Hostname, n.ID)
	case n.Apps > 0 && !req.Force:
		return Node{}, Errorf(ECONFLICT, "node %s holds %d app(s) StackHub placed there, with their volumes: uninstall them or move them (backup and restore) first, or force the removal and lose them", n.Hostname, n.Apps)
	case n.State == NodeReady && !req.Force:
		return Node{}, Errorf(ECONFLICT, "node %s is still ready: run `docker swarm leave` on it first, or force the removal (its engine will still think it is in the swarm)", n.Hostname)
	}
	if err := sw.RemoveNode(ctx, n.ID, req.Force); err != nil {
		return Node{}, fmt.Errorf("remove node %s: %w", n.ID, err)
	}
	c.log().Info("node removed from the swarm", "node", n.ID, "hostname", n.Hostname, "state", n.State, "force", req.Force)
	return n, nil
}
