package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/gateway"
	"github.com/websoft9/stackhub/orchestrator"
)

// rawApp is an app that answers each request with the bytes answer
// returns for it (and closes the connection after when close is true); it
// counts the connections made to it.
type rawApp struct {
	addr  string
	conns atomic.Int64
}

func newRawApp(t *testing.T, answer func(r *http.Request, body string) (raw string, close bool)) *rawApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	a := &rawApp{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(r.Body)
					raw, closeAfter := answer(r, string(b))
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return a
}

// echo answers what the app was sent.
func echo(r *http.Request, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s host=%s body=%q", r.Method, r.RequestURI, r.Host, body)
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Proxy-Authorization", "X-Custom"} {
		fmt.Fprintf(&b, " %s=%q", k, r.Header.Values(k))
	}
	return b.String()
}

func plainGateway(t *testing.T, upstream string) *gateway.Gateway {
	t.Helper()
	httpAddr, httpsAddr := freeAddrs(t)
	rt := &routes{}
	rt.set(orchestrator.Route{Domain: "app.test", Installation: "app", Upstream: upstream, NoRedirect: true})
	return startGateway(t, gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, Mode: gateway.ModeInternal, StorageDir: t.TempDir(), Routes: rt.get})
}

// roundTrip writes raw on c and reads one answer.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err, raw)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, raw)
	return resp, string(b)
}

// TestFastPathAnswers: the answers apps give reach the client whole, with
// their framing redone and hop-by-hop headers dropped, on one kept-alive
// client connection and few connections to the app; what the fast path
// does not take goes on the same connection to net/http.
func TestFastPathAnswers(t *testing.T) {
	app := newRawApp(t, func(r *http.Request, body string) (string, bool) {
		switch r.URL.Path {
		case "/cl":
			if r.Method == http.MethodHead {
				return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-App: 1\r\nConnection: keep-alive, X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n\r\nhello", false
		case "/chunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\nX-Trailer: t\r\n\r\n", false
		case "/until-close":
			return "HTTP/1.0 200 OK\r\nX-App: old\r\n\r\nuntil the end", true
		case "/extra":
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale", false
		case "/204":
			return "HTTP/1.1 204 No Content\r\n\r\n", false
		case "/hints":
			return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		case "/folded":
			return "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 6\r\n\r\nfolded", false
		case "/switch":
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", true
		case "/switch-folded":
			// The connection stays open: waiting for another answer
			// would hang.
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nX: a\r\n b\r\n\r\n", false
		}
		e := echo(r, body)
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(e), e), false
	})
	g := plainGateway(t, app.addr)
	c, err := net.Dial("tcp", g.Addrs()[0].String())
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: app.test\r\n\r\n" }

	resp, body := roundTrip(t, c, br, get("/cl"), "GET")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "hello", body)
	assert.Equal(t, "1", resp.Header.Get("X-App"))
	assert.Empty(t, resp.Header.Values("X-Internal"), "a header the app's Connection names is the hop's")
	assert.Empty(t, resp.Header.Values("Keep-Alive"))

	resp, body = roundTrip(t, c, br, get("/chunked"), "GET")
	assert.Equal(t, "abcdef", body)
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)

	resp, body = roundTrip(t, c, br, get("/until-close"), "GET")
	assert.Equal(t, "until the end", body, "an answer framed by its end reaches the client framed")
	assert.False(t, resp.Close, "the client's connection goes on")

	resp, body = roundTrip(t, c, br, "HEAD /cl HTTP/1.1\r\nHost: app.test\r\n\r\n", "HEAD")
	assert.Equal(t, int64(5), resp.ContentLength)
	assert.Empty(t, body)

	// An app that sends more than its answer: the extra bytes are not
	// taken for the next request's answer.
	_, body = roundTrip(t, c, br, get("/extra"), "GET")
	assert.Equal(t, "ok", body)
	_, body = roundTrip(t, c, br, get("/echo"), "GET")
	assert.Contains(t, body, "GET /echo", "a fresh answer, not the bytes left over")

	resp, _ = roundTrip(t, c, br, get("/204"), "GET")
	assert.Equal(t, 204, resp.StatusCode)
	resp, body = roundTrip(t, c, br, get("/hints"), "GET")
	assert.Equal(t, 200, resp.StatusCode, "1xx answers are dropped")
	assert.Equal(t, "ok", body)
	resp, body = roundTrip(t, c, br, get("/folded"), "GET")
	assert.Equal(t, 200, resp.StatusCode, "an answer head net/http reads instead")
	assert.Equal(t, "folded", body)

	// The client's X-Forwarded-*, Forwarded and Proxy-Authorization are
	// not passed on.
	_, body = roundTrip(t, c, br, "GET /echo?q=1 HTTP/1.1\r\nHost: App.Test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\n"+
		"X-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nProxy-Authorization: Basic eDp5\r\nX-Custom: kept\r\n\r\n", "GET")
	assert.Equal(t, `GET /echo?q=1 host=App.Test body="" X-Forwarded-For=["127.0.0.1"] X-Forwarded-Host=["App.Test"] X-Forwarded-Proto=["http"] Forwarded=[] Proxy-Authorization=[] X-Custom=["kept"]`, body)

	// Two requests sent at once.
	_, err = io.WriteString(c, get("/cl")+get("/echo"))
	require.NoError(t, err)
	for _, want := range []string{"hello", "GET /echo"} {
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Contains(t, string(b), want)
	}
	assert.LessOrEqual(t, app.conns.Load(), int64(3), "the app's connections are kept alive (one more after the answer framed by its end, one after the extra bytes)")

	// A body: net/http's from here on, on the same connection.
	_, body = roundTrip(t, c, br, "POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello", "POST")
	assert.Contains(t, body, `POST /echo host=app.test body="hello" X-Forwarded-For=["127.0.0.1"]`)
	_, body = roundTrip(t, c, br, get("/echo"), "GET")
	assert.Contains(t, body, `GET /echo host=app.test`)

	// An app switching protocols unasked: 502.
	c2, err := net.Dial("tcp", g.Addrs()[0].String())
	require.NoError(t, err)
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
	br2 := bufio.NewReader(c2)
	for _, path := range []string{"/switch", "/switch-folded"} {
		resp, _ = roundTrip(t, c2, br2, get(path), "GET")
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode, path)
	}
}

