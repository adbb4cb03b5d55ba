package dockertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A cluster's names all start with clusterPrefix and its number X
// (1..250), which also picks its subnet 10.231.X.0/24:
//
//	shc<X>          the bridge in the host's namespace (the host is .1)
//	shc<X>v<i>      the host end of node i's veth, a port of the bridge
//	shc<X>n<i>      node i's network namespace, hostname and cgroup parent
//	stackhub-test:shc<X>  the comment on the iptables rule the cluster adds
//
// A cluster holds /run/stackhub-test/shc<X>.lock (flock) while it lives, so
// two test processes never take the same X, and names whose lock nobody
// holds are leftovers of a run that died: StartCluster sweeps them.
const (
	clusterPrefix  = "shc"
	clusterLockDir = "/run/stackhub-test"
	clusterNet     = "10.231" // 10.231.X.0/24
	commentPrefix  = "stackhub-test:"
)

const cgroupRoot = "/sys/fs/cgroup"

var clusterNameRE = regexp.MustCompile(`^shc([0-9]{1,3})(?:[vn][0-9]{1,3})?$`)

// Cluster is n private Docker engines on one machine, as separate as
// machines on a LAN: each runs in a network namespace (and a UTS namespace
// with its own hostname) of its own, reached over a veth pair plugged into
// one Linux bridge in the host's namespace. The host has the bridge's
// address (Gateway), so a server under test running on the host reaches
// every node's Addr (a host-mode published port included), and every node
// reaches every other (Swarm's 2377/tcp, 7946/tcp+udp and 4789/udp);
// anything beyond the bridge is refused at once.
//
// The Swarm is left to the test, since StackHub's `cluster init` is what
// is tested (InitSwarm, JoinAll and StartSwarm are there for the tests
// that need one ready). What a test meets on a cluster:
//
//   - Nodes never pull: their dockerd runs with
//     DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1, so a task uses the image
//     StartCluster loaded instead of trying the registry first.
//   - Without IPVS in the kernel (CONFIG_IP_VS, missing on the CI
//     machine) a service's VIP resolves but answers nothing: services
//     that must reach each other by name use endpoint mode dnsrr.
//   - The manager marks a node that stopped (Stop, LinkDown) down after
//     three heartbeat periods without a heartbeat: 10 to 16.5 s with the
//     default 5 s period (Spec.Dispatcher.HeartbeatPeriod).
//   - A node that comes back runs its tasks again after the restart
//     delay (5 s by default); Docker 20.10's network gossip sometimes
//     waits 30 s more for a bulk sync before a task on an overlay
//     network starts ("Bulk sync to node ... timed out").
type Cluster struct {
	// Nodes are node 1..n, in order.
	Nodes []*Node
	// Bridge is the Linux bridge joining the nodes.
	Bridge string
	// Subnet is the nodes' network, 10.231.X.0/24.
	Subnet netip.Prefix
	// Gateway is the host's address on the bridge (.1), the nodes'
	// default route.
	Gateway netip.Addr

	x      int
	dir    string
	lock   *os.File
	rules  [][]string // the iptables rules, without -I/-D
	mu     sync.Mutex
	closed bool
}

// Node is one engine of a Cluster. Its embedded Dockerd gives Socket,
// Host, Client, Start, Stop (SIGTERM, as a service manager does: the
// node is lost until Start) and Exec (argv in the node's network
// namespace).
type Node struct {
	*Dockerd
	// Name is the node's hostname (Swarm names the node by it), network
	// namespace and containers' cgroup parent: shc<X>n<i>.
	Name string
	// Addr is the node's address on the bridge, 10.231.X.(10+i).
	Addr netip.Addr
	// Veth is the host end of the node's veth pair: LinkDown cuts the node
	// off the network without stopping its engine.
	Veth string
}

