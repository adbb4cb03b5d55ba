package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/web/wire"
)

const wrkOutput = `Running 1s test @ http://127.0.0.1:28999/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.93ms    1.63ms  15.85ms   89.74%
    Req/Sec     1.09k   356.18     1.48k    50.00%
  Latency Distribution
     50%  850.00us
     75%    2.06ms
     90%    3.59ms
     99%    1.20s
  1085 requests in 1.00s, 551.34KB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1081.08
Transfer/sec:    549.35KB
`

func TestParseWrk(t *testing.T) {
	rd, err := parseWrk(wrkOutput)
	require.NoError(t, err)
	assert.InDelta(t, 1081.08, float64(rd.ReqPerSec), 1e-9)
	assert.InDelta(t, 0.85, float64(rd.P50Ms), 1e-9)
	assert.InDelta(t, 1200, float64(rd.P99Ms), 1e-9)
	assert.Equal(t, 1085, rd.Requests)
	assert.Equal(t, 7, rd.Non2xx)
	assert.Equal(t, 6, rd.Errors)

	_, err = parseWrk("unable to connect to 127.0.0.1:1 Connection refused")
	assert.Error(t, err)
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name string
		in   []Num
		want Spread
	}{
		{"odd", []Num{3, 1, 2}, Spread{N: 3, Median: 2, Min: 1, Max: 3}},
		{"even", []Num{4, 1, 3, 2}, Spread{N: 4, Median: 2.5, Min: 1, Max: 4}},
		{"missing left out", []Num{missing, 5}, Spread{N: 1, Median: 5, Min: 5, Max: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, spread(tc.in))
		})
	}
	s := spread([]Num{missing})
	assert.Equal(t, 0, s.N)
	assert.False(t, s.Median.ok())
	assert.False(t, ratio(1, missing).ok())
	assert.InDelta(t, 1.5, float64(ratio(3, 2)), 1e-9)
}

func TestNumJSON(t *testing.T) {
	data, err := json.Marshal(map[string]Num{"a": 1.5, "b": missing, "c": Num(math.Inf(1))})
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":1.5,"b":null,"c":null}`, string(data))
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, percentile(d, 50))
	assert.Equal(t, 99*time.Millisecond, percentile(d, 99))
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
}

func TestRangePorts(t *testing.T) {
	raw, err := os.ReadFile("../../bundles/testdata/demo/porter.yaml")
	require.NoError(t, err)
	out, err := rangePorts(raw, 20000)
	require.NoError(t, err)
	got := string(out)
	assert.Contains(t, got, "  - name: port\n    description: Host port of the web service\n    type: integer\n    minimum: 20001\n    maximum: 20999\n")
	assert.Contains(t, got, "  - name: db_port\n    description: Host port of the database\n    type: integer\n    minimum: 21001\n    maximum: 21999\n")
	assert.Equal(t, strings.Count(string(raw), "\n"), strings.Count(got, "\n"), "only the numbers change")

	_, err = rangePorts([]byte("parameters: []\n"), 20000)
	assert.ErrorContains(t, err, "found 0")
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, os.Stderr)
	require.NoError(t, err)
	assert.Equal(t, defaultOptions(), o)
	o, err = parseFlags([]string{"-rounds", "2", "-build-only", "demo,redmine"}, os.Stderr)
	require.NoError(t, err)
	assert.Equal(t, 2, o.Rounds)
	assert.Equal(t, []string{"demo", "redmine"}, o.BuildOnly)
	for _, args := range [][]string{{"-rounds", "0"}, {"-prefix", "Bad"}, {"-compose-v1", "maybe"}, {"-port-base", "40000"}, {"extra"}} {
		_, err := parseFlags(args, os.Stderr)
		assert.Error(t, err, "%v", args)
	}
}

