package dockertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// FaultProxy stands between a client and a Docker engine's unix socket and
// breaks Docker on purpose: it answers chosen calls with an error, holds
// them back (a stalled dockerd), cuts the event streams, or refuses every
// connection (a dockerd that is gone). Everything else is passed through,
// streams and hijacked connections (attach) included.
type FaultProxy struct {
	// Socket is the proxy's socket: give DOCKER_HOST=unix://<Socket>.
	Socket string
	target string
	srv    *http.Server

	mu     sync.Mutex
	faults []*fault
	down   bool
	events map[net.Conn]bool
	// seen counts requests by "METHOD path-without-version".
	seen map[string]int
}

// Fault is one way of breaking the calls that match it.
type Fault struct {
	// Method ("" any) and Path, matched against the path without its
	// /v1.xx prefix (e.g. ^/containers/create$).
	Method string
	Path   string
	// Status and Message, when Status is set, are Docker's error answer.
	Status  int
	Message string
	// Stall holds the call back this long before it goes on (or ends,
	// when the client gives up first).
	Stall time.Duration
	// Times is how many calls are broken; 0 is every call until removed.
	Times int
}

type fault struct {
	Fault
	re   *regexp.Regexp
	left int
}

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

type connKey struct{}

// StartFaultProxy serves a proxy to the engine at target (a unix socket
// path) until tb ends.
func StartFaultProxy(tb testing.TB, target string) *FaultProxy {
	tb.Helper()
	dir, err := os.MkdirTemp("", "dockerproxy")
	if err != nil {
		tb.Fatal(err)
	}
	p := &FaultProxy{Socket: filepath.Join(dir, "docker.sock"), target: target, events: map[net.Conn]bool{}, seen: map[string]int{}}
	ln, err := net.Listen("unix", p.Socket)
	if err != nil {
		tb.Fatal(err)
	}
	// Invocation containers may run as another user and mount this socket.
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(p.Socket, 0o666)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", target)
		}},
		FlushInterval: -1,
		// A stream cut on purpose is not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, rp) }),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew && p.isDown() {
				c.Close()
			}
		},
	}
	go func() { _ = p.srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
		p.srv.Close()
		os.RemoveAll(dir)
	})
	return p
}

// Inject adds f and returns a function that removes it.
func (p *FaultProxy) Inject(f Fault) (remove func()) {
	x := &fault{Fault: f, re: regexp.MustCompile(f.Path), left: f.Times}
	p.mu.Lock()
	p.faults = append(p.faults, x)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.removeLocked(x)
	}
}

// DropEvents cuts every open /events stream, as a dockerd restart or a
// broken connection does, and returns how many it cut.
func (p *FaultProxy) DropEvents() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.events {
		c.Close()
		delete(p.events, c)
		n++
	}
	return n
}

// SetDown makes the proxy refuse (close) every new connection and cuts the
// open ones, as when dockerd is gone; SetDown(false) brings it back.
func (p *FaultProxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.DropEvents()
		p.srv.SetKeepAlivesEnabled(false)
	} else {
		p.srv.SetKeepAlivesEnabled(true)
	}
}

func (p *FaultProxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Seen returns how many calls of method and path (without the version
// prefix) went through or were broken.
func (p *FaultProxy) Seen(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[method+" "+path]
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	path := versionPrefix.ReplaceAllString(r.URL.Path, "")
	p.mu.Lock()
	p.seen[r.Method+" "+path]++
	down := p.down
	var hit *Fault
	for _, f := range p.faults {
		if (f.Method == "" || f.Method == r.Method) && f.re.MatchString(path) {
			cp := f.Fault
			hit = &cp
			if f.Times > 0 {
				f.left--
				if f.left == 0 {
					p.removeLocked(f)
				}
			}
			break
		}
	}
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	if path == "/events" && conn != nil {
		p.events[conn] = true
	}
	p.mu.Unlock()
	if down {
		if conn != nil {
			conn.Close()
		}
		return
	}
	if hit != nil && hit.Stall > 0 {
		select {
		case <-time.After(hit.Stall):
		case <-r.Context().Done():
			return
		}
	}
	if hit != nil && hit.Status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(hit.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": hit.Message})
		return
	}
	defer func() {
		if path == "/events" && conn != nil {
			p.mu.Lock()
			delete(p.events, conn)
			p.mu.Unlock()
		}
		// A stream cut by DropEvents ends the handler with
		// ErrAbortHandler; that is the point.
		if v := recover(); v != nil && !errors.Is(asError(v), http.ErrAbortHandler) {
			panic(v)
		}
	}()
	rp.ServeHTTP(w, r)
}

func (p *FaultProxy) removeLocked(x *fault) {
	for i, y := range p.faults {
		if y == x {
			p.faults = append(p.faults[:i], p.faults[i+1:]...)
			return
		}
	}
}

func asError(v any) error {
	err, _ := v.(error)
	return err
}