// StartCluster starts n (1 to 15) private engines joined on a bridge,
// copies images into every one (from the host's engine: nothing can be
// pulled) and tears everything down when tb ends (or at Close). Before it
// starts it sweeps what a crashed earlier run left. It needs root, ip,
// nsenter, unshare and iptables.
//
//	c := dockertest.StartCluster(t, 3, "stackhub-test/web:dev")
//	cli, err := c.Nodes[0].Client()      // node 1's engine; or DOCKER_HOST=c.Nodes[0].Host()
//	addr := c.Nodes[1].Addr              // 10.231.X.12, reached from the host
//	err = c.Nodes[2].Stop()              // node 3 lost ... and back:
//	err = c.Nodes[2].Start()
func StartCluster(tb testing.TB, n int, images ...string) *Cluster {
	tb.Helper()
	if n < 1 || n > 15 {
		tb.Fatalf("StartCluster: %d nodes: want 1 to 15", n)
	}
	for _, bin := range []string{"dockerd", "docker", "ip", "nsenter", "unshare", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("StartCluster needs %s (make docker-up installs Docker): %v", bin, err)
		}
	}
	ctx := tb.Context()
	sweepClusters(ctx, tb.Logf)
	c, err := claimCluster(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.close(tb); err != nil {
			tb.Errorf("cluster teardown: %v", err)
		}
	})
	if err := c.start(ctx, n, images); err != nil {
		tb.Fatal(err)
	}
	return c
}

// NewCluster is StartCluster for a program (stackhub-bench's swarm
// section): it returns an error instead of failing a test, and the
// caller calls Close, which it must do on every path once NewCluster
// returned a cluster (a failed start is torn down before it returns).
// logf is told of the leftovers of dead runs it sweeps.
func NewCluster(ctx context.Context, n int, logf func(string, ...any), images ...string) (*Cluster, error) {
	if n < 1 || n > 15 {
		return nil, fmt.Errorf("NewCluster: %d nodes: want 1 to 15", n)
	}
	for _, bin := range []string{"dockerd", "docker", "ip", "nsenter", "unshare", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("NewCluster needs %s (make docker-up installs Docker): %w", bin, err)
		}
	}
	sweepClusters(ctx, logf)
	c, err := claimCluster(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx, n, images); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// claimCluster takes the first free X from a start that depends on the