// TestMarkdownSections renders a small result and checks every section
// and target is there.
func TestMarkdownSections(t *testing.T) {
	r := &Results{Settings: defaultOptions(), Date: time.Unix(0, 0).UTC()}
	r.Install = []InstallRound{{
		Install:   [3]Timing{{ReadyMs: 2600, DoneMs: 3000}, {ReadyMs: 2000, DoneMs: 2100}, {ReadyMs: missing, DoneMs: missing, Leftovers: -1}},
		Uninstall: [3]Timing{{ReadyMs: 900, DoneMs: 900}, {ReadyMs: 800, DoneMs: 800}, {ReadyMs: missing, DoneMs: missing, Leftovers: -1}},
		InstallAB: 1.3, InstallCB: missing, UninstallAB: 1.125, UninstallCB: missing,
		RunFloorMs: 500, InstallFloor: 2600.0 / 2500, UninstallFloor: 900.0 / 1300,
	}}
	r.Action = []ActionRound{{EngineMs: 1500, FloorMs: 1000, Ratio: 1.5, EngineRestarted: true, FloorRestarted: true}}
	r.Policed = []PolicedRound{{PolicedMs: 3100, DirectMs: 3000, Ratio: 3100.0 / 3000, UninstallPolicedMs: 800, UninstallDirectMs: 700, PolicedFirst: true}}
	r.Concurrent = Concurrent{Batches: []Batch{{Apps: 2, Succeeded: 2, WallMs: 4000, AppMs: []Num{3000, 4000}}}, Apps: 2, Succeeded: 2, HostPorts: 4, DistinctPorts: 4}
	r.Reads = Reads{Tool: "wrk", Rounds: [][]Read{{{Endpoint: "/getAppInfo?appName=bench-app-1", ReqPerSec: 31000, P50Ms: 1, P99Ms: 2.5},
		{Endpoint: bareEndpoint, ReqPerSec: 50000, P50Ms: 0.5, P99Ms: 1.5}}}}
	r.Memory = Loaded{IdleRSSKiB: 30000, LoadedRSSKiB: 70000}
	r.Builds = []BuildResult{{Bundle: "demo", Ms: []Num{1000}, Layers: 4, UncompressedBytes: 1 << 20, CompressedBytes: 1 << 19, Digest: "sha256:0123"}}
	r.Targets = r.targets()
	md := r.markdown()
	for _, h := range []string{"## Machine", "## Targets", "## Install", "## Uninstall", "## One CNAB action", "## 2 installs, 20 at once",
		"## Reads at 2 apps", "## Memory and start-up", "## Bundle builds", "## Settings", "## The policed socket"} {
		assert.Contains(t, md, h)
	}
	pass := map[string]bool{}
	for _, tg := range r.Targets {
		pass[tg.What] = tg.Pass
	}
	assert.Equal(t, map[string]bool{
		"install → running, StackHub / (`docker run --rm` of the invocation image + compose SDK `up --wait`), median of rounds":                    true,
		"uninstall, StackHub / (`docker run --rm` of the invocation image + compose SDK `down -v`), median of rounds":                              true,
		"install through the policed socket / through Docker's own socket (`docker run --rm` of the invocation image, same run), median of rounds": true,
		"`/getAppInfo?appName=bench-app-1` throughput / a bare net/http handler's (wrk -t2 -c50, same run)":                                        false,
		"`/getAppInfo?appName=bench-app-1` p99 / the bare handler's":                                                                               false,
		"`/getAppInfo?appName=bench-app-1` req/s (median of rounds)":                                                                               true,
		"`/getAppInfo?appName=bench-app-1` p99 (median of rounds)":                                                                                 true,
		"RSS idle":               true,
		"RSS at 2 apps":          false,
		"2 installs, 20 at once": true,
	}, pass)
	assert.Contains(t, md, "| 1 | 2600 | 2000 | — | 1.30 | — |")
	assert.Contains(t, md, "| 1 | 3100 | 3000 | 1.03 | 800 | 700 | policed |")
}

// TestMarkdownEmpty renders what the first checkpoint writes: nothing
// measured yet.
func TestMarkdownEmpty(t *testing.T) {
	dir := t.TempDir()
	r := &Results{Settings: defaultOptions(), Incomplete: "a checkpoint: the run had not finished, its last section done was bundle builds"}
	require.NoError(t, writeResults(dir, r))
	md, err := os.ReadFile(dir + "/RESULTS.md")
	require.NoError(t, err)
	assert.Contains(t, string(md), "**INCOMPLETE: a checkpoint: the run had not finished, its last section done was bundle builds.**")
	data, err := os.ReadFile(dir + "/results.json")
	require.NoError(t, err)
	var back Results
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Len(t, back.Targets, 6, "no read target without reads")
	for _, tg := range back.Targets {
		assert.False(t, tg.Pass, tg.What)
	}
}

func TestPortsVerdict(t *testing.T) {
	for _, tc := range []struct {
		c    Concurrent
		ok   bool
		want string
	}{
		{Concurrent{Succeeded: 2, HostPorts: 4, DistinctPorts: 4}, true, "no collision"},
		{Concurrent{Succeeded: 99, HostPorts: 200, DistinctPorts: 200}, true, "no collision (the ports beyond"},
		{Concurrent{Succeeded: 2, HostPorts: 4, DistinctPorts: 3}, false, "COLLISION (1 ports"},
		{Concurrent{Succeeded: 3, HostPorts: 4, DistinctPorts: 4}, false, "MISSING ports (6 expected)"},
	} {
		if got := tc.c.portsOK(); got != tc.ok {
			t.Errorf("%+v: portsOK %v, want %v", tc.c, got, tc.ok)
		}
		if got := tc.c.portsVerdict(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%+v: %q, want it to start with %q", tc.c, got, tc.want)
		}
	}
}

