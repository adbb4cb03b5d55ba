// Package gateway is StackHub's built-in front door: it listens on :80 and
// :443, obtains and renews a certificate for every domain with certmagic
// (ACME HTTP-01 and TLS-ALPN-01, any ACME directory) or signs it with an
// internal CA of its own (LANs without public DNS), and reverse-proxies
// each domain to its app's published web port.
//
// Requests without a body over HTTP/1.1 take a fast path (fast.go, with
// the strict head reader of head.go); every other request — bodies,
// WebSocket and other upgrades, h2, redirects to HTTPS, the console, ACME
// challenges, anything unusual — is served by net/http's servers and
// net/http/httputil, which receive the connection from the fast path.
//
// A domain whose certificate cannot be had is reported (the CA's error)
// and retried by certmagic with backoff on its own goroutine: it never
// blocks another domain nor takes the gateway down.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/websoft9/stackhub/orchestrator"
)

// Modes of getting certificates.
const (
	ModeACME     = "acme"
	ModeInternal = "internal"
)

// Options configure a gateway.
type Options struct {
	// HTTPAddr and HTTPSAddr are where it listens (":80", ":443").
	HTTPAddr, HTTPSAddr string
	// Mode is ModeACME (default) or ModeInternal.
	Mode string
	// CA is the ACME directory (default: Let's Encrypt's); CARoots the
	// roots that CA's own certificate chains to, when private.
	CA      string
	CARoots *x509.CertPool
	// Email is the operator's address the CA writes to.
	Email string
	// StorageDir keeps accounts, certificates and the internal CA.
	StorageDir string
	// Routes returns what to serve; Report receives each domain's
	// certificate state.
	Routes func(ctx context.Context) ([]orchestrator.Route, error)
	Report func(ctx context.Context, domain string, c orchestrator.Certificate)
	// Console serves the console's domain.
	Console http.Handler
	Logger  *slog.Logger
}

// Gateway serves the domains.
type Gateway struct {
	o     Options
	log   *slog.Logger
	magic *certmagic.Config
	cache *certmagic.Cache
	acme  *certmagic.ACMEIssuer
	ca    *internalCA
	table atomic.Pointer[table]
	proxy *httputil.ReverseProxy
	lean  *leanTransport
	// fastPool keeps the fast path's connections to the apps (fast.go).
	fastPool *leanTransport
	servers  []*http.Server
	lns      []net.Listener
	connMu   sync.Mutex
	conns    map[net.Conn]*fastConn
	// headerTimeout bounds a request head's arrival once begun, clientIdle
	// a client connection's wait for its next request.
	headerTimeout, clientIdle time.Duration
	// Addrs are where it listens, once started: HTTP then HTTPS.
	addrs []net.Addr

	closeOnce sync.Once
	mu        sync.Mutex
	ctx       context.Context
	cancel    context.CancelFunc
	managed   map[string]context.CancelFunc
	attempts  map[string]int
	reported  map[string]orchestrator.Certificate
}

// New makes a gateway; Start runs it.
func New(o Options) (*Gateway, error) {
	if o.Mode == "" {
		o.Mode = ModeACME
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Routes == nil {
		return nil, errors.New("gateway: no routes")
	}
	if o.Report == nil {
		o.Report = func(context.Context, string, orchestrator.Certificate) {}
	}
	g := &Gateway{o: o, log: o.Logger.With("component", "gateway"), managed: map[string]context.CancelFunc{},
		attempts: map[string]int{}, reported: map[string]orchestrator.Certificate{}}
	g.table.Store(&table{})
	g.fastPool = newLeanTransport(nil)
	g.headerTimeout, g.clientIdle = readHeaderTimeout, idleTimeout
	g.conns = map[net.Conn]*fastConn{}
	g.lean = newLeanTransport(&http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 5 * time.Minute})
	g.proxy = &httputil.ReverseProxy{
		Rewrite: g.rewrite,
		// Without a pool, every response takes a new 32 KiB buffer: a
		// third of the proxy's CPU went to allocating and collecting them.
		BufferPool: &bufferPool{},
		Transport:  g.lean,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("the request body is larger than this domain takes (%d bytes)", tooBig.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			g.log.Warn("upstream failed", "host", r.Host, "err", err)
			http.Error(w, noAnswer, http.StatusBadGateway)
		},
	}
	switch o.Mode {
	case ModeACME:
		g.cache = certmagic.NewCache(certmagic.CacheOptions{
			GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return g.magic, nil },
			Logger:           zap.NewNop(),
		})
		g.magic = certmagic.New(g.cache, certmagic.Config{
			Storage: &certmagic.FileStorage{Path: o.StorageDir},
			OnEvent: g.onEvent,
			Logger:  zap.NewNop(),
		})
		tmpl := certmagic.ACMEIssuer{CA: o.CA, Email: o.Email, Agreed: true, TrustedRoots: o.CARoots, Logger: zap.NewNop()}
		if tmpl.CA == "" {
			tmpl.CA = certmagic.LetsEncryptProductionCA
		}
		g.acme = certmagic.NewACMEIssuer(g.magic, tmpl)
		g.magic.Issuers = []certmagic.Issuer{g.acme}
	case ModeInternal:
		ca, err := loadInternalCA(o.StorageDir)
		if err != nil {
			return nil, err
		}
		g.ca = ca
	default:
		return nil, fmt.Errorf("gateway: mode %q is neither %s nor %s", o.Mode, ModeACME, ModeInternal)
	}
	return g, nil
}

