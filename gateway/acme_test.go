package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"

	"github.com/websoft9/stackhub/gateway"
	"github.com/websoft9/stackhub/orchestrator"
)

// pebble is Let's Encrypt's test CA, in process: its directory over TLS on
// loopback, its DNS answers 127.0.0.1 for every name, and its validation
// authority connects to the gateway's ports.
type pebble struct {
	dir     string
	roots   *x509.CertPool // of the directory's own TLS certificate
	issuing *x509.CertPool // of the certificates it issues
	db      *db.MemoryStore
	close   func()
}

// dnsServer answers every A question with 127.0.0.1, over UDP and TCP on
// one loopback port.
func dnsServer(t *testing.T) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	require.NoError(t, err)
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return ln.Addr().String()
}

// startPebble runs Pebble whose validations reach httpPort and tlsPort on
// 127.0.0.1; certificates last validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(&testWriter{t: t}, "pebble ", 0)
	}
	store := db.NewMemoryStore()
	require.NoError(t, store.AddBlockedDomain("blocked.test"))
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {ValidityPeriod: uint64(validity.Seconds())}})
	vaImpl := va.New(logger, httpPort, tlsPort, false, dnsServer(t), store)
	front := wfe.New(logger, store, vaImpl, authority, []string{"pebble.letsencrypt.org"}, false, false, 3, 5)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.EnableHTTP2 = false
	srv.StartTLS()
	mgmt := httptest.NewTLSServer(front.ManagementHandler())
	p := &pebble{dir: srv.URL + wfe.DirectoryPath, roots: x509.NewCertPool(), issuing: x509.NewCertPool(), db: store}
	p.roots.AddCert(srv.Certificate())
	resp, err := mgmt.Client().Get(mgmt.URL + wfe.RootCertPath + "0")
	require.NoError(t, err)
	root, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.True(t, p.issuing.AppendCertsFromPEM(root), "Pebble's root: %s", root)
	p.close = func() { srv.Close(); mgmt.Close() }
	t.Cleanup(p.close)
	return p
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// upstream is a test app: it answers with what it was asked, echoes a
// WebSocket and streams Server-Sent Events.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"host": r.Host, "path": r.URL.RequestURI(), "xff": r.Header.Values("X-Forwarded-For"),
			"proto": r.Header.Get("X-Forwarded-Proto"), "fhost": r.Header.Get("X-Forwarded-Host"), "body": len(body)})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// routes is a route table a test changes.
type routes struct {
	mu   sync.Mutex
	list []orchestrator.Route
}

func (r *routes) get(context.Context) ([]orchestrator.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]orchestrator.Route(nil), r.list...), nil
}

func (r *routes) set(list ...orchestrator.Route) {
	r.mu.Lock()
	r.list = list
	r.mu.Unlock()
}

// reports keeps the certificate states the gateway reports.
type reports struct {
	mu   sync.Mutex
	last map[string]orchestrator.Certificate
}

func (r *reports) report(_ context.Context, name string, c orchestrator.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]orchestrator.Certificate{}
	}
	r.last[name] = c
}

func (r *reports) get(name string) orchestrator.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[name]
}

// client reaches the gateway for any name (the test's resolver: names map
// to the gateway's loopback ports, the machine's resolver is not asked).
func client(g *gateway.Gateway, roots *x509.CertPool) *http.Client {
	addrs := g.Addrs()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		target := addrs[1].String()
		if port == "80" {
			target = addrs[0].String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	return &http.Client{
		Transport:     &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
}

func startGateway(t *testing.T, o gateway.Options) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(o)
	require.NoError(t, err)
	require.NoError(t, g.Start(t.Context()))
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	return g
}

// freePorts returns two loopback addresses free now.
func freeAddrs(t *testing.T) (string, string) {
	t.Helper()
	var out []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		out = append(out, ln.Addr().String())
		ln.Close()
	}
	return out[0], out[1]
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var n int
	_, err = fmt.Sscan(p, &n)
	require.NoError(t, err)
	return n
}

func waitCert(t *testing.T, rep *reports, name, state string, limit time.Duration) orchestrator.Certificate {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		c := rep.get(name)
		if c.State == state {
			return c
		}
		require.True(t, time.Now().Before(deadline), "%s: certificate still %+v after %s", name, c, limit)
		time.Sleep(100 * time.Millisecond)
	}
}

