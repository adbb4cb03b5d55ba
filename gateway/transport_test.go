package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer is an app that counts the connections made to it and
// those closed.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// fallback counts what goes to the standard transport.
type fallback struct {
	n atomic.Int64
	t http.RoundTripper
}

func (f *fallback) RoundTrip(r *http.Request) (*http.Response, error) {
	f.n.Add(1)
	return f.t.RoundTrip(r)
}

func get(t *testing.T, tr http.RoundTripper, ctx context.Context, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

func TestLeanTransportKeepsConnectionsAlive(t *testing.T) {
	app := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
		case "/close":
			// No length, no chunks: the body ends with the connection.
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "until the end")
		default:
			_, _ = io.WriteString(w, "hello "+r.Method+" "+r.Host)
		}
	})
	fb := &fallback{t: http.DefaultTransport}
	tr := newLeanTransport(fb)
	t.Cleanup(func() { tr.sweep(nil) })

	for i := range 20 {
		resp, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "hello GET "+app.Listener.Addr().String(), body, "request %d", i)
	}
	resp, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/chunked")
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	assert.Equal(t, "part 0;part 1;part 2;", body)
	resp, body = get(t, tr, t.Context(), http.MethodHead, app.URL+"/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	assert.EqualValues(t, 1, app.opened.Load(), "one connection for every request in turn")
	assert.Equal(t, 1, tr.idleConns())

	_, body = get(t, tr, t.Context(), http.MethodGet, app.URL+"/close")
	assert.Equal(t, "until the end", body)
	assert.Equal(t, 0, tr.idleConns(), "a connection the app closes is not kept")
	assert.Zero(t, fb.n.Load(), "requests without a body take the lean path")

	// A body, an upgrade: the standard transport.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, app.URL+"/", strings.NewReader("x"))
	require.NoError(t, err)
	resp, err = tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, app.URL+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err = tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 2, fb.n.Load())
}

// An app that closed a kept-alive connection while it was idle: the
// request goes again on a new one, once.
func TestLeanTransportRetriesAConnectionClosedWhileIdle(t *testing.T) {
	app := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	tr := newLeanTransport(http.DefaultTransport)
	t.Cleanup(func() { tr.sweep(nil) })
	_, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/")
	require.Equal(t, "ok", body)
	app.CloseClientConnections()
	require.Eventually(t, func() bool { return app.closed.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	resp, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", body)
	assert.EqualValues(t, 2, app.opened.Load())

	// An app gone for good: the error, not a loop.
	app.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, app.URL+"/", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	assert.Error(t, err)
}

// An app that writes more than its answer: the connection is not kept,
// so the next request gets its own answer, not the bytes left over.
func TestLeanTransportDropsAConnectionWithBytesLeft(t *testing.T) {
	app := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/extra" {
			_, _ = io.WriteString(w, "fresh")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
		_ = brw.Flush()
		_, _ = io.Copy(io.Discard, conn) // kept open
	})
	tr := newLeanTransport(http.DefaultTransport)
	t.Cleanup(func() { tr.sweep(nil) })
	_, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/extra")
	require.Equal(t, "ok", body)
	_, body = get(t, tr, t.Context(), http.MethodGet, app.URL+"/")
	assert.Equal(t, "fresh", body)
}

// A client that leaves mid-answer: its connection to the app is closed,
// not handed to the next request with half a body in it.
func TestLeanTransportClientLeaves(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	app := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			_, _ = io.WriteString(w, "first half;")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		if r.URL.Path == "/hang" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	tr := newLeanTransport(http.DefaultTransport)
	t.Cleanup(func() { tr.sweep(nil) })

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, app.URL+"/slow", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	buf := make([]byte, 11)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	assert.Equal(t, "first half;", string(buf))
	cancel()
	_, err = io.ReadAll(resp.Body)
	assert.Error(t, err, "the read ends with the client")
	resp.Body.Close()
	assert.Equal(t, 0, tr.idleConns())
	require.Eventually(t, func() bool { return app.closed.Load() == 1 }, 5*time.Second, 10*time.Millisecond)

	// Waiting for a header ends with the client too.
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, app.URL+"/hang", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Equal(t, 0, tr.idleConns())

	_, body := get(t, tr, t.Context(), http.MethodGet, app.URL+"/")
	assert.Equal(t, "ok", body)
}

// Idle connections to an app no longer routed, or idle too long, are
// closed.
func TestLeanTransportSweep(t *testing.T) {
	a := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "a") })
	b := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "b") })
	tr := newLeanTransport(http.DefaultTransport)
	get(t, tr, t.Context(), http.MethodGet, a.URL+"/")
	get(t, tr, t.Context(), http.MethodGet, b.URL+"/")
	require.Equal(t, 2, tr.idleConns())
	tr.sweep(map[string]bool{a.Listener.Addr().String(): true})
	assert.Equal(t, 1, tr.idleConns())
	require.Eventually(t, func() bool { return b.closed.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Zero(t, a.closed.Load())

	tr.idleTimeout = time.Nanosecond
	tr.sweep(map[string]bool{a.Listener.Addr().String(): true})
	assert.Equal(t, 0, tr.idleConns(), "idle too long")
	tr.idleTimeout = time.Minute

	get(t, tr, t.Context(), http.MethodGet, a.URL+"/")
	tr.sweep(nil)
	assert.Equal(t, 0, tr.idleConns())
	get(t, tr, t.Context(), http.MethodGet, a.URL+"/")
	assert.Equal(t, 0, tr.idleConns(), "nothing is kept once closed")
}