func TestLoadVerdict(t *testing.T) {
	missed := LoadRun{Scenario: "getAppInfo", Misses: []string{"p99 4 ms > 3 ms"}}
	broken := LoadRun{Scenario: "runs", Problems: []string{"3 non-2xx answers"}}
	for _, tc := range []struct {
		name string
		r    LoadResults
		fail bool
	}{
		{"clean", LoadResults{Settings: LoadOptions{Bars: true}, Runs: []LoadRun{{Scenario: "healthz"}}}, false},
		{"miss, bars enforced", LoadResults{Settings: LoadOptions{Bars: true}, Runs: []LoadRun{missed}}, true},
		{"miss, bars off", LoadResults{Settings: LoadOptions{Bars: false}, Runs: []LoadRun{missed}}, false},
		{"check failed, bars off", LoadResults{Runs: []LoadRun{broken}}, true},
		{"run stopped", LoadResults{Failures: []string{"seed: disk full"}}, true},
	} {
		assert.Equal(t, tc.fail, tc.r.failed(), tc.name)
		md := tc.r.markdown()
		assert.Equal(t, tc.fail, strings.Contains(md, "**Verdict: FAIL**"), tc.name)
	}
}

func TestSettled(t *testing.T) {
	base := wire.Runtime{Goroutines: 20, OpenFDs: 18, UnixSockets: 2, RSSBytes: 30 << 20}
	for _, tc := range []struct {
		after wire.Runtime
		ok    bool
	}{
		{base, true},
		{wire.Runtime{Goroutines: 25, OpenFDs: 17, UnixSockets: 2, RSSBytes: 50 << 20}, true},
		{wire.Runtime{Goroutines: 15, OpenFDs: 18, UnixSockets: 2, RSSBytes: 1 << 20}, true},
		{wire.Runtime{Goroutines: 24, OpenFDs: 20, UnixSockets: 4, RSSBytes: 30 << 20}, true},  // the Docker client's idle pool
		{wire.Runtime{Goroutines: 26, OpenFDs: 18, UnixSockets: 2, RSSBytes: 30 << 20}, false}, // goroutines
		{wire.Runtime{Goroutines: 14, OpenFDs: 18, UnixSockets: 2, RSSBytes: 30 << 20}, true},  // fewer is no leak
		{wire.Runtime{Goroutines: 20, OpenFDs: 19, UnixSockets: 2, RSSBytes: 30 << 20}, false}, // a file
		{wire.Runtime{Goroutines: 20, OpenFDs: 21, UnixSockets: 5, RSSBytes: 30 << 20}, false}, // more than the pool
		{wire.Runtime{Goroutines: 20, OpenFDs: 27, UnixSockets: 2, DatabaseFiles: 9, RSSBytes: 30 << 20}, true},
		{wire.Runtime{Goroutines: 20, OpenFDs: 28, UnixSockets: 2, DatabaseFiles: 10, RSSBytes: 30 << 20}, false}, // more than SQLite's pool
		{wire.Runtime{Goroutines: 20, OpenFDs: 18, UnixSockets: 2, RSSBytes: 50<<20 + 1}, false},
	} {
		assert.Equal(t, tc.ok, settled(base, tc.after), "%+v", tc.after)
	}
}

func TestParseLoadFlags(t *testing.T) {
	o, err := parseLoadFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 32, o.Conns)
	assert.Equal(t, 30*time.Second, o.Duration)
	assert.True(t, o.Bars)
	require.Len(t, o.scenarios(), 8)
	assert.Equal(t, "/getAppInfo?appName=app-042", o.scenarios()[2].Path)
	for _, bad := range [][]string{{"-duration", "10ms"}, {"-conns", "0"}, {"-prefix", "Bad"}, {"-installs", "-1"}, {"extra"}} {
		_, err := parseLoadFlags(bad, io.Discard)
		assert.Error(t, err, "%v", bad)
	}
}

func TestLoadBaselineCompare(t *testing.T) {
	base := loadBaseline{ReqPerSec: map[string]float64{"getAppInfo": 10000}}
	for _, tc := range []struct {
		scenario string
		rps      Num
		warn     bool
	}{
		{"getAppInfo", 8000, false},
		{"getAppInfo", 7999, true},
		{"getAppInfo", 12000, false},
		{"runs", 1, false}, // no figure to compare with
	} {
		run := LoadRun{Scenario: tc.scenario, Read: Read{ReqPerSec: tc.rps}}
		base.compare(&run)
		assert.Equal(t, tc.warn, len(run.Warnings) == 1, "%s at %v: %v", tc.scenario, tc.rps, run.Warnings)
		if tc.warn {
			r := LoadResults{Settings: LoadOptions{Bars: true}, Runs: []LoadRun{run}}
			assert.False(t, r.failed(), "a drop warns, it does not fail")
			assert.Contains(t, r.markdown(), "## Warnings")
		}
	}
	// The committed baseline parses and names every scenario.
	committed, err := readBaseline("testdata/load-baseline.json")
	require.NoError(t, err)
	for _, name := range scenarioNames(defaultLoadOptions()) {
		assert.Positive(t, committed.ReqPerSec[name], name)
	}
}
