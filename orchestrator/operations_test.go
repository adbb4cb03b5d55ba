package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// jobLog is a JobObserver that hands every JobEnd to the test.
type jobLog chan orchestrator.JobEnd

func (l jobLog) JobEnded(j orchestrator.JobEnd) { l <- j }

// next waits a little for the next JobEnd.
func (l jobLog) next(t *testing.T) orchestrator.JobEnd {
	t.Helper()
	select {
	case j := <-l:
		return j
	case <-time.After(5 * time.Second):
		t.Fatal("the observer was not told of the run's end")
		return orchestrator.JobEnd{}
	}
}

// TestJobObserverToldOfEachRun: a succeeded and a failed install each
// reach the observer once, with action, outcome and duration.
func TestJobObserverToldOfEachRun(t *testing.T) {
	store := newStore()
	ends := make(jobLog, 4)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	fail := false
	e := orchestrator.New(orchestrator.Deps{Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Host: &fakeHost{},
		Runner: fakeRunner{run: func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
			now.Add(int64(3 * time.Second)) // the action takes 3 s
			if fail {
				return orchestrator.RunResult{Status: orchestrator.RunFailed, Message: "exit 1"}, nil
			}
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		}},
		Installations: store, Runs: store, Now: clock, NewID: newIDs(), JobObserver: ends})
	require.NoError(t, e.Recover(t.Context()))

	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo"})
	require.NoError(t, err)
	<-store.finished
	got := ends.next(t)
	assert.Equal(t, orchestrator.JobEnd{Action: orchestrator.ActionInstall, Outcome: orchestrator.RunSucceeded, Duration: 3 * time.Second}, got)

	fail = true
	_, err = e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "other"})
	require.NoError(t, err)
	<-store.finished
	got = ends.next(t)
	assert.Equal(t, orchestrator.ActionInstall, got.Action)
	assert.Equal(t, orchestrator.RunFailed, got.Outcome)
	assert.False(t, got.Recovered)
	select {
	case extra := <-ends:
		t.Fatalf("one end per run, got another: %+v", extra)
	default:
	}
}

func newIDs() orchestrator.IDGen {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("id%d", n.Add(1)) }
}

func TestPortPool(t *testing.T) {
	store := newStore()
	e := newEngine(&fakeHost{}, store, nil)
	pool, err := e.PortPool(t.Context())
	require.NoError(t, err)
	// demo: port 9001-9999 and db_port 3307-3399.
	assert.Equal(t, orchestrator.PortPool{Reserved: 0, Size: 999 + 93}, pool)
	store.insts["a"] = orchestrator.Installation{Name: "a", Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}}
	store.insts["b"] = orchestrator.Installation{Name: "b", Ports: []orchestrator.PortBinding{{Param: "port", Port: 9002}}}
	pool, err = e.PortPool(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, pool.Reserved)
	// The same ports on two Swarm nodes are held twice.
	store.insts["c"] = orchestrator.Installation{Name: "c", Node: orchestrator.Placement{NodeID: "n2"},
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}}
	pool, err = e.PortPool(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 5, pool.Reserved)
}

// countingHost counts Docker pings.
type countingHost struct {
	*fakeHost
	pings atomic.Int32
}

func (h *countingHost) Ping(ctx context.Context) error {
	h.pings.Add(1)
	return h.fakeHost.Ping(ctx)
}

// pingStore is a store that answers (or not) a readiness ping.
type pingStore struct {
	*fakeStore
	err error
}

func (s pingStore) Ping(context.Context) error { return s.err }

// brokenCatalog answers nothing.
type brokenCatalog struct{ fakeCatalog }

func (brokenCatalog) Apps(context.Context) ([]orchestrator.App, error) {
	return nil, orchestrator.WrapError(orchestrator.EUNAVAILABLE, errors.New("open /x: no such file"), "catalog directory gone")
}

// TestReadinessNamesEachFailedCheck: each check fails on its own, with
// its reason, and the rest still pass.
func TestReadinessNamesEachFailedCheck(t *testing.T) {
	tests := []struct {
		name    string
		store   error
		docker  error
		catalog orchestrator.Catalog
		recover bool
		failed  string
		reason  string
	}{
		{"ready", nil, nil, fakeCatalog{}, true, "", ""},
		{"store", orchestrator.Errorf(orchestrator.EUNAVAILABLE, "database is closed"), nil, fakeCatalog{}, true, orchestrator.CheckStore, "database is closed"},
		{"docker", nil, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "Docker is not answering"), fakeCatalog{}, true, orchestrator.CheckDocker, "Docker is not answering"},
		{"catalog", nil, nil, brokenCatalog{}, true, orchestrator.CheckCatalog, "catalog directory gone"},
		{"recovery", nil, nil, fakeCatalog{}, false, orchestrator.CheckRecovery, "start-up recovery is not done yet (reconciling)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := pingStore{fakeStore: newStore(), err: tc.store}
			host := &countingHost{fakeHost: &fakeHost{}}
			e := orchestrator.New(orchestrator.Deps{Catalog: tc.catalog, Builder: fakeBuilder{}, Host: host,
				Installations: store, Runs: store, Now: time.Now, NewID: newIDs()})
			if tc.recover {
				require.NoError(t, e.Recover(t.Context()))
			}
			host.ping = tc.docker
			r := e.Readiness(t.Context())
			require.Len(t, r, 4)
			assert.Equal(t, []string{"store", "docker", "catalog", "recovery"}, []string{r[0].Name, r[1].Name, r[2].Name, r[3].Name})
			assert.Equal(t, tc.failed == "", r.Ready())
			for _, c := range r {
				if c.Name == tc.failed {
					assert.False(t, c.OK, c.Name)
					assert.Equal(t, tc.reason, c.Reason)
				} else {
					assert.True(t, c.OK, "%s: %s", c.Name, c.Reason)
					assert.Empty(t, c.Reason)
				}
			}
		})
	}
}

// TestReadinessCachesDockerPing: probes within DockerPingTTL share one
// ping; a later one pings again and sees Docker's new answer.
func TestReadinessCachesDockerPing(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	host := &countingHost{fakeHost: &fakeHost{}}
	store := newStore()
	e := orchestrator.New(orchestrator.Deps{Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Host: host,
		Installations: store, Runs: store, Now: func() time.Time { return time.Unix(0, now.Load()) }, NewID: newIDs()})
	require.NoError(t, e.Recover(t.Context()))
	base := host.pings.Load()
	for range 50 {
		require.True(t, e.Readiness(t.Context()).Ready())
	}
	assert.Equal(t, base+1, host.pings.Load(), "one ping for 50 probes")
	host.ping = orchestrator.Errorf(orchestrator.EUNAVAILABLE, "Docker is not answering")
	assert.True(t, e.Readiness(t.Context()).Ready(), "the cached answer stands within the TTL")
	now.Add(int64(orchestrator.DockerPingTTL))
	r := e.Readiness(t.Context())
	assert.False(t, r.Ready())
	assert.Equal(t, base+2, host.pings.Load())
	assert.Equal(t, "Docker is not answering", r[1].Reason)
}
