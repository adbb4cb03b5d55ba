package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// The fast path serves the bulk of an app's traffic — requests without a
// body (GET, HEAD, …) over HTTP/1.1 — by copying the head it read, less
// the hop-by-hop headers and plus X-Forwarded-*, to a kept-alive
// connection to the app, and the app's answer back, on one goroutine per
// client connection. Through net/http's server and httputil, a proxied
// request cost the gateway about twice nginx's CPU; most of the
// difference was the server's per-request machinery (a request and a
// response object with their header maps, a background read on the
// connection and its deadlines, contexts), not the four system calls.
//
// It takes only what it understands completely (head.go). At the first
// request it does not take — a body, an upgrade to WebSocket, HTTP/1.0, a
// redirect to HTTPS, the console, an ACME challenge, a malformed or
// unusual head, h2 — the connection goes, with every byte read so far, to
// the gateway's net/http servers, which serve it from then on exactly as
// they serve a connection they accepted themselves. Bad requests are
// therefore answered by net/http, never by this file.

// handoff is a listener whose connections come from the fast path.
type handoff struct {
	ch   chan net.Conn
	addr net.Addr
	once sync.Once
	done chan struct{}
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{ch: make(chan net.Conn), addr: addr, done: make(chan struct{})}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// give hands c to the server; false once it is closed.
func (h *handoff) give(c net.Conn) bool {
	select {
	case h.ch <- c:
		return true
	case <-h.done:
		return false
	}
}

// replayConn is a connection handed over after the fast path read from
// it: reads come from what it buffered first. state is the TLS
// connection's (net/http sees no *tls.Conn here, so its handlers read the
// state from the context: see tlsStateOf).
type replayConn struct {
	net.Conn
	br    *bufio.Reader
	state *tls.ConnectionState
}

func (r *replayConn) Read(p []byte) (int, error) { return r.br.Read(p) }

type tlsStateKey struct{}

// connContext puts a handed-over TLS connection's state in its requests'
// context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok && rc.state != nil {
		return context.WithValue(ctx, tlsStateKey{}, rc.state)
	}
	return ctx
}

// tlsStateOf is r's TLS state, also for a connection the fast path handed
// over.
func tlsStateOf(r *http.Request) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	st, _ := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
	return st
}

// accept takes ln's connections to the fast path until ln closes; h
// receives those it hands over. tlsConf is nil for plain HTTP.
func (g *Gateway) accept(ln net.Listener, tlsConf *tls.Config, h *handoff) {
	defer h.Close()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait as net/http does.
			delay = min(max(5*time.Millisecond, 2*delay), time.Second)
			g.log.Warn("accept", "err", err, "retry in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go g.serveConn(c, tlsConf, h)
	}
}

// track records c as open (or closed) so Close can end it, with the
// connection to an app it waits on.
func (g *Gateway) track(c net.Conn, fc *fastConn, open bool) bool {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	if !open {
		delete(g.conns, c)
		return true
	}
	if g.conns == nil {
		return false // closed
	}
	g.conns[c] = fc
	return true
}

// closeConns ends every connection on the fast path, for good.
func (g *Gateway) closeConns() {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	for c, fc := range g.conns {
		c.Close()
		if up := fc.up.Load(); up != nil {
			up.conn.Close()
		}
	}
	g.conns = nil
}

// fastConn is one client connection on the fast path.
type fastConn struct {
	g     *Gateway
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	state *tls.ConnectionState
	// clientIP is X-Forwarded-For's value.
	clientIP []byte
	req      requestHead
	resp     responseHead
	// The last Host and its normalized name: a connection asks for one
	// name, normalizing it each time would be a waste.
	lastHost []byte
	name     string
	// sni is the normalized name the TLS client asked for.
	sni string
	// up is the app connection an exchange uses (Close ends it too).
	up atomic.Pointer[leanConn]
}

const (
	// idleTimeout and readHeaderTimeout are the defaults of a client
	// connection's limits (Gateway.clientIdle, Gateway.headerTimeout), on
	// the fast path and in net/http's servers alike.
	idleTimeout       = 2 * time.Minute
	readHeaderTimeout = 10 * time.Second
	// answerTimeout bounds the wait for an app's answer head.
	answerTimeout = 5 * time.Minute
)

