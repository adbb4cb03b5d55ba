package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// TestStreamGate: streams are bounded per caller and in all; leaving
// frees the place, once however often it is called.
func TestStreamGate(t *testing.T) {
	g := &streamGate{max: 3, maxWho: 2}
	a1, err := g.enter("alice")
	require.NoError(t, err)
	_, err = g.enter("alice")
	require.NoError(t, err)
	_, err = g.enter("alice")
	assert.Equal(t, orchestrator.ETOOMANY, orchestrator.ErrorCode(err), "alice's own bound")
	_, err = g.enter("bob")
	require.NoError(t, err)
	_, err = g.enter("carol")
	assert.Equal(t, orchestrator.ETOOMANY, orchestrator.ErrorCode(err), "the server's bound")
	a1()
	a1()
	_, err = g.enter("carol")
	require.NoError(t, err, "alice's first stream ended")
	_, err = g.enter("dave")
	assert.Error(t, err, "leaving twice freed one place only")
}

// TestStreamsBoundedOverHTTP: a caller's ninth open event stream is
// refused with 429 while eight are open.
func TestStreamsBoundedOverHTTP(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	h := s.Handler()
	var leaves []func()
	for range MaxStreamsPerCaller {
		leave, err := s.streams.enter("token:")
		require.NoError(t, err)
		leaves = append(leaves, leave)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/jobs/j1/events", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "streams open")
	leaves[0]()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code, "a place came free")
}

// TestLineCutter: lines stay whole up to MaxLogLine, longer ones are cut
// on a character boundary and marked, across writes of any size.
func TestLineCutter(t *testing.T) {
	var l lineCutter
	long := strings.Repeat("日", orchestrator.MaxLogLine) // three bytes each
	in := "short\n" + long + "\nnext\n"
	var out []byte
	for len(in) > 0 { // in pieces, as a stream comes
		n := min(len(in), 1000)
		out = append(out, l.cut([]byte(in[:n]))...)
		in = in[n:]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, "short", lines[0])
	assert.True(t, strings.HasSuffix(lines[1], " [line cut at 16 KiB]"))
	assert.LessOrEqual(t, len(lines[1]), orchestrator.MaxLogLine+len(" [line cut at 16 KiB]"))
	assert.True(t, utf8.ValidString(lines[1]))
	assert.Equal(t, "next", lines[2])
}
