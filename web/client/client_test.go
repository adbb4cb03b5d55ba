package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, err := NewClient(url, "shk_secret").ListApps(t.Context())
	require.Error(t, err)
	var unreachable *UnreachableError
	assert.ErrorAs(t, err, &unreachable)
	assert.Contains(t, err.Error(), "cannot reach StackHub at "+url)
	assert.NotContains(t, err.Error(), "shk_secret")
}
func TestClientSeedEnvelope(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/searchServer", r.URL.Path)
		_, _ = w.Write([]byte(`{"code":"1","message":"server status","data":{"cpu":"1.5%","memory":"40.0%","hdd":"12.0%",
			"risk":1,"info":["disk almost full"],"risks":[{"code":"disk","message":"disk almost full","advice":"free some space"}]}}`))
	}))
	defer srv.Close()
	st, err := NewClient(srv.URL, "t").SearchServer(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "1.5%", st.CPU)
	assert.Equal(t, 1, st.Risk)
	assert.Equal(t, []Risk{{Code: "disk", Message: "disk almost full", Advice: "free some space"}}, st.Risks)
}
func TestClientInstallTakesTheJobFromLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		w.Header().Set("Location", "/api/v1/jobs/01job")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"app":{"appName":"blog","app":"demo","port":9001,"ports":{"port":9001},"runId":"01job"},"job":"/api/v1/jobs/01job"}`))
	}))
	defer srv.Close()
	inst, err := NewClient(srv.URL+"/", "t").InstallApp(t.Context(), "demo", "blog")
	require.NoError(t, err)
	assert.Equal(t, "01job", inst.JobID)
	assert.Equal(t, "blog", inst.App.AppName)
	require.NotNil(t, inst.App.Port)
	assert.Equal(t, 9001, *inst.App.Port)
}
func TestReadSSE(t *testing.T) {
	stream := ": a comment\n" +
		"retry: 1000\n" +
		"id: 1\nevent: stage\ndata: {\"a\":1}\n\n" +
		"data: first\r\ndata:second\r\n\r\n" + // CRLF, no space after the colon, id carries over
		"id: 7\n\n" + // no data: not dispatched
		"id: 8\nevent: log\ndata:  two spaces\nunknown: x\n\n" +
		"id: 9\ndata: cut off by the end" // never terminated: discarded
	var got []sseEvent
	err := readSSE(strings.NewReader(stream), func(e sseEvent) error {
		got = append(got, e)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []sseEvent{
		{ID: "1", Event: "stage", Data: `{"a":1}`},
		{ID: "1", Event: "message", Data: "first\nsecond"},
		{ID: "8", Event: "log", Data: " two spaces"},
	}, got)

	stop := fmt.Errorf("stop")
	n := 0
	err = readSSE(strings.NewReader(stream), func(sseEvent) error { n++; return stop })
	assert.Equal(t, stop, err, "fn's error ends the read")
	assert.Equal(t, 1, n)
}

func TestFollowJobReconnectsWithLastEventID(t *testing.T) {
	js := &jobServer{
		frames: []string{
			sseFrame(1, "stage", "queued", ""),
			sseFrame(2, "log", "", `,"line":"hello"`),
			sseFrame(3, "stage", "pulling", `,"image":"web:1","current":5,"total":10`),
			sseFrame(4, "stage", "failed", `,"resource":"Container websoft9-blog-db","message":"a resource failed"`),
			sseFrame(5, "stage", "creating", `,"resource":"Container websoft9-blog"`),
			sseFrame(6, "stage", "done", ""),
		},
		cut:    []int{2, 1}, // drop after 2 events, then after 1, then serve the rest
		status: JobRunning,
		final:  JobSucceeded,
	}
	srv := httptest.NewServer(js.handler(t))
	defer srv.Close()
	c := NewClient(srv.URL, "t")
	c.ReconnectDelay = time.Millisecond
	c.Reconnects = 2 // failures in a row: each reconnect here makes progress
	var seqs []int
	retries := 0
	job, err := c.FollowJob(t.Context(), "j1", func(ev JobEvent) error {
		seqs = append(seqs, ev.Seq)
		return nil
	}, func(int, error) { retries++ })
	require.NoError(t, err)
	assert.Equal(t, JobSucceeded, job.Status)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, seqs, "every event once, in order; a failed resource is not the end")
	assert.Equal(t, []string{"", "2", "3"}, js.lastIDs, "each reconnect resumes after the last event")
	assert.Equal(t, 2, retries)
}
func TestFollowJobEndsWhenTheJobEndedMeanwhile(t *testing.T) {
	// The stream ends without a final event (the server dropped the feed):
	// the job's record tells the outcome.
	js := &jobServer{frames: []string{sseFrame(1, "stage", "queued", "")}, status: JobFailed}
	srv := httptest.NewServer(js.handler(t))
	defer srv.Close()
	c := NewClient(srv.URL, "t")
	c.ReconnectDelay = time.Millisecond
	job, err := c.FollowJob(t.Context(), "j1", func(JobEvent) error { return nil }, nil)
	require.NoError(t, err)
	assert.Equal(t, JobFailed, job.Status)
	assert.Len(t, js.lastIDs, 1)
}
func TestFollowJobGivesUp(t *testing.T) {
	t.Run("server gone", func(t *testing.T) {
		js := &jobServer{frames: []string{sseFrame(1, "stage", "queued", "")}, cut: []int{1}, status: JobRunning}
		srv := httptest.NewServer(js.handler(t))
		c := NewClient(srv.URL, "t")
		c.ReconnectDelay, c.Reconnects = time.Millisecond, 3
		var once sync.Once
		_, err := c.FollowJob(t.Context(), "j1", func(JobEvent) error {
			once.Do(func() { go srv.Close() }) // the server goes away after the first event
			return nil
		}, nil)
		require.Error(t, err)
		var unreachable *UnreachableError
		assert.ErrorAs(t, err, &unreachable, "%v", err)
	})
	t.Run("stream keeps ending while the job runs", func(t *testing.T) {
		js := &jobServer{frames: []string{sseFrame(1, "stage", "queued", "")}, status: JobRunning}
		srv := httptest.NewServer(js.handler(t))
		defer srv.Close()
		c := NewClient(srv.URL, "t")
		c.ReconnectDelay, c.Reconnects = time.Millisecond, 2
		_, err := c.FollowJob(t.Context(), "j1", func(JobEvent) error { return nil }, nil)
		require.ErrorIs(t, err, errStreamEnded)
		assert.Len(t, js.lastIDs, 3, "the first read and two reconnects")
	})
	t.Run("not found is not retried", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not_found","message":"no job j1"}`))
		}))
		defer srv.Close()
		_, err := NewClient(srv.URL, "t").FollowJob(t.Context(), "j1", func(JobEvent) error { return nil }, nil)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.Status)
	})
	t.Run("context", func(t *testing.T) {
		js := &jobServer{frames: []string{sseFrame(1, "stage", "queued", "")}, status: JobRunning}
		srv := httptest.NewServer(js.handler(t))
		defer srv.Close()
		ctx, cancel := context.WithCancel(t.Context())
		c := NewClient(srv.URL, "t")
		c.ReconnectDelay = time.Hour
		_, err := c.FollowJob(ctx, "j1", func(JobEvent) error { cancel(); return nil }, nil)
		require.ErrorIs(t, err, context.Canceled)
	})
}
func TestBackoff(t *testing.T) {
	assert.Equal(t, 500*time.Millisecond, backoff(500*time.Millisecond, 1))
	assert.Equal(t, 2*time.Second, backoff(500*time.Millisecond, 3))
	assert.Equal(t, 5*time.Second, backoff(500*time.Millisecond, 10))
}