func (g *Gateway) serveConn(raw net.Conn, tlsConf *tls.Config, h *handoff) {
	fc := &fastConn{g: g, c: raw}
	if !g.track(raw, fc, true) {
		raw.Close()
		return
	}
	handed := false
	defer func() {
		g.track(raw, nil, false)
		if !handed {
			raw.Close()
		}
	}()
	if tlsConf != nil {
		tc := tls.Server(raw, tlsConf)
		_ = raw.SetDeadline(time.Now().Add(g.headerTimeout))
		if err := tc.HandshakeContext(g.ctx); err != nil {
			g.log.Debug("TLS handshake", "remote", raw.RemoteAddr().String(), "err", err)
			return
		}
		_ = raw.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		if st.NegotiatedProtocol == "h2" {
			handed = h.give(tc)
			return
		}
		fc.c, fc.state, fc.sni = tc, &st, orchestrator.HostOf(st.ServerName)
	}
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		fc.clientIP = []byte(a.IP.String())
	}
	fc.br = bufio.NewReaderSize(fc.c, 4<<10)
	fc.bw = bufio.NewWriterSize(fc.c, 4<<10)
	for {
		take, err := fc.next()
		if err != nil {
			return
		}
		if take == nil {
			handed = h.give(&replayConn{Conn: fc.c, br: fc.br, state: fc.state})
			return
		}
		if !fc.proxy(take) || fc.req.close {
			_ = fc.bw.Flush()
			return
		}
	}
}

// next reads the next request's head: the route to take it to, or nil
// when the connection is net/http's from this request on.
func (fc *fastConn) next() (*orchestrator.Route, error) {
	_ = fc.c.SetReadDeadline(time.Now().Add(fc.g.clientIdle))
	n, err := fc.readHead()
	if err != nil || n < 0 {
		return nil, err
	}
	head, _ := fc.br.Peek(n)
	if !parseRequestHead(head, &fc.req) {
		return nil, nil
	}
	if string(fc.req.host) != string(fc.lastHost) || fc.lastHost == nil {
		fc.lastHost = append(fc.lastHost[:0], fc.req.host...)
		fc.name = orchestrator.HostOf(string(fc.req.host))
	}
	path := fc.req.target
	for i, c := range path {
		if c == '?' {
			path = path[:i]
			break
		}
	}
	g := fc.g
	if fc.state != nil {
		if fc.name != fc.sni {
			return nil, nil // net/http answers 421
		}
	} else if g.acme != nil && len(path) >= len(acmePrefix) && string(path[:len(acmePrefix)]) == acmePrefix {
		return nil, nil
	}
	t := g.table.Load()
	if fc.req.escaped && t.prefixed(fc.name) {
		return nil, nil // matched on the decoded path: net/http's
	}
	rt := t.match(fc.name, string(path))
	if rt == nil || rt.Installation == orchestrator.Console || rt.Upstream == "" || (fc.state == nil && !rt.NoRedirect) {
		return nil, nil
	}
	// The head stays in the buffer (nothing reads the client until the
	// answer is out): the fields still point at it.
	_, _ = fc.br.Discard(n)
	return rt, nil
}

const acmePrefix = "/.well-known/acme-challenge/"

// readHead waits for a whole head in the client's buffer: its length, or
// -1 when it does not fit (net/http's then). From its first byte, the
// rest must come within the gateway's header timeout.
func (fc *fastConn) readHead() (int, error) {
	return waitHead(fc.br, fc.c, fc.g.headerTimeout)
}

// waitHead waits for a whole head in br: its length, or -1 when it does
// not fit the buffer. When part of one is there, the rest must come
// within timeout on c (nil: no such limit).
func waitHead(br *bufio.Reader, c net.Conn, timeout time.Duration) (int, error) {
	started := false
	for {
		buffered := br.Buffered()
		if buffered > 0 {
			b, _ := br.Peek(buffered)
			if n := headEnd(b); n >= 0 {
				return n, nil
			}
			if buffered == br.Size() {
				return -1, nil
			}
			if c != nil && !started {
				started = true
				_ = c.SetReadDeadline(time.Now().Add(timeout))
			}
		}
		if _, err := br.Peek(buffered + 1); err != nil && br.Buffered() == buffered {
			return 0, err
		}
	}
}

