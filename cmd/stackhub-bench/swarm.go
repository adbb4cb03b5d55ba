package main

// `stackhub-bench swarm` is `make bench-swarm` (issue 23's benchmark), not
// part of `make bench`: it starts four private engines with
// dockertest.NewCluster (nodes 1-3 made a Swarm through StackHub's API,
// node 4 left a single host) and two `stackhub serve`, one on node 1's
// engine and one on node 4's, and measures in the same run:
//
//   - install → the app answers HTTP at its node's address, the demo on
//     node 2 (a remote node of the Swarm) against the same bundle on node
//     4's single-host engine, round by round in turn; target ≤ 1.3×;
//   - Apps demos (the many-app copy) with no node, Batch at once, placed by
//     StackHub over the three nodes: failures, the spread, and host-port
//     collisions (two apps on one node with the same port, or an app not
//     answering at its node's address).
//
// It writes bench/SWARM.md and bench/swarm.json. Unlike the rest of the
// bench it imports dockertest, for the engines.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
	webclient "github.com/websoft9/stackhub/web/client"
)

// SwarmOptions are `stackhub-bench swarm`'s settings.
type SwarmOptions struct {
	Out, Bin, Bundles string
	// Rounds is the number of install pairs (remote node, single host).
	Rounds int
	// Apps demos are installed Batch at a time over the Swarm.
	Apps, Batch int
	Keep        bool
}

// SwarmResults is swarm.json.
type SwarmResults struct {
	Date     time.Time    `json:"date"`
	Settings SwarmOptions `json:"settings"`
	// RemoteMs and SingleMs are install → HTTP 200 per round, on node 2
	// of the Swarm and on the single-host engine.
	RemoteMs []Num  `json:"remoteMs"`
	SingleMs []Num  `json:"singleMs"`
	Remote   Spread `json:"remote"`
	Single   Spread `json:"single"`
	// Ratio is Remote's median over Single's; Target 1.3.
	Ratio  Num `json:"ratio"`
	Target Num `json:"target"`
	// Many is the Apps installs placed by StackHub.
	Many SwarmMany `json:"many"`
	// Failures lists what went wrong.
	Failures []string `json:"failures,omitempty"`
}

// SwarmMany is the installs at once over the Swarm.
type SwarmMany struct {
	Apps      int      `json:"apps"`
	Batch     int      `json:"batch"`
	Succeeded int      `json:"succeeded"`
	Errors    []string `json:"errors,omitempty"`
	// WallMs is the first request → the last app answering.
	WallMs Num    `json:"wallMs"`
	App    Spread `json:"appMs"`
	// PerNode counts the apps placed on each node, by hostname.
	PerNode map[string]int `json:"perNode"`
	// Collisions counts apps whose (node, port) another app has too, or
	// that do not answer at their node's address.
	Collisions int `json:"collisions"`
}

