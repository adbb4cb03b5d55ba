package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// leanTransport sends requests without a body (GET, HEAD, … the bulk of
// what browsers ask) on kept-alive HTTP/1.1 connections to the apps, on
// the caller's goroutine: write the request, read the response, hand the
// connection back when its body has been read to the end.
//
// net/http's Transport runs a reader and a writer goroutine per
// connection and passes every request and response between them and the
// caller over channels; under wrk on 2 cores those handoffs and their
// wake-ups were some 40 % of the proxy's CPU beside the four read and
// write calls a proxied request needs. Anything else (a body, an upgrade
// to WebSocket, a request the lean path cannot take) goes to next, the
// standard Transport, which streams both ways at once.
type leanTransport struct {
	next    http.RoundTripper
	dialer  *net.Dialer
	maxIdle int
	// idleTimeout closes a kept-alive connection unused that long. An app
	// slow to answer is waited for as long as its client waits (the
	// request's context ends the exchange), as for a stream of events.
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   map[string][]*leanConn
	closed bool
}

type leanConn struct {
	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	addr    string
	idleAt  time.Time
	reused  bool
	stopCtx func() bool
}

func newLeanTransport(next http.RoundTripper) *leanTransport {
	return &leanTransport{next: next, dialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle: 128, idleTimeout: 90 * time.Second, idle: map[string][]*leanConn{}}
}

// lean reports whether req can take the lean path.
func lean(req *http.Request) bool {
	return req.URL.Scheme == "http" && (req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		req.Header.Get("Upgrade") == "" && req.Header.Get("Expect") == "" && !req.Close && req.Method != http.MethodConnect
}

func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !lean(req) {
		return t.next.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		c, err := t.get(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(req, c)
		if err == nil {
			return resp, nil
		}
		c.conn.Close()
		// A kept-alive connection the app closed while it sat idle fails
		// before any answer: send the request again on a new one, once (a
		// request without a body is safe to repeat; net/http does the
		// same for the methods it deems idempotent).
		if !c.reused || attempt > 0 || req.Context().Err() != nil || !retryable(err) {
			if ctxErr := req.Context().Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, err
		}
	}
}

// retryable errors are a connection that was gone before it answered.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// exchange writes req on c and reads its response; the response's body
// gives c back (or closes it) when done.
func (t *leanTransport) exchange(req *http.Request, c *leanConn) (*http.Response, error) {
	ctx := req.Context()
	if ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		if c.stopCtx != nil {
			c.stopCtx()
		}
		return nil, err
	}
	if err := req.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		// 1xx answers before the final one (103 Early Hints) are dropped;
		// 101 cannot come: an upgrade never takes this path.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		resp.Body.Close()
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		c.conn.Close()
		return fail(errors.New("the app switched protocols without being asked to"))
	}
	keep := !resp.Close
	resp.Body = &leanBody{rc: resp.Body, t: t, c: c, keep: keep}
	return resp, nil
}

// leanBody hands its connection back once read to the end and closed.
type leanBody struct {
	rc   io.ReadCloser
	t    *leanTransport
	c    *leanConn
	keep bool
	eof  bool
	done bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *leanBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.rc.Close()
	stopped := true
	if b.c.stopCtx != nil {
		// False when the request's context already ended: its deadline
		// is on the connection, which is then not kept.
		stopped = b.c.stopCtx()
	}
	// Bytes after the answer are the app's mistake: such a connection is
	// not given another request (its next answer would be those bytes).
	if b.keep && (b.eof || b.rc == http.NoBody) && err == nil && stopped && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
	} else {
		b.c.conn.Close()
	}
	return err
}

// get takes an idle connection to addr, or dials one.
func (t *leanTransport) get(ctx context.Context, addr string) (*leanConn, error) {
	now := time.Now()
	t.mu.Lock()
	for l := t.idle[addr]; len(l) > 0; l = t.idle[addr] {
		c := l[len(l)-1]
		t.idle[addr] = l[:len(l)-1]
		if now.Sub(c.idleAt) < t.idleTimeout {
			t.mu.Unlock()
			c.reused, c.stopCtx = true, nil
			return c, nil
		}
		c.conn.Close()
	}
	t.mu.Unlock()
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &leanConn{conn: conn, br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10), addr: addr}, nil
}

func (t *leanTransport) put(c *leanConn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.idle[c.addr]) >= t.maxIdle {
		c.conn.Close()
		return
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
}

// sweep closes connections idle too long, and every idle one to an
// address no longer in keep (nil: all, for good).
func (t *leanTransport) sweep(keep map[string]bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if keep == nil {
		t.closed = true
	}
	for addr, l := range t.idle {
		kept := l[:0]
		for _, c := range l {
			if keep[addr] && now.Sub(c.idleAt) < t.idleTimeout {
				kept = append(kept, c)
			} else {
				c.conn.Close()
			}
		}
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if tr, ok := t.next.(*http.Transport); ok && keep == nil {
		tr.CloseIdleConnections()
	}
}

// idleConns counts the idle connections (tests).
func (t *leanTransport) idleConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.idle {
		n += len(l)
	}
	return n
}