// TestFastPathUpstreamFailures: an app's kept-alive connection closed
// while idle is replaced unseen; an app gone answers 502 and the client's
// connection goes on; an answer cut short closes the client's connection.
func TestFastPathUpstreamFailures(t *testing.T) {
	var served atomic.Int64
	app := newRawApp(t, func(r *http.Request, _ string) (string, bool) {
		served.Add(1)
		if r.URL.Path == "/short" {
			return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true
		}
		// Closes after each answer without saying so: the next request
		// finds the kept connection gone.
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", r.URL.Path == "/then-close"
	})
	g := plainGateway(t, app.addr)
	c, err := net.Dial("tcp", g.Addrs()[0].String())
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	resp, body := roundTrip(t, c, br, "GET /then-close HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET")
	assert.Equal(t, "ok", body)
	time.Sleep(50 * time.Millisecond)
	resp, body = roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET")
	assert.Equal(t, 200, resp.StatusCode, "sent again on a new connection")
	assert.Equal(t, "ok", body)
	assert.Equal(t, int64(2), app.conns.Load())

	_, err = io.WriteString(c, "GET /short HTTP/1.1\r\nHost: app.test\r\n\r\n")
	require.NoError(t, err)
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "an answer cut short is not passed off as whole")

	// Nothing listens at the app's address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := ln.Addr().String()
	ln.Close()
	g2 := plainGateway(t, gone)
	c2, err := net.Dial("tcp", g2.Addrs()[0].String())
	require.NoError(t, err)
	defer c2.Close()
	br2 := bufio.NewReader(c2)
	for range 2 {
		resp, body = roundTrip(t, c2, br2, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET")
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.Equal(t, "the app does not answer\n", body)
		// The answer to HEAD has no body: the next answer on the
		// connection must still read as one.
		resp, body = roundTrip(t, c2, br2, "HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\n", "HEAD")
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.Empty(t, body)
	}
	resp, _ = roundTrip(t, c2, br2, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", "GET")
	assert.True(t, resp.Close)
	_, err = br2.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "Connection: close is kept")
}

