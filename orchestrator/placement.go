package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
)

// Placement on a Docker Swarm.
//
// When the host's engine is a Swarm manager, every install is placed on
// one node and stays there: its volumes are local to that node. The
// operator names the node (InstallRequest.Node, its ID or hostname), or
// StackHub picks the ready, active node with the most free memory that
// satisfies the bundle's requirements (PlaceApp). The node is stored on
// the installation (Installation.Node); upgrades, actions and uninstall
// run on it, and its host ports are reserved on it (the ledger is per
// node). A host whose engine is not a manager has no nodes: its
// installations have the zero Placement, as before Swarm.
//
// Free memory. Swarm reports what a node has (its memory and CPUs), not
// what it uses. StackHub counts a node's free memory as its memory minus
// the memory requirements (custom.sh.websoft9.requirements.memory, as the
// catalog has the app now) of the live installations already placed on
// it. CPU is not summed: cores are shared in time, so a node satisfies an
// app's cpu requirement when it has at least that many cores.
//
// docs/swarm-apps.md says the same for operators, with the port ledger
// per node and what the websoft9 mixin creates.

// SwarmPlacement is what placing apps needs of the Swarm of the engine
// StackHub uses (dockerhost.Swarm implements it). Deps.Swarm nil: the
// engine is never asked, and installs are not placed.
type SwarmPlacement interface {
	// SwarmStatus says where the engine stands: placement happens only
	// on a manager (SwarmManager), NodeID being the node StackHub runs on.
	SwarmStatus(ctx context.Context) (ClusterStatus, error)
	// Nodes lists the swarm's nodes.
	Nodes(ctx context.Context) ([]Node, error)
	// NodePorts returns the host ports published on node by the tasks of
	// services placed there: what the manager knows of a remote node's
	// ports (it cannot see the node's own sockets).
	NodePorts(ctx context.Context, node string) (map[int]bool, error)
}

// Placement is where an installation runs: a Swarm node, or the single
// host (the zero value).
type Placement struct {
	// NodeID is the Swarm node ID; Hostname and Addr are the node's when
	// the app was placed.
	NodeID   string
	Hostname string
	Addr     string
}

// OnSwarm tells whether the installation was placed on a Swarm node.
func (p Placement) OnSwarm() bool { return p.NodeID != "" }

// Address returns where the installation's port answers: the node's
// address and port ("" when not placed on a node, or port is 0).
func (p Placement) Address(port int) string {
	if p.Addr == "" || port == 0 {
		return ""
	}
	if strings.Contains(p.Addr, ":") {
		return fmt.Sprintf("[%s]:%d", p.Addr, port)
	}
	return fmt.Sprintf("%s:%d", p.Addr, port)
}

// PlaceRequest is what PlaceApp decides on.
type PlaceRequest struct {
	// App is the app to place (its Requirements count).
	App App
	// Want is the node the operator asked for (ID or hostname), "" to let
	// StackHub pick.
	Want string
	// Force places even on a node that does not have the memory or cores
	// the app asks for (it must still be ready and active).
	Force bool
	// Placed is, by node ID, the memory the apps already placed there
	// require.
	Placed map[string]uint64
}