// RootCA returns the internal CA's certificate (PEM) to trust, or nil.
func (g *Gateway) RootCA() []byte {
	if g.ca == nil {
		return nil
	}
	return g.ca.rootPEM
}

// Addrs returns where the gateway listens (HTTP, HTTPS) once started.
func (g *Gateway) Addrs() []net.Addr { return g.addrs }

// Start listens and serves until ctx ends or Close.
func (g *Gateway) Start(ctx context.Context) error {
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	httpLn, err := net.Listen("tcp", g.o.HTTPAddr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", g.o.HTTPAddr, err)
	}
	httpsLn, err := net.Listen("tcp", g.o.HTTPSAddr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("gateway: listen on %s: %w", g.o.HTTPSAddr, err)
	}
	g.addrs = []net.Addr{httpLn.Addr(), httpsLn.Addr()}
	if g.acme != nil {
		// Challenges come to these listeners: certmagic must not open its own.
		g.acme.AltHTTPPort, g.acme.AltTLSALPNPort = port(httpLn.Addr()), port(httpsLn.Addr())
	}
	tlsConf := g.tlsConfig()
	var plain http.Handler = http.HandlerFunc(g.serveHTTP)
	if g.acme != nil {
		plain = g.acme.HTTPChallengeHandler(plain)
	}
	errLog := slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)
	g.servers = []*http.Server{
		{Handler: plain, ReadHeaderTimeout: g.headerTimeout, IdleTimeout: g.clientIdle, ErrorLog: errLog},
		{Handler: http.HandlerFunc(g.serveHTTPS), TLSConfig: tlsConf, ReadHeaderTimeout: g.headerTimeout, IdleTimeout: g.clientIdle, ErrorLog: errLog,
			ConnContext: connContext},
	}
	if err := g.Reload(ctx); err != nil {
		g.log.Warn("load the routes", "err", err)
	}
	go g.sweepIdle()
	// Connections start on the fast path (fast.go), which hands those it
	// does not serve to these servers.
	g.lns = []net.Listener{httpLn, httpsLn}
	plainOff, tlsOff := newHandoff(httpLn.Addr()), newHandoff(httpsLn.Addr())
	go func() { _ = g.servers[0].Serve(plainOff) }()
	go func() { _ = g.servers[1].Serve(tlsOff) }()
	go g.accept(httpLn, nil, plainOff)
	go g.accept(httpsLn, tlsConf, tlsOff)
	g.log.Info("gateway serving", "http", httpLn.Addr().String(), "https", httpsLn.Addr().String(), "mode", g.o.Mode)
	return nil
}

func port(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// tlsConfig is the HTTPS listener's: certmagic's (with its TLS-ALPN
// challenge answers), or the internal CA's.
func (g *Gateway) tlsConfig() *tls.Config {
	var c *tls.Config
	if g.magic != nil {
		c = g.magic.TLSConfig()
	} else {
		c = &tls.Config{GetCertificate: g.internalCertificate}
	}
	c.MinVersion = tls.VersionTLS12
	c.NextProtos = append([]string{"h2", "http/1.1"}, slices.DeleteFunc(c.NextProtos, func(p string) bool { return p == "h2" || p == "http/1.1" })...)
	return c
}

// internalCertificate signs a certificate for a domain the gateway serves.
func (g *Gateway) internalCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := orchestrator.HostOf(hello.ServerName)
	if name == "" || g.table.Load().domains[name] == nil {
		return nil, fmt.Errorf("no domain %q here", hello.ServerName)
	}
	return g.ca.leaf(name)
}

// Renew obtains name's certificate again now (certmagic renews on its own
// when a third of its life is left).
func (g *Gateway) Renew(ctx context.Context, name string) error {
	if g.magic == nil {
		return errors.New("the internal CA signs certificates on its own")
	}
	if err := g.magic.RenewCertSync(ctx, name, true); err != nil {
		return err
	}
	// Serve the new one: certmagic's cache keeps the old until it loads the
	// domain again.
	g.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: name}})
	return g.magic.ManageSync(ctx, []string{name})
}