// proxy sends the request read to rt's app and its answer back; false
// when the client connection cannot go on.
func (fc *fastConn) proxy(rt *orchestrator.Route) bool {
	g := fc.g
	for attempt := 0; ; attempt++ {
		lc, err := g.fastPool.get(g.ctx, rt.Upstream)
		if err != nil {
			return fc.fail(err)
		}
		fc.up.Store(lc)
		answered, keep, err := fc.exchange(lc)
		fc.up.Store(nil)
		if err == nil {
			// Bytes after the answer are an app's mistake: the connection
			// cannot be trusted with another request (net/http's
			// transport drops it too).
			if keep && lc.br.Buffered() == 0 {
				g.fastPool.put(lc)
			} else {
				lc.conn.Close()
			}
			return true
		}
		lc.conn.Close()
		if answered {
			// Part of the answer is out: the client can only be told by
			// closing its connection.
			g.log.Warn("upstream failed mid-answer", "host", string(fc.req.host), "err", err)
			return false
		}
		// As in leanTransport: a kept-alive connection the app closed
		// while idle fails before any answer; a request without a body is
		// safe to send again, once.
		if !lc.reused || attempt > 0 || !retryable(err) {
			return fc.fail(err)
		}
	}
}

// fail answers 502, as the reverse proxy's error handler does.
func (fc *fastConn) fail(err error) bool {
	fc.g.log.Warn("upstream failed", "host", string(fc.req.host), "err", err)
	const msg = noAnswer + "\n" // as http.Error writes it
	fc.bw.WriteString("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ")
	fc.bw.WriteString(strconv.Itoa(len(msg)))
	if fc.req.close {
		fc.bw.WriteString("\r\nConnection: close")
	}
	fc.bw.WriteString("\r\n\r\n")
	if string(fc.req.method) != http.MethodHead { // an answer to HEAD has no body
		fc.bw.WriteString(msg)
	}
	return fc.bw.Flush() == nil
}