func runSwarm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := SwarmOptions{Out: "bench", Bin: "bin/stackhub", Bundles: "bundles", Rounds: 5, Apps: 20, Batch: 20}
	fs := flag.NewFlagSet("stackhub-bench swarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", o.Out, "directory for SWARM.md and swarm.json")
	fs.StringVar(&o.Bin, "bin", o.Bin, "the stackhub binary (its directory holds bundle-runtime and websoft9-runtime)")
	fs.StringVar(&o.Bundles, "bundles", o.Bundles, "catalog root: the test catalog in testdata/")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "install pairs: the demo on a remote Swarm node, then on the single-host engine")
	fs.IntVar(&o.Apps, "apps", o.Apps, "demos placed by StackHub over the three nodes")
	fs.IntVar(&o.Batch, "batch", o.Batch, "of them installed at once")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the temporary directory (server logs and data)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.Rounds < 1 || o.Apps < 1 || o.Batch < 1 || o.Apps > 999 {
		fmt.Fprintln(stderr, "stackhub-bench swarm: rounds, apps and batch must be at least 1, apps at most 999")
		return 2
	}
	bo := defaultOptions()
	bo.Out, bo.Bin, bo.Bundles, bo.Keep, bo.ComposeV1, bo.Prefix = o.Out, o.Bin, o.Bundles, o.Keep, "off", "benchsw"
	b, err := newBench(bo, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stackhub-bench swarm:", err)
		return 1
	}
	res := &SwarmResults{Date: time.Now().UTC(), Settings: o, Target: 1.3}
	runErr := b.benchSwarm(ctx, o, res)
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := b.close(cleanCtx, runErr != nil); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cleanup: %w", err))
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "stackhub-bench swarm:", runErr)
		res.Failures = append(res.Failures, runErr.Error())
	}
	if err := writeSwarm(o.Out, res); err != nil {
		fmt.Fprintln(stderr, "stackhub-bench swarm:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.Out, "SWARM.md"), filepath.Join(o.Out, "swarm.json"))
	if runErr != nil || len(res.Failures) > 0 || res.Many.Succeeded < res.Many.Apps || res.Many.Collisions > 0 {
		return 1
	}
	return 0
}

// swarmCatalog copies the test catalog: the demo with its web port on
// every address (Swarm publishes no loopback port; the single host's
// engine is reached from the host at its node's address too) and a
// memory requirement of 64 MiB, so that StackHub spreads apps over the
// nodes; and its many-app copy.
func (b *bench) swarmCatalog() (string, error) {
	dst := filepath.Join(b.tmp, "catalog")
	if err := os.CopyFS(filepath.Join(dst, "demo"), os.DirFS(filepath.Join(b.o.Bundles, "testdata", "demo"))); err != nil {
		return "", fmt.Errorf("copy the demo: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(dst, "demo", ".cnab")); err != nil {
		return "", err
	}
	for file, pair := range map[string][2]string{
		"docker-compose.yml": {`"127.0.0.1:${WEB_PORT`, `"${WEB_PORT`},
		"porter.yaml":        {"    category: test\n", "    category: test\n    requirements:\n      memory: 64Mi\n"},
	} {
		p := filepath.Join(dst, "demo", file)
		raw, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if !strings.Contains(string(raw), pair[0]) {
			return "", fmt.Errorf("demo's %s has no %q any more: update swarmCatalog", file, pair[0])
		}
		out := []byte(strings.Replace(string(raw), pair[0], pair[1], 1))
		if file == "porter.yaml" {
			if out, err = rangePorts(out, b.o.PortBase); err != nil {
				return "", err
			}
		}
		if err := os.WriteFile(p, out, 0o644); err != nil {
			return "", err
		}
	}
	return dst, b.manyCopy(dst)
}

// swarmServer starts `stackhub serve` on the engine at host.
func (b *bench) swarmServer(ctx context.Context, name, host string) (*server, error) {
	s, err := b.prepareServer(ctx, name)
	if err != nil {
		return nil, err
	}
	s.env = []string{"DOCKER_HOST=" + host}
	if err := b.launch(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (b *bench) benchSwarm(ctx context.Context, o SwarmOptions, res *SwarmResults) error {
	var err error
	if b.catalog, err = b.swarmCatalog(); err != nil {
		return err
	}
	t0 := time.Now()
	cl, err := dockertest.NewCluster(ctx, 4, b.logf, "stackhub-test/web:dev")
	if err != nil {
		return fmt.Errorf("engines: %w", err)
	}
	defer func() {
		if err := cl.Close(); err != nil {
			b.logf("engines' teardown: %v", err)
		}
	}()
	b.logf("4 engines up in %s", time.Since(t0).Round(time.Millisecond))
	n1, n2, n4 := cl.Nodes[0], cl.Nodes[1], cl.Nodes[3]
	sw, err := b.swarmServer(ctx, "swarm", n1.Host())
	if err != nil {
		return err
	}
	defer sw.stop()
	single, err := b.swarmServer(ctx, "single", n4.Host())
	if err != nil {
		return err
	}
	defer single.stop()

	// The Swarm, made by StackHub.
	if _, err := sw.api.InitCluster(ctx, n1.Addr.String()); err != nil {
		return fmt.Errorf("cluster init: %w", err)
	}
	join, err := sw.api.JoinCommand(ctx)
	if err != nil {
		return fmt.Errorf("join command: %w", err)
	}
	for _, n := range cl.Nodes[1:3] {
		if err := n.Join(ctx, join.Addr, join.Token); err != nil {
			return err
		}
	}
	if _, err := waitNodes(ctx, sw.api, 3); err != nil {
		return err
	}
	b.logf("swarm of 3 made through the API, %s after the engines", time.Since(t0).Round(time.Millisecond))
	addrs := map[string]string{} // hostname -> address
	for i, n := range cl.Nodes[:3] {
		addrs[n.Name] = cl.Nodes[i].Addr.String()
	}
	clients := map[string]*client.Client{}
	for _, n := range cl.Nodes {
		c, err := n.Client()
		if err != nil {
			return err
		}
		defer c.Close()
		clients[n.Name] = c
	}

	// install → HTTP, on node 2 of the Swarm and on the single host, in
	// turn; one unrecorded pair first (it builds the invocation image on
	// each engine).
	for round := 0; round <= o.Rounds; round++ {
		remote, err := b.timedInstall(ctx, sw, fmt.Sprintf("%s-r%d", b.o.Prefix, round), n2.Name, n2.Addr.String(), clients[n2.Name])
		if err != nil {
			return fmt.Errorf("round %d on a remote node: %w", round, err)
		}
		local, err := b.timedInstall(ctx, single, fmt.Sprintf("%s-s%d", b.o.Prefix, round), "", n4.Addr.String(), clients[n4.Name])
		if err != nil {
			return fmt.Errorf("round %d on the single host: %w", round, err)
		}
		b.logf("round %d: remote node %s, single host %s", round, remote.Round(time.Millisecond), local.Round(time.Millisecond))
		if round > 0 {
			res.RemoteMs, res.SingleMs = append(res.RemoteMs, ms(remote)), append(res.SingleMs, ms(local))
		}
	}
	res.Remote, res.Single = spread(res.RemoteMs), spread(res.SingleMs)
	res.Ratio = ratio(res.Remote.Median, res.Single.Median)

	// Apps at Batch at once, placed by StackHub.
	return b.swarmMany(ctx, o, sw, addrs, clients, &res.Many)
}

// waitNodes waits up to a minute until the server lists want ready nodes.
func waitNodes(ctx context.Context, api *webclient.Client, want int) ([]webclient.Node, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		nodes, err := api.Nodes(ctx)
		ready := 0
		for _, n := range nodes {
			if n.State == "ready" {
				ready++
			}
		}
		if err == nil && ready == want && len(nodes) == want {
			return nodes, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d nodes ready after a minute (%v)", ready, want, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// timedInstall installs the demo as name (on node, "" for the single
// host), returns request → HTTP 200 at addr:port, then uninstalls it with
// its volumes and removes what a remote node keeps through its engine.
func (b *bench) timedInstall(ctx context.Context, s *server, name, node, addr string, engine *client.Client) (time.Duration, error) {
	t0 := time.Now()
	in, err := s.api.InstallAppOn(ctx, "demo", name, node, nil)
	if err != nil {
		return 0, err
	}
	ready, err := waitHTTP(ctx, fmt.Sprintf("http://%s:%d/", addr, in.App.Ports["port"]), 2*time.Minute)
	if err != nil {
		return 0, err
	}
	took := ready.Sub(t0)
	if _, err := s.waitJob(ctx, in.JobID, 50*time.Millisecond); err != nil {
		return 0, err
	}
	if err := s.uninstall(ctx, name); err != nil {
		return 0, err
	}
	return took, removeVolumes(ctx, engine, name)
}

// removeVolumes removes app's volumes from engine (a purge leaves those
// on a node other than the manager's) once the node's engine removed the
// app's containers, which it does a moment after their tasks went.
func removeVolumes(ctx context.Context, engine *client.Client, app string) error {
	label := client.Filters{}.Add("label", naming.LabelApp+"="+app)
	for deadline := time.Now().Add(30 * time.Second); ; {
		cs, err := engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
		if err != nil {
			return err
		}
		if len(cs.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d containers of %s are still on the node after 30 s", len(cs.Items), app)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	vols, err := engine.VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err != nil {
		return err
	}
	for _, v := range vols.Items {
		if _, err := engine.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// swarmMany installs o.Apps demos, o.Batch at a time, without a node, and
// checks where they went and that each answers at its node's address on
// a port no other app on that node has.
func (b *bench) swarmMany(ctx context.Context, o SwarmOptions, s *server, addrs map[string]string, engines map[string]*client.Client, m *SwarmMany) error {
	m.Apps, m.Batch, m.PerNode = o.Apps, o.Batch, map[string]int{}
	type placed struct{ name, node, addr string }
	var mu sync.Mutex
	var got []placed
	var times []Num
	t0 := time.Now()
	var last time.Time
	for start := 0; start < o.Apps; start += o.Batch {
		var wg sync.WaitGroup
		for i := start; i < min(start+o.Batch, o.Apps); i++ {
			name := fmt.Sprintf("%s-m%d", b.o.Prefix, i)
			wg.Go(func() {
				t := time.Now()
				in, err := s.api.InstallAppOn(ctx, manyApp, name, "", nil)
				if err == nil && in.App.Node == nil {
					err = errors.New("no node in the answer")
				}
				var ready time.Time
				if err == nil {
					if _, err = s.waitJob(ctx, in.JobID, 100*time.Millisecond); err == nil {
						ready, err = waitHTTP(ctx, fmt.Sprintf("http://%s/", in.App.Node.Address), time.Minute)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					m.Errors = append(m.Errors, fmt.Sprintf("%s: %v", name, err))
					return
				}
				m.Succeeded++
				times = append(times, ms(ready.Sub(t)))
				if ready.After(last) {
					last = ready
				}
				got = append(got, placed{name, in.App.Node.Hostname, in.App.Node.Address})
			})
		}
		wg.Wait()
	}
	m.WallMs, m.App = ms(last.Sub(t0)), spread(times)
	seen := map[string]int{}
	for _, p := range got {
		m.PerNode[p.node]++
		seen[p.node+" "+p.addr]++
		if !strings.HasPrefix(p.addr, addrs[p.node]+":") {
			m.Collisions++ // not at its node's address
		}
	}
	for _, n := range seen {
		if n > 1 {
			m.Collisions += n
		}
	}
	sort.Strings(m.Errors)
	b.logf("%d of %d apps at %d at once: %d failed, per node %v, %d collisions, wall %.0f ms", m.Succeeded, m.Apps, m.Batch, len(m.Errors), m.PerNode, m.Collisions, float64(m.WallMs))
	// Everything goes, and the volumes the nodes keep.
	if _, _, err := s.do(ctx, http.MethodPost, "/uninstallAllApp", map[string]any{"purge": true}); err != nil {
		return err
	}
	var errs []error
	for i := range o.Apps {
		for _, c := range engines {
			errs = append(errs, removeVolumes(ctx, c, fmt.Sprintf("%s-m%d", b.o.Prefix, i)))
		}
	}
	return errors.Join(errs...)
}

// writeSwarm writes swarm.json and SWARM.md.
func writeSwarm(dir string, r *SwarmResults) error { return writeReport(dir, "swarm", r, r.markdown()) }

func (r *SwarmResults) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# StackHub on a Swarm of three engines\n\n`make bench-swarm` (`stackhub-bench swarm`), %s. Four private engines on one machine (dockertest.NewCluster): nodes 1-3 a Swarm made through StackHub's API, node 4 a single host.\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Fprintf(&w, "## Install → the app answers HTTP, %d rounds\n\n| where | median ms | min | max |\n|---|---|---|---|\n", r.Settings.Rounds)
	fmt.Fprintf(&w, "| node 2, a remote node of the Swarm (server on node 1) | %.0f | %.0f | %.0f |\n", float64(r.Remote.Median), float64(r.Remote.Min), float64(r.Remote.Max))
	fmt.Fprintf(&w, "| node 4, a single-host engine (server on node 4) | %.0f | %.0f | %.0f |\n\n", float64(r.Single.Median), float64(r.Single.Min), float64(r.Single.Max))
	fmt.Fprintf(&w, "Ratio %.2f× (target ≤ %.1f×): %s\n\n", float64(r.Ratio), float64(r.Target), verdict(r.Ratio.ok() && r.Ratio <= r.Target))
	m := r.Many
	fmt.Fprintf(&w, "## %d apps placed by StackHub, %d at once\n\n", m.Apps, m.Batch)
	fmt.Fprintf(&w, "- succeeded %d, failed %d: %s\n- per node: %v\n- port collisions: %d: %s\n", m.Succeeded, len(m.Errors), verdict(m.Succeeded == m.Apps), m.PerNode, m.Collisions, verdict(m.Collisions == 0))
	fmt.Fprintf(&w, "- request → HTTP per app: median %.0f ms (min %.0f, max %.0f); all %d in %.0f ms\n", float64(m.App.Median), float64(m.App.Min), float64(m.App.Max), m.Succeeded, float64(m.WallMs))
	for _, e := range m.Errors {
		fmt.Fprintf(&w, "- error: %s\n", e)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&w, "\n**Failed:** %s\n", f)
	}
	return w.String()
}