// process, so that parallel test processes rarely even try the same one.
func claimCluster(ctx context.Context) (*Cluster, error) {
	if err := os.MkdirAll(clusterLockDir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster lock: %w", err)
	}
	routes, err := run(ctx, "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	start := os.Getpid() % 250
	for k := range 250 {
		x := 1 + (start+k)%250
		lock, ok, err := lockCluster(x)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// Held by no one: whatever bears its name is a dead run's.
		if err := sweepCluster(ctx, x, lock); err != nil {
			lock.Close()
			return nil, err
		}
		subnet := netip.MustParsePrefix(fmt.Sprintf("%s.%d.0/24", clusterNet, x))
		if routeOverlaps(string(routes), subnet) {
			lock.Close()
			continue
		}
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", clusterPrefix, x))
		if err != nil {
			lock.Close()
			return nil, err
		}
		if err := writeLock(lock, dir); err != nil {
			lock.Close()
			return nil, err
		}
		name := clusterPrefix + strconv.Itoa(x)
		comment := []string{"-m", "comment", "--comment", commentPrefix + name}
		return &Cluster{
			Bridge: name, Subnet: subnet, Gateway: subnet.Addr().Next(), x: x, dir: dir, lock: lock,
			rules: [][]string{
				// With br_netfilter, frames bridged between two nodes go
				// through the host's FORWARD chain, whose policy the
				// host's dockerd sets to DROP.
				slices.Concat([]string{"FORWARD", "-i", name, "-o", name}, comment, []string{"-j", "ACCEPT"}),
				// Nothing beyond the bridge, and said at once: a node's
				// image pull (Swarm tries one before every task) or DNS
				// query fails in a millisecond instead of a timeout.
				slices.Concat([]string{"FORWARD", "-i", name, "!", "-o", name}, comment, []string{"-j", "REJECT"}),
			},
		}, nil
	}
	return nil, errors.New("StartCluster: all 250 cluster numbers are taken or their subnets are routed")
}

// routeOverlaps tells whether a route of `ip route show` output covers or
// lies inside subnet.
func routeOverlaps(routes string, subnet netip.Prefix) bool {
	for line := range strings.Lines(routes) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if slices.Contains([]string{"broadcast", "local", "unicast", "multicast", "anycast"}, dst) && len(f) > 1 {
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		p, err := netip.ParsePrefix(dst)
		if err == nil && p.Overlaps(subnet) {
			return true
		}
	}
	return false
}

func (c *Cluster) start(ctx context.Context, n int, images []string) error {
	gw := netip.PrefixFrom(c.Gateway, 24).String()
	setup := [][]string{
		{"ip", "link", "add", "name", c.Bridge, "type", "bridge"},
		{"ip", "addr", "add", gw, "dev", c.Bridge},
		{"ip", "link", "set", c.Bridge, "up"},
	}
	for _, r := range c.rules {
		setup = append(setup, append([]string{"iptables", "-w", "-I"}, r...))
	}
	for _, argv := range setup {
		if _, err := run(ctx, argv...); err != nil {
			return fmt.Errorf("cluster %s: %w", c.Bridge, err)
		}
	}
	addr := c.Gateway
	for range 9 {
		addr = addr.Next() // .10
	}
	for i := 1; i <= n; i++ {
		addr = addr.Next()
		name := fmt.Sprintf("%sn%d", c.Bridge, i)
		dir := filepath.Join(c.dir, "n"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		node := &Node{
			Dockerd: &Dockerd{
				Socket: filepath.Join(dir, "d.sock"), NetNS: name, uts: filepath.Join(dir, "uts"), dir: dir,
				// A Swarm worker tries to pull a task's image before it
				// uses the one it has; nothing can be pulled here, and
				// the failed DNS lookups cost 5 to 30 s a task.
				env: []string{"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1"},
			},
			Name: name, Addr: addr, Veth: fmt.Sprintf("%sv%d", c.Bridge, i),
		}
		c.Nodes = append(c.Nodes, node)
		if err := c.plug(ctx, node); err != nil {
			return fmt.Errorf("cluster node %d: %w", i, err)
		}
		// Node i's local networks (docker0, docker_gwbridge) come from
		// 10.232.(16i).0/20; never seen outside the node, but distinct.
		pool := fmt.Sprintf("base=10.232.%d.0/20,size=24", 16*i)
		if err := node.configure(pool, name); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, node := range c.Nodes {
		wg.Go(func() { errs[i] = node.Start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.loadImages(ctx, images)
}

// plug makes node's namespaces and its veth into the bridge.
func (c *Cluster) plug(ctx context.Context, node *Node) error {
	if err := os.WriteFile(node.uts, nil, 0o600); err != nil {
		return err
	}
	ns := "/var/run/netns/" + node.NetNS
	for _, argv := range [][]string{
		{"ip", "netns", "add", node.NetNS},
		// A UTS namespace kept by a bind mount, with the node's hostname:
		// Swarm names a node by its hostname, and three nodes called as
		// the host would be one name for three machines.
		{"unshare", "--uts=" + node.uts, "hostname", node.Name},
		{"ip", "link", "add", node.Veth, "type", "veth", "peer", "name", "eth0", "netns", node.NetNS},
		{"ip", "link", "set", node.Veth, "master", c.Bridge, "up"},
		{"nsenter", "--net=" + ns, "ip", "link", "set", "lo", "up"},
		{"nsenter", "--net=" + ns, "ip", "addr", "add", netip.PrefixFrom(node.Addr, 24).String(), "dev", "eth0"},
		{"nsenter", "--net=" + ns, "ip", "link", "set", "eth0", "up"},
		{"nsenter", "--net=" + ns, "ip", "route", "add", "default", "via", c.Gateway.String()},
	} {
		if _, err := run(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}

// loadImages saves images from the host's engine once and loads them into
// every node at once.
func (c *Cluster) loadImages(ctx context.Context, images []string) error {
	if len(images) == 0 {
		return nil
	}
	tar := filepath.Join(c.dir, "images.tar")
	defer os.Remove(tar)
	if _, err := run(ctx, append([]string{"docker", "save", "-o", tar}, images...)...); err != nil {
		return fmt.Errorf("cluster images (make test-images builds the test ones): %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, node := range c.Nodes {
		wg.Go(func() {
			if _, err := run(ctx, "docker", "--host", node.Host(), "load", "--quiet", "--input", tar); err != nil {
				errs[i] = fmt.Errorf("node %s: %w", node.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LinkDown cuts node off the bridge (its veth's host end goes down): its
// engine keeps running but no other node, nor the host, reaches it.
func (n *Node) LinkDown(ctx context.Context) error {
	_, err := run(ctx, "ip", "link", "set", n.Veth, "down")
	return err
}

// LinkUp plugs node back in after LinkDown.
func (n *Node) LinkUp(ctx context.Context) error {
	_, err := run(ctx, "ip", "link", "set", n.Veth, "up")
	return err
}

// Close stops every engine and removes everything the cluster made:
// namespaces, veths, the bridge, the iptables rule, cgroups, mounts and
// files. It is safe to call more than once and after a failed start; the
// cleanup of the StartCluster's tb calls it too.
func (c *Cluster) Close() error { return c.close(nil) }

func (c *Cluster) close(tb testing.TB) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, node := range c.Nodes {
		if node.log == nil {
			continue
		}
		wg.Go(func() {
			errs[i] = node.Stop()
			node.log.Close()
			if tb != nil && tb.Failed() {
				if log, err := os.ReadFile(node.log.Name()); err == nil {
					tb.Logf("node %s: dockerd log (tail):\n%s", node.Name, tail(log, 6000))
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := errors.Join(append(errs, sweepCluster(ctx, c.x, c.lock))...)
	c.lock.Close()
	return err
}

// sweepClusters removes what dead runs left: every name of the scheme
// whose cluster lock nobody holds.
func sweepClusters(ctx context.Context, logf func(string, ...any)) {
	for _, x := range clusterLeftovers() {
		lock, ok, err := lockCluster(x)
		if err != nil || !ok {
			continue // alive, or not ours to judge
		}
		logf("StartCluster: sweeping leftovers of cluster %s%d", clusterPrefix, x)
		if err := sweepCluster(ctx, x, lock); err != nil {
			logf("StartCluster: sweep %s%d: %v", clusterPrefix, x, err)
		}
		lock.Close()
	}
}

// clusterLeftovers lists the cluster numbers that have links, namespaces,
// iptables rules, cgroups or lock files.
func clusterLeftovers() []int {
	seen := map[int]bool{}
	add := func(name string) {
		if m := clusterNameRE.FindStringSubmatch(name); m != nil {
			x, _ := strconv.Atoi(m[1])
			seen[x] = true
		}
	}
	for _, dir := range []string{"/sys/class/net", "/var/run/netns"} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			add(e.Name())
		}
	}
	ents, _ := os.ReadDir(clusterLockDir)
	for _, e := range ents {
		// A lock file names the cluster's directory while it has one.
		if info, err := e.Info(); err == nil && info.Size() > 0 {
			add(strings.TrimSuffix(e.Name(), ".lock"))
		}
	}
	for _, r := range clusterRules(context.Background(), -1) {
		add(strings.TrimPrefix(ruleComment(r), commentPrefix))
	}
	for _, d := range clusterCgroups(-1) {
		add(filepath.Base(d))
	}
	xs := make([]int, 0, len(seen))
	for x := range seen {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	return xs
}

// lockCluster takes cluster x's lock without waiting; ok is false when a
// live process holds it.
func lockCluster(x int) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(filepath.Join(clusterLockDir, fmt.Sprintf("%s%d.lock", clusterPrefix, x)), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("cluster lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("cluster lock: %w", err)
	}
	return f, true, nil
}

// writeLock records the cluster's directory in its lock file, for the
// sweep after a crash.
func writeLock(lock *os.File, dir string) error {
	if err := lock.Truncate(0); err != nil || dir == "" {
		return err
	}
	_, err := lock.WriteAt([]byte(dir+"\n"), 0)
	return err
}

// sweepCluster removes everything of cluster x, whose lock the caller
// holds: it kills what still runs in its namespaces and cgroups (dockerd,
// containerd, shims, containers), then unmounts and deletes. Missing
// pieces are not errors.
func sweepCluster(ctx context.Context, x int, lock *os.File) error {
	name := clusterPrefix + strconv.Itoa(x)
	b, _ := os.ReadFile(lock.Name())
	dir := strings.TrimSpace(string(b))
	var errs []error
	nss := clusterNetNS(x)
	killAll(ctx, func() []int {
		var pids []int
		for _, ns := range nss {
			out, _ := run(ctx, "ip", "netns", "pids", ns)
			pids = append(pids, atois(strings.Fields(string(out)))...)
		}
		for _, cg := range clusterCgroups(x) {
			pids = append(pids, cgroupPids(cg)...)
		}
		return pids
	})
	if dir != "" && filepath.IsAbs(dir) {
		errs = append(errs, unmountUnder(dir))
	}
	for _, ns := range nss {
		if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if m := clusterNameRE.FindStringSubmatch(l.Name()); m != nil && m[1] == strconv.Itoa(x) && l.Name() != name {
			if _, err := run(ctx, "ip", "link", "del", l.Name()); err != nil && linkExists(l.Name()) {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range clusterRules(ctx, x) {
		if _, err := run(ctx, append([]string{"iptables", "-w", "-D"}, r[1:]...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if linkExists(name) {
		if _, err := run(ctx, "ip", "link", "del", name); err != nil {
			errs = append(errs, err)
		}
	}
	cgs := clusterCgroups(x)
	slices.SortFunc(cgs, func(a, b string) int { return len(b) - len(a) })
	for _, cg := range cgs {
		errs = append(errs, removeCgroup(cg))
	}
	if dir != "" && filepath.IsAbs(dir) && strings.HasPrefix(filepath.Base(dir), name+"-") {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := writeLock(lock, ""); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// clusterNetNS lists cluster x's network namespaces.
func clusterNetNS(x int) []string {
	var nss []string
	ents, _ := os.ReadDir("/var/run/netns")
	for _, e := range ents {
		if m := clusterNameRE.FindStringSubmatch(e.Name()); m != nil && m[1] == strconv.Itoa(x) {
			nss = append(nss, e.Name())
		}
	}
	return nss
}

// killAll sends SIGKILL to the pids list gives until it gives none, for at
// most 20 s.
func killAll(ctx context.Context, list func() []int) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := list()
		if len(pids) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		for _, pid := range pids {
			if pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterRules lists the iptables rules (as `iptables -S` argv) of cluster
// x, or of every cluster when x < 0.
func clusterRules(ctx context.Context, x int) [][]string {
	out, err := run(ctx, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return nil
	}
	var rules [][]string
	for line := range strings.Lines(string(out)) {
		// -A FORWARD -i shcX -o shcX -m comment --comment "stackhub-test:shcX" -j ACCEPT
		f := strings.Fields(line)
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		comment := ruleComment(f)
		if len(f) < 2 || f[0] != "-A" || !strings.HasPrefix(comment, commentPrefix+clusterPrefix) {
			continue
		}
		if x >= 0 && comment != commentPrefix+clusterPrefix+strconv.Itoa(x) {
			continue
		}
		rules = append(rules, f)
	}
	return rules
}

// ruleComment returns the comment of a rule in `iptables -S` argv.
func ruleComment(rule []string) string {
	if i := slices.Index(rule, "--comment"); i >= 0 && i+1 < len(rule) {
		return rule[i+1]
	}
	return ""
}

// clusterCgroups lists the cgroup directories (cgroup v1 or v2) of cluster
// x's nodes, or of every cluster when x < 0. A relative cgroup parent
// lands below the cgroup of the process that made it, so they are looked
// for a few levels down.
func clusterCgroups(x int) []string {
	var dirs []string
	_ = filepath.WalkDir(cgroupRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(cgroupRoot, path)
		if m := clusterNameRE.FindStringSubmatch(d.Name()); m != nil && strings.Contains(d.Name(), "n") {
			if x < 0 || m[1] == strconv.Itoa(x) {
				dirs = append(dirs, path)
			}
			return fs.SkipDir
		}
		if strings.Count(rel, "/") >= 3 {
			return fs.SkipDir
		}
		return nil
	})
	return dirs
}

// cgroupPids lists the processes in cgroup dir and below.
func cgroupPids(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			b, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			pids = append(pids, atois(strings.Fields(string(b)))...)
		}
		return nil
	})
	return pids
}

// removeCgroup removes cgroup dir and the cgroups below it, deepest first.
func removeCgroup(dir string) error {
	var sub []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			sub = append(sub, path)
		}
		return nil
	})
	var errs []error
	for _, d := range slices.Backward(sub) {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mps []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(mps)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or below dir (what a killed dockerd
// left: overlay layers, container namespaces, the nodes' UTS namespaces).
func unmountUnder(dir string) error {
	var errs []error
	for range 3 { // a mount may hide another on the same point
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	return errors.Join(errs...)
}

func atois(ss []string) []int {
	var ns []int
	for _, s := range ss {
		if n, err := strconv.Atoi(s); err == nil {
			ns = append(ns, n)
		}
	}
	return ns
}

// run runs argv and returns its output; the error carries the output.
func run(ctx context.Context, argv ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// leftovers lists what of cluster c is still there: links, namespaces,
// iptables rules, cgroups, mounts and its directory.
func (c *Cluster) leftovers() []string {
	var left []string
	x := strconv.Itoa(c.x)
	for _, dir := range []string{"/sys/class/net", "/var/run/netns"} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if m := clusterNameRE.FindStringSubmatch(e.Name()); m != nil && m[1] == x {
				left = append(left, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, r := range clusterRules(context.Background(), c.x) {
		left = append(left, "iptables "+strings.Join(r, " "))
	}
	left = append(left, clusterCgroups(c.x)...)
	left = append(left, mountsUnder(c.dir)...)
	if _, err := os.Stat(c.dir); err == nil {
		left = append(left, c.dir)
	}
	return left
}
