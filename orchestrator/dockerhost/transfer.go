package dockerhost

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// Transfers is the HTTP endpoint StackHub's node volume helper talks to
// (nodevolumes.go): each transfer is one archive up (a volume read on a
// node) or down (a volume written there), at /v1/transfers/<id>, allowed
// once with its own random token (a bearer token, compared in constant
// time, never logged), until it expires. Nothing else is served.
type Transfers struct {
	// Addr is the address to listen on, one the Swarm's nodes reach
	// (host:port; port 0 picks one). Set before the first transfer.
	Addr string
	// TTL is how long a transfer waits for the helper to come (0: two
	// minutes): the task must start on its node and connect.
	TTL time.Duration
	// Log records transfers (never their tokens).
	Log *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Idle bounds a transfer's wait for its next bytes (0: one minute): a
	// node cut off the network fails the transfer after it.
	Idle time.Duration

	mu      sync.Mutex
	ln      net.Listener
	srv     *http.Server
	base    string
	pending map[string]*transfer
}

// DefaultTransferTTL is Transfers.TTL's default.
const DefaultTransferTTL = 2 * time.Minute

// transfer is one pending or running transfer.
type transfer struct {
	id      string
	hash    [sha256.Size]byte
	upload  bool
	limit   int64
	expires time.Time
	used    bool
	// arrive hands an upload's body to the side waiting for it; src is a
	// download's archive and sent its outcome.
	arrive chan *handoff
	src    io.Reader
	sent   chan error
}

// handoff is an upload's body, read by the waiting side, which says on
// done how it ended; abort makes a read that waits fail at once.
type handoff struct {
	r     io.Reader
	done  chan error
	abort func()
}

// DefaultTransferIdle is Transfers.Idle's default.
const DefaultTransferIdle = time.Minute

func (x *Transfers) idle() time.Duration {
	if x.Idle > 0 {
		return x.Idle
	}
	return DefaultTransferIdle
}

// deadlineConn moves a request's read or write deadline forward before
// each read or write: a stalled peer fails the transfer after idle.
type deadlineConn struct {
	rc   *http.ResponseController
	idle time.Duration
	r    io.Reader
	w    io.Writer
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(d.idle))
	return d.r.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.idle))
	return d.w.Write(p)
}

// ErrTooLarge is an upload's read error past its size limit.
var ErrTooLarge = errors.New("the archive is larger than the transfer allows")

func (x *Transfers) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Transfers) ttl() time.Duration {
	if x.TTL > 0 {
		return x.TTL
	}
	return DefaultTransferTTL
}

// Start listens on Addr and serves transfers until Close; further calls
// do nothing.
func (x *Transfers) Start() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ln != nil {
		return nil
	}
	if x.Addr == "" {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "no address for the nodes' volume transfers")
	}
	ln, err := net.Listen("tcp", x.Addr)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "listen for the nodes' volume transfers on %s: %v", x.Addr, err)
	}
	x.ln, x.base = ln, "http://"+ln.Addr().String()
	srv := &http.Server{Handler: x, ReadHeaderTimeout: 10 * time.Second}
	x.srv = srv
	if x.pending == nil {
		x.pending = map[string]*transfer{}
	}
	go func() { _ = srv.Serve(ln) }()
	if x.Log != nil {
		x.Log.Info("node volume transfers listening", "addr", ln.Addr().String())
	}
	return nil
}

// Close stops serving.
func (x *Transfers) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.srv == nil {
		return nil
	}
	err := x.srv.Close()
	x.srv, x.ln = nil, nil
	return err
}

// Listening returns the address served ("" before Start).
func (x *Transfers) Listening() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ln == nil {
		return ""
	}
	return x.ln.Addr().String()
}

// newTransfer records a transfer and returns its URL and token.
func (x *Transfers) newTransfer(t *transfer) (url, token string, err error) {
	id, secret := make([]byte, 16), make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(secret)
	t.id, t.hash = hex.EncodeToString(id), sha256.Sum256([]byte(token))
	t.expires = x.now().Add(x.ttl())
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ln == nil {
		return "", "", orchestrator.Errorf(orchestrator.EUNAVAILABLE, "the nodes' volume transfers are not served")
	}
	x.pending[t.id] = t
	return x.base + "/v1/transfers/" + t.id, token, nil
}

// forget drops a transfer.
func (x *Transfers) forget(id string) {
	x.mu.Lock()
	delete(x.pending, id)
	x.mu.Unlock()
}

// Upload is a transfer that receives an archive from a node.
type Upload struct {
	URL, Token string
	x          *Transfers
	t          *transfer
}

// NewUpload makes a transfer a node PUTs an archive of at most limit
// bytes to (0: no limit).
func (x *Transfers) NewUpload(limit int64) (*Upload, error) {
	t := &transfer{upload: true, limit: limit, arrive: make(chan *handoff, 1)}
	url, token, err := x.newTransfer(t)
	if err != nil {
		return nil, err
	}
	return &Upload{URL: url, Token: token, x: x, t: t}, nil
}