// Revoke revokes name's certificate at its CA.
func (g *Gateway) Revoke(ctx context.Context, name string) error {
	if g.magic == nil {
		return errors.New("the internal CA's certificates are not revoked")
	}
	return g.magic.RevokeCert(ctx, name, 0, false)
}

// Close stops serving and managing certificates.
func (g *Gateway) Close(ctx context.Context) error {
	if g.cancel != nil {
		g.cancel()
	}
	var errs []error
	g.closeOnce.Do(func() {
		for _, ln := range g.lns {
			ln.Close()
		}
		g.closeConns()
		for _, s := range g.servers {
			errs = append(errs, s.Shutdown(ctx))
		}
		g.fastPool.sweep(nil)
		if g.cache != nil {
			g.cache.Stop()
		}
		g.lean.sweep(nil)
	})
	return errors.Join(errs...)
}

// Reload loads the routes again: new domains get certificates, removed
// ones stop being served and renewed.
func (g *Gateway) Reload(ctx context.Context) error {
	routes, err := g.o.Routes(ctx)
	if err != nil {
		return err
	}
	t := newTable(routes)
	g.table.Store(t)
	g.lean.sweep(t.upstreams())
	g.fastPool.sweep(t.upstreams())
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, stop := range g.managed {
		if t.domains[name] == nil {
			stop()
			delete(g.managed, name)
			delete(g.attempts, name)
			delete(g.reported, name)
			if g.cache != nil {
				g.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: name}})
			}
		}
	}
	for name := range t.domains {
		if _, ok := g.managed[name]; ok || g.ctx == nil {
			continue
		}
		mctx, stop := context.WithCancel(g.ctx)
		g.managed[name] = stop
		switch {
		case g.magic != nil:
			// Loaded from storage when there; obtained, and retried with
			// backoff, otherwise: on certmagic's goroutines, which report
			// through onEvent (this error is for a bad call, none so far).
			if err := g.magic.ManageAsync(mctx, []string{name}); err != nil {
				g.failLocked(name, err)
			}
		default:
			issuer := "internal"
			g.reportLocked(name, orchestrator.Certificate{State: orchestrator.CertValid, Issuer: issuer, NotAfter: time.Now().Add(leafValidity)})
		}
	}
	return nil
}

// onEvent takes certmagic's events, the only source of the domains'
// states (nothing polls): a failure is reported with the CA's error
// (certmagic retries it); a certificate put in the cache (loaded from
// storage, or just obtained) or renewed (loaded into the cache after this
// event, so read from storage) is reported valid.
func (g *Gateway) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	switch event {
	case "cert_failed":
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("the certificate could not be obtained")
		}
		g.fail(name, err)
	case "cached_managed_cert":
		sans, _ := data["sans"].([]string)
		for _, n := range sans {
			if certs := g.cache.AllMatchingCertificates(n); len(certs) > 0 && certs[0].Leaf != nil {
				g.valid(n, certs[0].Leaf)
			}
		}
	case "cert_obtained":
		g.log.Info("certificate obtained", "domain", name, "renewal", data["renewal"])
		path, _ := data["certificate_path"].(string)
		pemBytes, err := g.magic.Storage.Load(ctx, path)
		if err != nil {
			g.log.Warn("read an obtained certificate", "domain", name, "err", err)
			return nil
		}
		if b, _ := pem.Decode(pemBytes); b != nil {
			if leaf, err := x509.ParseCertificate(b.Bytes); err == nil {
				g.valid(name, leaf)
			}
		}
	}
	return nil
}

// valid reports name's certificate leaf, unless it was reported already.
func (g *Gateway) valid(name string, leaf *x509.Certificate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.managed[name]; !ok {
		return
	}
	if prev := g.reported[name]; prev.State == orchestrator.CertValid && prev.NotAfter.Equal(leaf.NotAfter) {
		return
	}
	g.attempts[name] = 0
	g.reportLocked(name, orchestrator.Certificate{State: orchestrator.CertValid, Issuer: leaf.Issuer.CommonName, NotAfter: leaf.NotAfter})
}

func (g *Gateway) fail(name string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failLocked(name, err)
}

func (g *Gateway) failLocked(name string, err error) {
	if _, ok := g.managed[name]; !ok {
		return
	}
	g.attempts[name]++
	g.log.Warn("certificate failed", "domain", name, "attempt", g.attempts[name], "err", err)
	g.reportLocked(name, orchestrator.Certificate{State: orchestrator.CertFailed, Issuer: g.o.CA, Error: err.Error(), Attempts: g.attempts[name]})
}

