package orchestrator_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{
		"blog.example.com":   "blog.example.com",
		"Blog.Example.COM.":  "blog.example.com",
		" wiki.example.org ": "wiki.example.org",
		"bücher.example":     "xn--bcher-kva.example",
		"xn--bcher-kva.test": "xn--bcher-kva.test",
		"a-b.c-d.example":    "a-b.c-d.example",
	} {
		got, err := orchestrator.NormalizeDomain(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "blog.example.com:443", "https://blog.example.com", "blog.example.com/x", "*.example.com",
		"10.0.0.1", "::1", "[::1]", "intranet", "-a.example", "a-.example", "a_b.example", "a..example",
		strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 26) + "com", "user@example.com"} {
		_, err := orchestrator.NormalizeDomain(in)
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%q: %v", in, err)
	}
	assert.Equal(t, "blog.example.com", orchestrator.HostOf("BLOG.example.com.:8443"))
	assert.Equal(t, "blog.example.com", orchestrator.HostOf("blog.example.com"), "a TLS server name has no port")
	assert.Equal(t, "", orchestrator.HostOf("[::1]:443"))
	assert.Equal(t, "", orchestrator.HostOf("bad_name.example:80"))
}

// memDomains is a DomainStore in memory, taking a name once.
type memDomains struct {
	mu sync.Mutex
	m  map[string]orchestrator.Domain
}

func (s *memDomains) AddDomain(_ context.Context, d orchestrator.Domain) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d.Name]; ok {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "%s is taken", d.Name)
	}
	s.m[d.Name] = d
	return nil
}