// exchange writes the request on lc and copies the answer to the client.
// answered: bytes of the answer went to the client; keep: lc can serve
// another request.
func (fc *fastConn) exchange(lc *leanConn) (answered, keep bool, err error) {
	req := &fc.req
	w := lc.bw
	w.Write(req.method)
	w.WriteByte(' ')
	w.Write(req.target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(req.host)
	w.WriteString("\r\n")
	for _, f := range req.fields {
		if asciiEqualFold(f.name, "Host") || hopByHop(f.name) {
			continue
		}
		w.Write(f.line)
	}
	if fc.clientIP != nil {
		w.WriteString("X-Forwarded-For: ")
		w.Write(fc.clientIP)
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Host: ")
	w.Write(req.host)
	if fc.state != nil {
		w.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	} else {
		w.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	}
	if err := w.Flush(); err != nil {
		return false, false, err
	}

	_ = lc.conn.SetReadDeadline(time.Now().Add(answerTimeout))
	resp := &fc.resp
	var body io.Reader
	var fallback *http.Response
	for {
		n, err := waitHead(lc.br, nil, 0)
		if err != nil {
			return false, false, err
		}
		if n > 0 {
			head, _ := lc.br.Peek(n)
			if parseResponseHead(head, resp) {
				if resp.status >= 200 {
					break
				}
				if resp.status == http.StatusSwitchingProtocols {
					return false, false, errors.New("the app switched protocols without being asked to")
				}
				_, _ = lc.br.Discard(n) // 100 Continue, 103 Early Hints: dropped
				continue
			}
		}
		// An answer head this file does not read, or one too long for
		// the buffer: net/http's reader takes it.
		fallback, err = http.ReadResponse(lc.br, &http.Request{Method: string(req.method)})
		if err != nil {
			return false, false, err
		}
		if fallback.StatusCode == http.StatusSwitchingProtocols {
			return false, false, errors.New("the app switched protocols without being asked to")
		}
		if fallback.StatusCode < 200 {
			fallback.Body.Close()
			fallback = nil
			continue
		}
		break
	}
	_ = lc.conn.SetReadDeadline(time.Time{})

	out := fc.bw
	chunkOut := false
	var bodyless bool
	if fallback != nil {
		bodyless = noBody(string(req.method), fallback.StatusCode)
		writeFallbackHead(out, fallback)
		if !bodyless && fallback.ContentLength < 0 {
			chunkOut = true
			out.WriteString("Transfer-Encoding: chunked\r\n")
		} else if !bodyless {
			out.WriteString("Content-Length: ")
			out.WriteString(strconv.FormatInt(fallback.ContentLength, 10))
			out.WriteString("\r\n")
		}
		body, keep = fallback.Body, !fallback.Close
	} else {
		bodyless = noBody(string(req.method), resp.status)
		out.WriteString("HTTP/1.1 ")
		out.Write(resp.statusLine)
		out.WriteString("\r\n")
		for _, f := range resp.fields {
			if dropped(f.name, resp.drop) {
				continue
			}
			out.Write(f.line)
		}
		switch {
		case bodyless:
		case resp.chunked:
			chunkOut = true
			body = httputil.NewChunkedReader(lc.br)
		case resp.length >= 0:
			body = &limitedReader{r: lc.br, n: resp.length}
		default:
			// Until the app closes: framed for the client as chunks.
			chunkOut = true
			body = lc.br
			resp.close = true
		}
		if chunkOut {
			out.WriteString("Transfer-Encoding: chunked\r\n")
		}
		keep = !resp.close
		// The head's bytes are copied out: the buffer may move on.
		_, _ = lc.br.Discard(resp.size)
	}
	if fc.req.close {
		out.WriteString("Connection: close\r\n")
	}
	out.WriteString("\r\n")
	if bodyless {
		if fallback != nil {
			fallback.Body.Close()
		}
		return true, keep, out.Flush()
	}
	if err := fc.copyBody(lc, body, chunkOut); err != nil {
		return true, false, err
	}
	if fallback != nil {
		fallback.Body.Close()
	} else if resp.chunked {
		if err := skipTrailer(lc.br); err != nil {
			return true, false, err
		}
	}
	return true, keep, out.Flush()
}

// noBody: the answer to method with status has no body, whatever its
// headers say.
func noBody(method string, status int) bool {
	return method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified
}

// copyBody copies an answer's body to the client as it comes: what has
// arrived is sent before waiting for more (events, long downloads).
func (fc *fastConn) copyBody(lc *leanConn, body io.Reader, chunked bool) error {
	bufp := fastBuffers.Get().(*[]byte)
	defer fastBuffers.Put(bufp)
	buf := *bufp
	var size [20]byte
	for {
		if lc.br.Buffered() == 0 {
			if err := fc.bw.Flush(); err != nil {
				return err
			}
		}
		n, err := body.Read(buf)
		if n > 0 {
			if chunked {
				fc.bw.Write(strconv.AppendInt(size[:0], int64(n), 16))
				fc.bw.WriteString("\r\n")
			}
			if _, werr := fc.bw.Write(buf[:n]); werr != nil {
				return werr
			}
			if chunked {
				fc.bw.WriteString("\r\n")
			}
		}
		if err == io.EOF {
			if chunked {
				fc.bw.WriteString("0\r\n\r\n")
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var fastBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// limitedReader reads n bytes, then EOF; fewer is io.ErrUnexpectedEOF.
type limitedReader struct {
	r *bufio.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && l.n == 0 {
		err = io.EOF
	}
	return n, err
}

// skipTrailer reads a chunked body's trailer (dropped, as net/http drops
// trailers it was not told of) up to its empty line.
func skipTrailer(br *bufio.Reader) error {
	for range maxHeadLines {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return errors.New("a chunked answer's trailer line without CRLF")
		}
		if len(line) == 2 {
			return nil
		}
	}
	return errors.New("a chunked answer's trailer is too long")
}

// dropped: a header the app's Connection header names, or one that is
// the proxy's to answer.
func dropped(name []byte, drop [][]byte) bool {
	for _, d := range drop {
		if asciiEqualFold(name, string(d)) {
			return true
		}
	}
	return false
}

// writeFallbackHead writes an answer net/http's reader read, less its
// framing and hop-by-hop headers (framing is written by the caller).
func writeFallbackHead(w *bufio.Writer, resp *http.Response) {
	w.WriteString("HTTP/1.1 ")
	w.WriteString(resp.Status)
	w.WriteString("\r\n")
	h := resp.Header.Clone()
	for _, name := range h.Values("Connection") {
		for tok := range strings.SplitSeq(name, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"} {
		h.Del(name)
	}
	_ = h.Write(w)
}
