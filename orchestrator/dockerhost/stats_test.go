package dockerhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

type fakeVersion struct{ err error }

func (f fakeVersion) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Version: "20.10.24"}, f.err
}

func TestSamplerReadsThisHost(t *testing.T) {
	s := NewSampler(t.TempDir(), fakeVersion{})
	_, ok := s.Latest()
	assert.False(t, ok)
	_, err := s.DockerVersion(t.Context())
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "before the first sample")

	s.Sample(t.Context())
	got, ok := s.Latest()
	require.True(t, ok)
	assert.NotZero(t, got.MemTotal, "gopsutil read /proc/meminfo")
	assert.NotZero(t, got.DiskTotal, "and the data dir's filesystem")
	assert.Positive(t, got.Uptime)
	v, err := s.DockerVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "20.10.24", v)

	// History keeps only Keep of samples.
	s.Keep = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	s.Sample(t.Context())
	assert.Len(t, s.History(), 1)

	s.Docker = fakeVersion{err: errors.New("connection refused")}
	s.Sample(t.Context())
	_, err = s.DockerVersion(t.Context())
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
}