// Wait waits until the node's archive arrives and returns it: its reader
// must be closed (its Close ends the node's request). failed ends the
// wait with the error it carries (the task failed).
func (u *Upload) Wait(ctx context.Context, failed <-chan error) (io.ReadCloser, error) {
	timer := time.NewTimer(time.Until(u.t.expires) + time.Second)
	defer timer.Stop()
	select {
	case h := <-u.t.arrive:
		return &uploadReader{h: h}, nil
	case err := <-failed:
		u.Cancel()
		return nil, err
	case <-ctx.Done():
		u.Cancel()
		return nil, ctx.Err()
	case <-timer.C:
		u.Cancel()
		return nil, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "the node's volume helper did not connect within %s", u.x.ttl())
	}
}

// Cancel forgets the transfer: its token is refused from now on.
func (u *Upload) Cancel() { u.x.forget(u.t.id) }

// Abort makes rd, an upload Wait returned, fail its waiting read at once
// (the helper's task failed, its node was lost).
func Abort(rd io.ReadCloser) {
	if u, ok := rd.(*uploadReader); ok && u.h.abort != nil {
		u.h.abort()
	}
}

// uploadReader reads an arrived upload; Close tells the node's request
// how it ended.
type uploadReader struct {
	h    *handoff
	err  error
	once sync.Once
}

func (r *uploadReader) Read(p []byte) (int, error) {
	n, err := r.h.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (r *uploadReader) Close() error {
	r.once.Do(func() { r.h.done <- r.err })
	return nil
}

// Download is a transfer that sends an archive to a node.
type Download struct {
	URL, Token string
	x          *Transfers
	t          *transfer
}

// NewDownload makes a transfer a node GETs src from.
func (x *Transfers) NewDownload(src io.Reader) (*Download, error) {
	t := &transfer{src: src, sent: make(chan error, 1)}
	url, token, err := x.newTransfer(t)
	if err != nil {
		return nil, err
	}
	return &Download{URL: url, Token: token, x: x, t: t}, nil
}

// Sent is told how sending the archive ended.
func (d *Download) Sent() <-chan error { return d.t.sent }

// Cancel forgets the transfer.
func (d *Download) Cancel() { d.x.forget(d.t.id) }

// claim finds transfer id for a request with token: the one use of an
// unexpired transfer of the request's kind. Its HTTP status and reason
// when refused.
func (x *Transfers) claim(id, token string, upload bool) (*transfer, int, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t, ok := x.pending[id]
	sum := sha256.Sum256([]byte(token))
	// One comparison whether or not the transfer exists.
	want := [sha256.Size]byte{}
	if ok {
		want = t.hash
	}
	if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok || token == "" {
		return nil, http.StatusUnauthorized, "no transfer for this token"
	}
	if t.used {
		return nil, http.StatusGone, "this transfer was used already"
	}
	if x.now().After(t.expires) {
		delete(x.pending, id)
		return nil, http.StatusGone, "this transfer expired"
	}
	if t.upload != upload {
		return nil, http.StatusMethodNotAllowed, "wrong method for this transfer"
	}
	t.used = true
	delete(x.pending, id)
	return t, 0, ""
}

// ServeHTTP serves PUT (an upload) and GET (a download) of
// /v1/transfers/<id>.
func (x *Transfers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/transfers/")
	if !ok || id == "" || strings.Contains(id, "/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t, status, why := x.claim(id, token, r.Method == http.MethodPut)
	if t == nil {
		if x.Log != nil {
			x.Log.Warn("node volume transfer refused", "transfer", id, "remote", r.RemoteAddr, "status", status, "reason", why)
		}
		http.Error(w, why, status)
		return
	}
	if t.upload {
		x.receive(w, r, t)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	_, err := io.Copy(&deadlineConn{rc: http.NewResponseController(w), idle: x.idle(), w: w}, t.src)
	t.sent <- err
}

// receive hands an upload's body to the side waiting for it and answers
// with how it ended.
func (x *Transfers) receive(w http.ResponseWriter, r *http.Request, t *transfer) {
	if t.limit > 0 && r.ContentLength > t.limit {
		http.Error(w, ErrTooLarge.Error(), http.StatusRequestEntityTooLarge)
		t.arrive <- &handoff{r: errReader{ErrTooLarge}, done: make(chan error, 1)}
		return
	}
	rc := http.NewResponseController(w)
	var body io.Reader = &deadlineConn{rc: rc, idle: x.idle(), r: r.Body}
	if t.limit > 0 {
		body = &limitReader{r: body, left: t.limit}
	}
	h := &handoff{r: body, done: make(chan error, 1), abort: func() { _ = rc.SetReadDeadline(time.Now()) }}
	t.arrive <- h
	select {
	case err := <-h.done:
		switch {
		case errors.Is(err, ErrTooLarge):
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		case err != nil:
			http.Error(w, fmt.Sprintf("the archive was not kept: %v", err), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case <-r.Context().Done():
	}
}

// limitReader fails with ErrTooLarge past left bytes.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
