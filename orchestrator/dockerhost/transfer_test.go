package dockerhost

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startTransfers serves transfers on loopback with clock now.
func startTransfers(t *testing.T, now func() time.Time) *Transfers {
	t.Helper()
	x := &Transfers{Addr: "127.0.0.1:0", TTL: time.Minute, Now: now}
	require.NoError(t, x.Start())
	t.Cleanup(func() { x.Close() })
	return x
}

func send(t *testing.T, method, url, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestTransferUpload: the helper's PUT with its token hands the archive
// to the side waiting for it, once.
func TestTransferUpload(t *testing.T) {
	x := startTransfers(t, nil)
	up, err := x.NewUpload(0)
	require.NoError(t, err)
	var got string
	var wg sync.WaitGroup
	wg.Go(func() {
		rd, err := up.Wait(t.Context(), nil)
		if !assert.NoError(t, err) {
			return
		}
		b, err := io.ReadAll(rd)
		assert.NoError(t, err)
		got = string(b)
		rd.Close()
	})
	code, msg := send(t, http.MethodPut, up.URL, up.Token, strings.NewReader("the archive"))
	wg.Wait()
	assert.Equal(t, http.StatusNoContent, code, msg)
	assert.Equal(t, "the archive", got)
	// Used: the same token is refused.
	code, msg = send(t, http.MethodPut, up.URL, up.Token, strings.NewReader("again"))
	assert.Equal(t, http.StatusUnauthorized, code, msg)
}

// TestTransferRefusals: a wrong, missing, expired or reused token, the
// wrong method, another path: refused with the reason, nothing handed on.
func TestTransferRefusals(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	x := startTransfers(t, now)

	up, err := x.NewUpload(0)
	require.NoError(t, err)
	code, msg := send(t, http.MethodPut, up.URL, strings.Repeat("0", len(up.Token)), strings.NewReader("x"))
	assert.Equal(t, http.StatusUnauthorized, code, "wrong token: %s", msg)
	code, _ = send(t, http.MethodPut, up.URL, "", strings.NewReader("x"))
	assert.Equal(t, http.StatusUnauthorized, code, "no token")
	code, _ = send(t, http.MethodPut, up.URL+"x", up.Token, strings.NewReader("x"))
	assert.Equal(t, http.StatusUnauthorized, code, "another transfer's ID")
	code, _ = send(t, http.MethodGet, up.URL, up.Token, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, code, "an upload is not downloaded")
	code, _ = send(t, http.MethodDelete, up.URL, up.Token, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	code, _ = send(t, http.MethodGet, strings.Replace(up.URL, "/v1/transfers/", "/v1/other/", 1), up.Token, nil)
	assert.Equal(t, http.StatusNotFound, code)
	select {
	case <-up.t.arrive:
		t.Fatal("a refused request handed something on")
	default:
	}

	// Expired.
	old, err := x.NewUpload(0)
	require.NoError(t, err)
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	code, msg = send(t, http.MethodPut, old.URL, old.Token, strings.NewReader("x"))
	assert.Equal(t, http.StatusGone, code, msg)
	assert.Contains(t, msg, "expired")

	// Reused: a download's second GET.
	down, err := x.NewDownload(strings.NewReader("archive"))
	require.NoError(t, err)
	code, body := send(t, http.MethodGet, down.URL, down.Token, nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "archive", body)
	assert.NoError(t, <-down.Sent())
	code, _ = send(t, http.MethodGet, down.URL, down.Token, nil)
	assert.Equal(t, http.StatusUnauthorized, code, "used: forgotten")

	// A cancelled transfer's token is refused.
	c, err := x.NewUpload(0)
	require.NoError(t, err)
	c.Cancel()
	code, _ = send(t, http.MethodPut, c.URL, c.Token, strings.NewReader("x"))
	assert.Equal(t, http.StatusUnauthorized, code)
}

// TestTransferUsedOnce: of two requests with the right token at once,
// one is taken and the other refused as used.
func TestTransferUsedOnce(t *testing.T) {
	x := startTransfers(t, nil)
	up, err := x.NewUpload(0)
	require.NoError(t, err)
	id := up.t.id
	t1, code1, _ := x.claim(id, up.Token, true)
	require.NotNil(t, t1)
	assert.Zero(t, code1)
	t2, code2, why := x.claim(id, up.Token, true)
	assert.Nil(t, t2)
	assert.Equal(t, http.StatusUnauthorized, code2, why)
}

// TestTransferTooLarge: an archive past the transfer's limit fails its
// reader with ErrTooLarge and the helper's request with 413, whether the
// length is declared or not.
func TestTransferTooLarge(t *testing.T) {
	x := startTransfers(t, nil)
	for _, declared := range []bool{true, false} {
		up, err := x.NewUpload(10)
		require.NoError(t, err)
		var readErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			rd, err := up.Wait(t.Context(), nil)
			if !assert.NoError(t, err) {
				return
			}
			_, readErr = io.ReadAll(rd)
			rd.Close()
		})
		var body io.Reader = strings.NewReader(strings.Repeat("x", 100))
		if !declared {
			body = io.MultiReader(body) // no length: chunked
		}
		code, msg := send(t, http.MethodPut, up.URL, up.Token, body)
		wg.Wait()
		assert.Equal(t, http.StatusRequestEntityTooLarge, code, "declared %v: %s", declared, msg)
		assert.True(t, errors.Is(readErr, ErrTooLarge), "declared %v: %v", declared, readErr)
	}
}

// TestTransferWaitEnds: a wait ends when the helper's task failed, the
// context ends, or the transfer expires; its token is then refused.
func TestTransferWaitEnds(t *testing.T) {
	x := startTransfers(t, nil)
	up, err := x.NewUpload(0)
	require.NoError(t, err)
	failed := make(chan error, 1)
	failed <- errors.New("the task failed")
	_, err = up.Wait(t.Context(), failed)
	assert.EqualError(t, err, "the task failed")
	code, _ := send(t, http.MethodPut, up.URL, up.Token, strings.NewReader("x"))
	assert.Equal(t, http.StatusUnauthorized, code)

	up, err = x.NewUpload(0)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = up.Wait(ctx, nil)
	assert.ErrorIs(t, err, context.Canceled)

	x.TTL = 50 * time.Millisecond
	up, err = x.NewUpload(0)
	require.NoError(t, err)
	_, err = up.Wait(t.Context(), nil)
	assert.ErrorContains(t, err, "did not connect")
}

// TestTransferStalls: a helper that stops sending (its node cut off) fails
// the read after Idle; Abort fails a waiting read at once.
func TestTransferStalls(t *testing.T) {
	x := startTransfers(t, nil)
	x.Idle = 200 * time.Millisecond
	for _, abort := range []bool{false, true} {
		up, err := x.NewUpload(0)
		require.NoError(t, err)
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte("some"))
			<-t.Context().Done() // never more
			pw.Close()
		}()
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, up.URL, pr)
			req.Header.Set("Authorization", "Bearer "+up.Token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		rd, err := up.Wait(t.Context(), nil)
		require.NoError(t, err)
		if abort {
			x.Idle = time.Hour // only Abort can end it
			time.AfterFunc(100*time.Millisecond, func() { Abort(rd) })
		}
		began := time.Now()
		_, err = io.ReadAll(rd)
		rd.Close()
		assert.Error(t, err, "abort %v", abort)
		assert.Less(t, time.Since(began), 5*time.Second, "abort %v", abort)
	}
}