// PlaceApp chooses the node of an install among nodes. A node the
// operator names must exist (by ID, or by a hostname only one node has),
// be ready and active, and (unless Force) have the app's cpu cores and
// memory free; otherwise StackHub picks, among the ready, active nodes
// that satisfy the requirements, the one with the most free memory (ties:
// by hostname, then ID).
//
// Returns EINVALID for a node that is not in the Swarm or a name several
// nodes answer to (findNode: ID, hostname or ID prefix), EPRECONDITION for a node that is down, paused or drained,
// for one that lacks what the app needs, or when no node can take the app,
// with every node's reason.
func PlaceApp(nodes []Node, req PlaceRequest) (Node, error) {
	cpu, err := ParseCPU(req.App.Requirements.CPU)
	if err != nil {
		return Node{}, WrapError(EINVALID, err, "bundle %s: requirements.cpu: %v", req.App.Name, err)
	}
	mem, err := ParseQuantity(req.App.Requirements.Memory)
	if err != nil {
		return Node{}, WrapError(EINVALID, err, "bundle %s: requirements.memory: %v", req.App.Name, err)
	}
	// why says what keeps n from taking the app, "" when nothing does.
	why := func(n Node) string {
		if !n.Ready() {
			return fmt.Sprintf("it is %s and %s (apps go on ready, active nodes)", n.State, n.Availability)
		}
		if req.Force {
			return ""
		}
		var short []string
		if cpu > 0 && n.CPUs > 0 && cpu > n.CPUs {
			short = append(short, fmt.Sprintf("cpu: needs %g cores, it has %g", cpu, n.CPUs))
		}
		if free := freeMemory(n, req.Placed); mem > 0 && n.MemoryBytes > 0 && mem > free {
			short = append(short, fmt.Sprintf("memory: needs %s, %s free of %s", gib(mem), gib(free), gib(uint64(n.MemoryBytes))))
		}
		return strings.Join(short, "; ")
	}
	if req.Want != "" {
		n, err := findNode(nodes, req.Want)
		if ErrorCode(err) == ENOTFOUND {
			// A node in the request: bad input, as any other field.
			names := make([]string, 0, len(nodes))
			for _, n := range nodes {
				names = append(names, n.Hostname)
			}
			slices.Sort(names)
			return Node{}, WrapError(EINVALID, err, "node %q is not a node of the Swarm (nodes: %s)", req.Want, strings.Join(names, ", "))
		}
		if err != nil {
			return Node{}, err
		}
		if reason := why(n); reason != "" {
			return Node{}, Errorf(EPRECONDITION, "node %s cannot take %s: %s", n.Hostname, req.App.Name, reason)
		}
		return n, nil
	}
	var fit []Node
	var refused []string
	for _, n := range nodes {
		if reason := why(n); reason != "" {
			refused = append(refused, fmt.Sprintf("%s: %s", n.Hostname, reason))
			continue
		}
		fit = append(fit, n)
	}
	if len(fit) == 0 {
		if len(nodes) == 0 {
			return Node{}, Errorf(EPRECONDITION, "the Swarm has no node to place %s on", req.App.Name)
		}
		return Node{}, Errorf(EPRECONDITION, "no node of the Swarm can take %s: %s (install with force to place it on a ready node anyway)",
			req.App.Name, strings.Join(refused, "; "))
	}
	slices.SortFunc(fit, func(a, b Node) int {
		return cmp.Or(cmp.Compare(freeMemory(b, req.Placed), freeMemory(a, req.Placed)),
			cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(a.ID, b.ID))
	})
	return fit[0], nil
}

// freeMemory is n's memory less what the apps placed on it require.
func freeMemory(n Node, placed map[string]uint64) uint64 {
	total := uint64(max(n.MemoryBytes, 0))
	return total - min(placed[n.ID], total)
}

// placeInstall places an install on a node of the Swarm when the engine
// is a manager (the prepare step "place on a node"). On an engine that is
// not, a node in the request is refused with EINVALID and the install
// runs on the single host as before.
func (e *Engine) placeInstall(ctx context.Context, r *runState) error {
	manager, local := false, ""
	if e.d.Swarm != nil {
		st, err := e.d.Swarm.SwarmStatus(ctx)
		if err != nil {
			return fmt.Errorf("install %s: %w", r.name, err)
		}
		if manager = st.Swarm == SwarmManager; manager {
			local = st.NodeID
		}
		e.localNode.Store(&local)
	}
	if !manager {
		if r.node != "" {
			return Errorf(EINVALID, "node %s: this server's Docker engine is not a Swarm manager, so there is no node to place %s on: leave node out", r.node, r.name)
		}
		return nil
	}
	nodes, err := e.d.Swarm.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("install %s: list the Swarm's nodes: %w", r.name, err)
	}
	placed, err := e.placedMemory(ctx)
	if err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	n, err := PlaceApp(nodes, PlaceRequest{App: r.app, Want: r.node, Force: r.force, Placed: placed})
	if err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	r.place = Placement{NodeID: n.ID, Hostname: n.Hostname, Addr: nodeHost(n)}
	r.localNode, r.nodes = local, nodes
	return nil
}