// sseFrame is one job event as the server writes it.
func sseFrame(seq int, typ, stage, extra string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"seq\":%d,\"type\":%q,\"stage\":%q%s}\n\n", seq, typ, seq, typ, stage, extra)
}

// jobServer serves one job's events from frames: each connection sends
// the frames after Last-Event-ID, and is dropped (aborted, as when the
// network fails) after cut[n] frames on the n-th connection; without a cut
// it sends the rest and ends. GET answers status, which becomes final once
// the last frame is served (when final is set).
type jobServer struct {
	frames  []string
	cut     []int
	status  string
	final   string
	mu      sync.Mutex
	lastIDs []string
}

func (js *jobServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		js.mu.Lock()
		conn := len(js.lastIDs)
		js.lastIDs = append(js.lastIDs, r.Header.Get("Last-Event-ID"))
		cut := -1
		if conn < len(js.cut) {
			cut = js.cut[conn]
		}
		js.mu.Unlock()
		from := 0
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			_, err := fmt.Sscan(v, &from)
			assert.NoError(t, err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i, f := range js.frames[from:] {
			if i == cut {
				panic(http.ErrAbortHandler) // the connection drops mid-stream
			}
			if from+i == len(js.frames)-1 && js.final != "" {
				js.mu.Lock()
				js.status = js.final
				js.mu.Unlock()
			}
			_, _ = w.Write([]byte(f))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /api/v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		js.mu.Lock()
		defer js.mu.Unlock()
		fmt.Fprintf(w, `{"id":"j1","app":"blog","action":"install","status":%q}`, js.status)
	})
	return mux
}