func getJSON(t *testing.T, c *http.Client, u string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestACMEWithPebble: a domain's certificate is obtained from Pebble
// (HTTP-01 or TLS-ALPN-01 against the gateway's own listeners), served,
// renewed, revoked, and served again from storage by a new gateway whose
// CA is gone; a domain the CA refuses is reported with its error and does
// not stop the others.
func TestACMEWithPebble(t *testing.T) {
	httpAddr, httpsAddr := freeAddrs(t)
	p := startPebble(t, portOf(t, httpAddr), portOf(t, httpsAddr), time.Hour)
	app := upstream(t)
	storage := t.TempDir()
	rt := &routes{}
	rt.set(orchestrator.Route{Domain: "blog.test", Installation: "blog", Upstream: app.Listener.Addr().String(), MaxBodyBytes: 1 << 20})
	rep := &reports{}
	opts := gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, CA: p.dir, CARoots: p.roots, Email: "ops@example.com",
		StorageDir: storage, Routes: rt.get, Report: rep.report}
	g := startGateway(t, opts)
	c := waitCert(t, rep, "blog.test", orchestrator.CertValid, time.Minute)
	assert.WithinDuration(t, time.Now().Add(time.Hour), c.NotAfter, 5*time.Minute)
	hc := client(g, p.issuing)

	// Served over HTTPS, with X-Forwarded-* from the connection only.
	code, got := getJSON(t, hc, "https://blog.test/a/b?c=d", map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "http"})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "blog.test", got["host"])
	assert.Equal(t, "/a/b?c=d", got["path"])
	assert.Equal(t, []any{"127.0.0.1"}, got["xff"], "the client's X-Forwarded-For is not trusted")
	assert.Equal(t, "https", got["proto"])
	assert.Equal(t, "blog.test", got["fhost"])

	// Plain HTTP goes to HTTPS.
	resp, err := hc.Get("http://blog.test/x?y=1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
	assert.Equal(t, fmt.Sprintf("https://blog.test:%d/x?y=1", portOf(t, httpsAddr)), resp.Header.Get("Location"))

	// A name the CA refuses: reported with its error, retried, and the
	// other domain is served all along.
	rt.set(orchestrator.Route{Domain: "blog.test", Installation: "blog", Upstream: app.Listener.Addr().String()},
		orchestrator.Route{Domain: "blocked.test", Installation: "other", Upstream: app.Listener.Addr().String()})
	require.NoError(t, g.Reload(t.Context()))
	failed := waitCert(t, rep, "blocked.test", orchestrator.CertFailed, time.Minute)
	assert.Contains(t, failed.Error, "blocked", "the CA's error: %s", failed.Error)
	assert.Positive(t, failed.Attempts)
	code, _ = getJSON(t, hc, "https://blog.test/", nil)
	assert.Equal(t, http.StatusOK, code)
	_, err = hc.Get("https://blocked.test/")
	assert.Error(t, err, "no certificate, no TLS")

	// Renewal: the CA's certificates become short-lived; the gateway
	// renews before expiry.
	before := servedCert(t, g, p.issuing, "blog.test")
	require.NoError(t, g.Renew(t.Context(), "blog.test"))
	after := servedCert(t, g, p.issuing, "blog.test")
	assert.NotEqual(t, before.SerialNumber, after.SerialNumber, "renewed: another certificate")

	// Revocation: the certificate is revoked at the CA, and the gateway,
	// still managing the domain, obtains another.
	require.NoError(t, g.Revoke(t.Context(), "blog.test"))
	deadline := time.Now().Add(time.Minute)
	for servedSerial(t, g, p.issuing, "blog.test") == after.SerialNumber.String() {
		require.True(t, time.Now().Before(deadline), "no new certificate after the revocation")
		require.NoError(t, g.Renew(t.Context(), "blog.test"))
	}

	// A new gateway on the same storage, the CA gone: served from disk.
	require.NoError(t, g.Close(t.Context()))
	p.close()
	rt.set(orchestrator.Route{Domain: "blog.test", Installation: "blog", Upstream: app.Listener.Addr().String()})
	rep2 := &reports{}
	opts.Report = rep2.report
	g2 := startGateway(t, opts)
	waitCert(t, rep2, "blog.test", orchestrator.CertValid, 30*time.Second)
	code, _ = getJSON(t, client(g2, p.issuing), "https://blog.test/", nil)
	assert.Equal(t, http.StatusOK, code)
}