// placeAgain places an install StackHub picks the node of once more,
// with the installations recorded by now: the caller holds e.reserving,
// so installs asked for at once are placed one after the other, each
// counting the memory of those placed before it (placeInstall's choice
// was made without them). A node the operator named stays.
func (e *Engine) placeAgain(ctx context.Context, r *runState) error {
	if !r.place.OnSwarm() || r.node != "" {
		return nil
	}
	placed, err := e.placedMemory(ctx)
	if err != nil {
		return err
	}
	n, err := PlaceApp(r.nodes, PlaceRequest{App: r.app, Force: r.force, Placed: placed})
	if err != nil {
		return err
	}
	r.place = Placement{NodeID: n.ID, Hostname: n.Hostname, Addr: nodeHost(n)}
	return nil
}

// placedMemory returns, by node, the memory the live installations placed
// there require (as the catalog declares their apps now; an app the
// catalog no longer has, or whose requirement does not parse, counts 0).
func (e *Engine) placedMemory(ctx context.Context) (map[string]uint64, error) {
	list, err := e.d.Installations.Installations(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	need := map[string]uint64{}
	for _, inst := range list {
		if !inst.Node.OnSwarm() || !inst.State.Live() {
			continue
		}
		m, ok := need[inst.App]
		if !ok {
			if app, err := e.d.Catalog.App(ctx, inst.App); err == nil {
				m, _ = ParseQuantity(app.Requirements.Memory)
			}
			need[inst.App] = m
		}
		out[inst.Node.NodeID] += m
	}
	return out, nil
}

// ledgerNodes are the ledger's nodes whose reservations an install on
// place must not meet: the node's own, and the single host's ("") when
// the node is the one StackHub runs on (installations made before the
// host became a manager publish their ports there).
func ledgerNodes(place Placement, local string) []string {
	switch {
	case !place.OnSwarm():
		return []string{""}
	case place.NodeID == local:
		return []string{"", place.NodeID}
	}
	return []string{place.NodeID}
}

// busyPorts returns the ports in use where place is: the local host's
// sockets and containers for the single host or the node StackHub runs
// on, and for any node what the manager knows (the ports its services'
// tasks publish there).
func (e *Engine) busyPorts(ctx context.Context, place Placement, local string) (map[int]bool, error) {
	busy := map[int]bool{}
	if !place.OnSwarm() || place.NodeID == local {
		b, err := e.d.Host.BusyPorts(ctx)
		if err != nil {
			return nil, err
		}
		busy = b
	}
	if place.OnSwarm() && e.d.Swarm != nil {
		b, err := e.d.Swarm.NodePorts(ctx, place.NodeID)
		if err != nil {
			return nil, err
		}
		for p := range b {
			busy[p] = true
		}
	}
	return busy, nil
}

// isLocal tells whether inst runs where StackHub's engine can see its
// containers: the single host, or the node StackHub runs on (as last
// learnt from the manager).
func (e *Engine) isLocal(inst Installation) bool {
	if !inst.Node.OnSwarm() {
		return true
	}
	local := e.localNode.Load()
	return local != nil && *local == inst.Node.NodeID
}

// nodeHost is the address an app on n is reached at: the host of the
// node's address (a manager's carries the swarm port).
func nodeHost(n Node) string {
	if host, _, err := net.SplitHostPort(n.Addr); err == nil {
		return host
	}
	return n.Addr
}