func (g *Gateway) reportLocked(name string, c orchestrator.Certificate) {
	g.reported[name] = c
	go g.o.Report(context.WithoutCancel(g.ctx), name, c)
}

// table is the routes by domain, each domain's sorted by longest prefix.
type table struct {
	domains map[string][]orchestrator.Route
}

func newTable(routes []orchestrator.Route) *table {
	t := &table{domains: map[string][]orchestrator.Route{}}
	for _, r := range routes {
		t.domains[r.Domain] = append(t.domains[r.Domain], r)
	}
	for _, rs := range t.domains {
		sort.Slice(rs, func(i, j int) bool { return len(rs[i].PathPrefix) > len(rs[j].PathPrefix) })
	}
	return t
}

// upstreams are the addresses the routes go to.
func (t *table) upstreams() map[string]bool {
	m := map[string]bool{}
	for _, rs := range t.domains {
		for _, r := range rs {
			if r.Upstream != "" {
				m[r.Upstream] = true
			}
		}
	}
	return m
}

// sweepIdle closes kept-alive connections to apps idle too long, until
// the gateway closes.
func (g *Gateway) sweepIdle() {
	tick := time.NewTicker(g.lean.idleTimeout / 3)
	defer tick.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-tick.C:
			up := g.table.Load().upstreams()
			g.lean.sweep(up)
			g.fastPool.sweep(up)
		}
	}
}

// prefixed reports whether a route of host has a path prefix.
func (t *table) prefixed(host string) bool {
	for _, r := range t.domains[host] {
		if r.PathPrefix != "" {
			return true
		}
	}
	return false
}

// match finds the route of host and path.
func (t *table) match(host, path string) *orchestrator.Route {
	for i, r := range t.domains[host] {
		if r.PathPrefix == "" || path == r.PathPrefix || strings.HasPrefix(path, r.PathPrefix+"/") {
			return &t.domains[host][i]
		}
	}
	return nil
}

type routeKey struct{}

// serveHTTP serves plain HTTP: a redirect to HTTPS for a domain that wants
// it, else the app.
func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	host := orchestrator.HostOf(r.Host)
	rt := g.table.Load().match(host, r.URL.Path)
	if rt == nil {
		http.Error(w, "no app is served at this name", http.StatusNotFound)
		return
	}
	if !rt.NoRedirect {
		target := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		if p := port(g.addrs[1]); p != 443 {
			target.Host = net.JoinHostPort(host, strconv.Itoa(p))
		}
		http.Redirect(w, r, target.String(), http.StatusPermanentRedirect)
		return
	}
	g.serve(w, r, rt)
}

// serveHTTPS serves a domain over TLS: the Host must be the name the
// client asked the certificate for.
func (g *Gateway) serveHTTPS(w http.ResponseWriter, r *http.Request) {
	host := orchestrator.HostOf(r.Host)
	// A connection the fast path handed over has its TLS state in the
	// context; the reverse proxy reads it from the request (X-Forwarded-Proto).
	r.TLS = tlsStateOf(r)
	if r.TLS == nil {
		http.Error(w, "no TLS connection", http.StatusInternalServerError)
		return
	}
	if host != orchestrator.HostOf(r.TLS.ServerName) {
		http.Error(w, "the Host header names another domain than the TLS connection", http.StatusMisdirectedRequest)
		return
	}
	rt := g.table.Load().match(host, r.URL.Path)
	if rt == nil {
		http.Error(w, "no app is served at this name", http.StatusNotFound)
		return
	}
	g.serve(w, r, rt)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rt *orchestrator.Route) {
	if rt.MaxBodyBytes > 0 {
		if r.ContentLength > rt.MaxBodyBytes {
			http.Error(w, fmt.Sprintf("the request body is larger than this domain takes (%d bytes)", rt.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, rt.MaxBodyBytes)
	}
	if rt.Installation == orchestrator.Console {
		if g.o.Console == nil {
			http.Error(w, "the console is not served here", http.StatusNotFound)
			return
		}
		g.o.Console.ServeHTTP(w, r)
		return
	}
	if rt.Upstream == "" {
		http.Error(w, "the app is not running", http.StatusBadGateway)
		return
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
}

// rewrite sends a request to its route's app: the client's own
// X-Forwarded-* are dropped (httputil does) and set from the connection.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	rt, _ := pr.In.Context().Value(routeKey{}).(*orchestrator.Route)
	pr.SetURL(&url.URL{Scheme: "http", Host: rt.Upstream})
	pr.SetXForwarded()
	pr.Out.Host = pr.In.Host
}

// noAnswer is the 502's text, on both paths.
const noAnswer = "the app does not answer"

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