// servedSerial is the serial of the certificate served for name, "" when
// none is.
func servedSerial(t *testing.T, g *gateway.Gateway, roots *x509.CertPool, name string) string {
	conn, err := tls.Dial("tcp", g.Addrs()[1].String(), &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// servedCert is the certificate the gateway shows for name.
func servedCert(t *testing.T, g *gateway.Gateway, roots *x509.CertPool, name string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", g.Addrs()[1].String(), &tls.Config{ServerName: name, RootCAs: roots})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestGatewayRouting with the internal CA: hosts as clients send them
// (case, port, trailing dot), path prefixes, body limits, WebSocket and
// SSE through, an unknown name, a Host that is not the TLS name, an app
// that is not running.
func TestGatewayRouting(t *testing.T) {
	httpAddr, httpsAddr := freeAddrs(t)
	app := upstream(t)
	rt := &routes{}
	up := app.Listener.Addr().String()
	rt.set(orchestrator.Route{Domain: "wiki.test", Installation: "wiki", Upstream: up, MaxBodyBytes: 1000},
		orchestrator.Route{Domain: "xn--bcher-kva.test", Installation: "books", Upstream: up, NoRedirect: true},
		orchestrator.Route{Domain: "site.test", Installation: "site", Upstream: up},
		orchestrator.Route{Domain: "site.test", PathPrefix: "/docs", Installation: "docs", Upstream: ""},
		orchestrator.Route{Domain: "console.test", Installation: orchestrator.Console})
	rep := &reports{}
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "console") })
	g := startGateway(t, gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, Mode: gateway.ModeInternal, StorageDir: t.TempDir(),
		Routes: rt.get, Report: rep.report, Console: console})
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(g.RootCA()))
	hc := client(g, roots)
	waitCert(t, rep, "wiki.test", orchestrator.CertValid, 5*time.Second)

	for _, host := range []string{"wiki.test", "WIKI.Test", "wiki.test.", fmt.Sprintf("wiki.test:%d", portOf(t, httpsAddr))} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://wiki.test/", nil)
		req.Host = host
		resp, err := hc.Do(req)
		require.NoError(t, err, host)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "Host %q", host)
	}
	// Another name than the TLS one.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://wiki.test/", nil)
	req.Host = "site.test"
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	// Unknown names: no certificate over TLS, 404 over HTTP.
	_, err = hc.Get("https://nothing.test/")
	assert.Error(t, err)
	resp, err = hc.Get("http://nothing.test/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	for _, bad := range []string{strings.Repeat("a", 300) + ".test", "bad_name.test", "[::1]", "wiki.test:99999:1"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://wiki.test/", nil)
		req.Host = bad
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			assert.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, resp.StatusCode, "Host %q", bad)
		}
	}

	// IDN: the Unicode name and its ASCII form are the same domain; a
	// domain that keeps HTTP answers it.
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "http://xn--bcher-kva.test/", nil)
	req.Host = "bücher.test"
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Prefixes: the longest wins; an app not running answers 502.
	code, _ := getJSON(t, hc, "https://site.test/docs/x", nil)
	assert.Equal(t, http.StatusBadGateway, code)
	code, got := getJSON(t, hc, "https://site.test/docsy", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "/docsy", got["path"])
	resp, err = hc.Get("https://console.test/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "console", string(b))

	// Body limit.
	resp, err = hc.Post("https://wiki.test/", "text/plain", strings.NewReader(strings.Repeat("x", 999)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = hc.Post("https://wiki.test/", "text/plain", strings.NewReader(strings.Repeat("x", 1001)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	chunked, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://wiki.test/", io.MultiReader(strings.NewReader(strings.Repeat("x", 5000))))
	require.NoError(t, err)
	chunked.ContentLength = -1
	resp, err = hc.Do(chunked)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "a chunked body too")

	// Server-Sent Events arrive one by one.
	resp, err = hc.Get("https://wiki.test/events")
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "data: 0\n\n", string(buf[:n]), "the first event before the stream ends")
	resp.Body.Close()

	// A WebSocket echo through the gateway.
	cfg, err := websocket.NewConfig("wss://wiki.test/ws", "https://wiki.test/")
	require.NoError(t, err)
	cfg.TlsConfig = &tls.Config{RootCAs: roots, ServerName: "wiki.test"}
	raw, err := tls.Dial("tcp", g.Addrs()[1].String(), &tls.Config{RootCAs: roots, ServerName: "wiki.test", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	ws, err := websocket.NewClient(cfg, raw)
	require.NoError(t, err)
	_, err = ws.Write([]byte("hello through the gateway"))
	require.NoError(t, err)
	msg := make([]byte, 64)
	n, err = ws.Read(msg)
	require.NoError(t, err)
	assert.Equal(t, "hello through the gateway", string(msg[:n]))
	ws.Close()

	// Routes go away with their app.
	rt.set()
	require.NoError(t, g.Reload(t.Context()))
	_, err = hc.Get("https://wiki.test/")
	assert.Error(t, err)
}

// A name the CA refuses to certify (localhost) is reported failed with
// its error; the gateway starts all the same.
func TestRefusedNameIsReported(t *testing.T) {
	httpAddr, httpsAddr := freeAddrs(t)
	rt := &routes{}
	rt.set(orchestrator.Route{Domain: "localhost", Installation: "x", Upstream: "127.0.0.1:1"})
	rep := &reports{}
	g := startGateway(t, gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, CA: "https://127.0.0.1:1/dir", StorageDir: t.TempDir(),
		Routes: rt.get, Report: rep.report})
	c := waitCert(t, rep, "localhost", orchestrator.CertFailed, 30*time.Second)
	assert.NotEmpty(t, c.Error)
	assert.Positive(t, c.Attempts)
	require.Len(t, g.Addrs(), 2)
}