// TestFastPathOverTLS: a kept-alive HTTPS connection goes from the fast
// path to net/http at its first request with a body, and net/http still
// knows it is TLS (X-Forwarded-Proto, the name check); h2 connections
// are net/http's from the start.
func TestFastPathOverTLS(t *testing.T) {
	httpAddr, httpsAddr := freeAddrs(t)
	app := upstream(t)
	rt := &routes{}
	rt.set(orchestrator.Route{Domain: "wiki.test", Installation: "wiki", Upstream: app.Listener.Addr().String()},
		orchestrator.Route{Domain: "other.test", Installation: "other", Upstream: app.Listener.Addr().String()})
	rep := &reports{}
	g := startGateway(t, gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, Mode: gateway.ModeInternal, StorageDir: t.TempDir(),
		Routes: rt.get, Report: rep.report})
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(g.RootCA()))
	waitCert(t, rep, "wiki.test", orchestrator.CertValid, 5*time.Second)

	c, err := tls.Dial("tcp", g.Addrs()[1].String(), &tls.Config{RootCAs: roots, ServerName: "wiki.test", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	_, body := roundTrip(t, c, br, "GET /a HTTP/1.1\r\nHost: wiki.test\r\n\r\n", "GET")
	assert.Contains(t, body, `"proto":"https"`)
	_, body = roundTrip(t, c, br, "POST /b HTTP/1.1\r\nHost: wiki.test\r\nContent-Length: 3\r\n\r\nabc", "POST")
	assert.Contains(t, body, `"proto":"https"`, "net/http knows the handed-over connection is TLS")
	assert.Contains(t, body, `"body":3`)
	resp, _ := roundTrip(t, c, br, "GET /c HTTP/1.1\r\nHost: other.test\r\n\r\n", "GET")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, "the name is still checked against the TLS one")

	hc := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots},
		DialTLSContext: nil, DialContext: (&net.Dialer{}).DialContext}, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+g.Addrs()[1].String()+"/h2", nil)
	require.NoError(t, err)
	req.Host = "wiki.test"
	hc.Transport.(*http.Transport).TLSClientConfig.ServerName = "wiki.test"
	resp, err = hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Contains(t, string(b), `"proto":"https"`)
}

// TestFastPathClose: closing the gateway ends the connections the fast
// path holds, idle or waiting for an app.
func TestFastPathClose(t *testing.T) {
	release := make(chan struct{})
	app := newRawApp(t, func(r *http.Request, _ string) (string, bool) {
		if r.URL.Path == "/slow" {
			<-release
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	defer close(release)
	g := plainGateway(t, app.addr)
	idle, err := net.Dial("tcp", g.Addrs()[0].String())
	require.NoError(t, err)
	defer idle.Close()
	_, body := roundTrip(t, idle, bufio.NewReader(idle), "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET")
	require.Equal(t, "ok", body)
	waiting, err := net.Dial("tcp", g.Addrs()[0].String())
	require.NoError(t, err)
	defer waiting.Close()
	_, err = io.WriteString(waiting, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n")
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, g.Close(ctx))
	for _, c := range []net.Conn{idle, waiting} {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the connection is closed, not left open")
	}
	_, err = net.DialTimeout("tcp", g.Addrs()[0].String(), time.Second)
	assert.Error(t, err, "nothing listens any more")
}

// TestFastPathSlowClients: a head that stops coming is closed at the
// header limit and an idle connection at the idle limit, on the fast path
// as in net/http's servers. Each gateway has the other limit at an hour,
// so a close within the test's read deadline is the limit's doing.
func TestFastPathSlowClients(t *testing.T) {
	app := newRawApp(t, func(*http.Request, string) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	start := func(header, idle time.Duration) string {
		httpAddr, httpsAddr := freeAddrs(t)
		rt := &routes{}
		rt.set(orchestrator.Route{Domain: "app.test", Installation: "app", Upstream: app.addr, NoRedirect: true})
		g, err := gateway.New(gateway.Options{HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, Mode: gateway.ModeInternal, StorageDir: t.TempDir(), Routes: rt.get})
		require.NoError(t, err)
		gateway.SetClientTimeouts(g, header, idle)
		require.NoError(t, g.Start(t.Context()))
		t.Cleanup(func() { _ = g.Close(context.Background()) })
		return httpAddr
	}
	closed := func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c)
		require.NoError(t, err, "closed by the gateway, not by the test's deadline")
	}

	partial, err := net.Dial("tcp", start(200*time.Millisecond, time.Hour))
	require.NoError(t, err)
	defer partial.Close()
	_, err = io.WriteString(partial, "GET / HTTP/1.1\r\nHost: app.test\r\n")
	require.NoError(t, err)
	closed(partial)

	idle, err := net.Dial("tcp", start(time.Hour, 200*time.Millisecond))
	require.NoError(t, err)
	defer idle.Close()
	_, body := roundTrip(t, idle, bufio.NewReader(idle), "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET")
	require.Equal(t, "ok", body)
	closed(idle)
}