func (s *memDomains) Domains(_ context.Context, inst string, all bool) ([]orchestrator.Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []orchestrator.Domain
	for _, d := range s.m {
		if all || d.Installation == inst {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *memDomains) RemoveDomain(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

func (s *memDomains) RemoveDomains(_ context.Context, inst string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for n, d := range s.m {
		if d.Installation == inst {
			gone = append(gone, n)
			delete(s.m, n)
		}
	}
	return gone, nil
}

func (s *memDomains) SetCertificate(context.Context, string, orchestrator.Certificate) error {
	return nil
}

// webCatalog has "webby": the demo with a web endpoint and an address
// parameter.
type webCatalog struct{}

var webby = func() orchestrator.App {
	a := demo
	a.Name, a.Web = "webby", orchestrator.WebEndpoint{Port: "port", Address: "web_address"}
	return a
}()

func (webCatalog) App(_ context.Context, name string) (orchestrator.App, error) {
	if name == "webby" {
		return webby, nil
	}
	return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
}
func (webCatalog) Apps(context.Context) ([]orchestrator.App, error) {
	return []orchestrator.App{webby}, nil
}

// A domain goes to the app's web port; adding the first publishes that
// port on the loopback (an upgrade of the same version), removing the last
// publishes it everywhere again; names are taken once, by an app or the
// console.
func TestDomainsRebindTheWebPort(t *testing.T) {
	store := newStore()
	store.insts["blog"] = orchestrator.Installation{Name: "blog", App: "webby", Version: "0.1.0", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9005}, {Param: "db_port", Port: 3310}}}
	store.last = map[string]any{"message": "hi", "web_address": orchestrator.AnyAddress}
	var n atomic.Int64
	var changed atomic.Int64
	domains := &memDomains{m: map[string]orchestrator.Domain{}}
	e := orchestrator.New(orchestrator.Deps{Catalog: webCatalog{}, Builder: fakeBuilder{}, Host: &fakeHost{},
		Runner: fakeRunner{run: func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		}},
		Installations: store, Runs: store, Now: time.Now, NewID: func() string { return fmt.Sprintf("id%d", n.Add(1)) },
		Domains: domains, RoutesChanged: func() { changed.Add(1) }})
	require.NoError(t, e.Recover(t.Context()))

	d, err := e.AddDomain(t.Context(), "blog", orchestrator.DomainRequest{Domain: "Blog.Example.com"})
	require.NoError(t, err)
	assert.Equal(t, "blog.example.com", d.Name)
	assert.Equal(t, "port", d.Port, "the bundle's web port")
	assert.Equal(t, int64(orchestrator.DefaultMaxBody), d.MaxBodyBytes, "the default limit, stored")
	require.NotEmpty(t, d.Rebind, "an upgrade publishes the web port on the loopback")
	<-store.finished
	require.Len(t, store.begun, 1)
	assert.Equal(t, orchestrator.ActionUpgrade, store.begun[0].Action)
	assert.Equal(t, orchestrator.LoopbackAddress, store.begun[0].Parameters["web_address"])
	assert.Equal(t, "hi", store.begun[0].Parameters["message"], "the rest as it was")
	assert.Positive(t, changed.Load(), "the gateway is told")

	routes, err := e.Routes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Route{{Domain: "blog.example.com", Installation: "blog", Upstream: "127.0.0.1:9005",
		MaxBodyBytes: orchestrator.DefaultMaxBody}}, routes)

	// Taken, by the app or the console; bad requests.
	_, err = e.AddDomain(t.Context(), "blog", orchestrator.DomainRequest{Domain: "blog.example.com."})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	_, err = e.AddDomain(t.Context(), orchestrator.Console, orchestrator.DomainRequest{Domain: "BLOG.example.com"})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	_, err = e.AddDomain(t.Context(), "blog", orchestrator.DomainRequest{Domain: "x.example.com", Port: "nope"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	_, err = e.AddDomain(t.Context(), "blog", orchestrator.DomainRequest{Domain: "x.example.com", PathPrefix: "/a/../b"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	_, err = e.AddDomain(t.Context(), "nope", orchestrator.DomainRequest{Domain: "x.example.com"})
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))

	// A second domain needs no new upgrade: the port is on the loopback.
	store.last = map[string]any{"message": "hi", "web_address": orchestrator.LoopbackAddress}
	d2, err := e.AddDomain(t.Context(), "blog", orchestrator.DomainRequest{Domain: "www.example.com", PathPrefix: "docs/"})
	require.NoError(t, err)
	assert.Empty(t, d2.Rebind)
	assert.Equal(t, "/docs", d2.PathPrefix)

	run, err := e.RemoveDomain(t.Context(), "blog", "www.example.com")
	require.NoError(t, err)
	assert.Empty(t, run, "a domain is left")
	run, err = e.RemoveDomain(t.Context(), "blog", "BLOG.example.com")
	require.NoError(t, err)
	require.NotEmpty(t, run, "the last one gone: published everywhere again")
	<-store.finished
	require.Len(t, store.begun, 2)
	assert.Equal(t, orchestrator.AnyAddress, store.begun[1].Parameters["web_address"])
	_, err = e.RemoveDomain(t.Context(), "blog", "blog.example.com")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
}

// An app placed on a Swarm node keeps its web port published on every
// address of its node when it gets a domain (Swarm cannot publish on a
// loopback: no upgrade rebinds it, and an upgrade keeps 0.0.0.0), and the
// gateway goes to the node's address as the manager sees it now; the
// domain says so (Upstream, Exposed). The route follows the app: its
// runs' ends make the gateway load the routes again, and an app gone has
// no upstream.
func TestDomainsOfAppOnSwarmNode(t *testing.T) {
	store := newStore()
	store.insts["far"] = orchestrator.Installation{Name: "far", App: "webby", Version: "0.1.0", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9005}, {Param: "db_port", Port: 3310}},
		Node:  orchestrator.Placement{NodeID: "n2", Hostname: "two", Addr: "10.0.0.2"}}
	store.last = map[string]any{"message": "hi", "web_address": orchestrator.AnyAddress}
	var n, changed atomic.Int64
	domains := &memDomains{m: map[string]orchestrator.Domain{}}
	nodes := &fakeNodes{nodes: map[string]orchestrator.Node{}}
	e := orchestrator.New(orchestrator.Deps{Catalog: webCatalog{}, Builder: fakeBuilder{}, Host: &fakeHost{},
		Runner: fakeRunner{run: func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		}},
		Installations: store, Runs: store, Now: time.Now, NewID: func() string { return fmt.Sprintf("id%d", n.Add(1)) },
		Domains: domains, Nodes: nodes, RoutesChanged: func() { changed.Add(1) }})
	require.NoError(t, e.Recover(t.Context()))

	d, err := e.AddDomain(t.Context(), "far", orchestrator.DomainRequest{Domain: "far.example.com"})
	require.NoError(t, err)
	assert.Empty(t, d.Rebind, "no upgrade moves the web port to the loopback on a Swarm node")
	assert.Equal(t, "10.0.0.2:9005", d.Upstream, "the node's address as placed (the manager's view not known yet)")
	assert.Equal(t, "10.0.0.2:9005", d.Exposed, "the answer says the port is reached directly too")
	routes, err := e.Routes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Route{{Domain: "far.example.com", Installation: "far", Upstream: "10.0.0.2:9005",
		MaxBodyBytes: orchestrator.DefaultMaxBody}}, routes)

	// The manager's view of the node's address wins (a manager's carries
	// its swarm port).
	nodes.nodes["n2"] = orchestrator.Node{ID: "n2", Addr: "10.0.0.22:2377", State: "ready"}
	list, err := e.Domains(t.Context(), "far")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "10.0.0.22:9005", list[0].Upstream)
	assert.Equal(t, "10.0.0.22:9005", list[0].Exposed)

	// An upgrade keeps the web port on every address, and its end makes
	// the gateway read the routes again.
	before := changed.Load()
	_, err = e.Upgrade(t.Context(), orchestrator.UpgradeRequest{Name: "far"})
	require.NoError(t, err)
	<-store.finished
	require.Len(t, store.begun, 1)
	assert.Equal(t, orchestrator.AnyAddress, store.begun[0].Parameters["web_address"])
	require.Eventually(t, func() bool { return changed.Load() > before }, 5*time.Second, 10*time.Millisecond, "the run's end reloads the routes")

	// Removing the last domain needs no upgrade either.
	run, err := e.RemoveDomain(t.Context(), "far", "far.example.com")
	require.NoError(t, err)
	assert.Empty(t, run)

	// An app failed (or gone) has no upstream: the gateway answers 502.
	_, err = e.AddDomain(t.Context(), "far", orchestrator.DomainRequest{Domain: "far.example.com"})
	require.NoError(t, err)
	inst := store.insts["far"]
	inst.State = orchestrator.StateFailed
	store.insts["far"] = inst
	routes, err = e.Routes(t.Context())
	require.NoError(t, err)
	require.Len(t, routes, 1)
	assert.Empty(t, routes[0].Upstream)
}
