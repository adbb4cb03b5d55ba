package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
	"github.com/websoft9/stackhub/web/wire"
)

// LoadOptions are the settings of `stackhub-bench load` (make load): the
// loopback load of reliability.md §3.10.
type LoadOptions struct {
	// Out is the directory LOAD.md and load.json are written to.
	Out     string
	Bin     string
	Bundles string
	// Duration is each measured wrk run, after a Warmup run not recorded.
	Duration time.Duration
	Warmup   time.Duration
	// Conns are wrk's connections (one thread).
	Conns int
	// Apps installation records are seeded through the store, with no
	// containers behind them; RunsApp gets Runs more runs.
	Apps    int
	Runs    int
	RunsApp string
	// Installs real installs of the demo run during the last scenario;
	// with Prebuild, one install and uninstall before it has the server
	// build the demo's invocation image (once per server) unmeasured.
	Installs int
	Prebuild bool
	// Settle bounds the wait for goroutines, descriptors and RSS to come
	// back to their baseline after each scenario.
	Settle time.Duration
	// Baseline is the committed figures a drop is measured against;
	// WriteBaseline replaces it with this run's.
	Baseline      string
	WriteBaseline bool `json:"-"`
	// Bars makes a missed bar fail the run (off for the smoke test, which
	// checks the harness, not the speed).
	Bars bool
	// CatalogApps pads the catalog with copies of the demo, under other
	// names, to this many entries (0: the test catalog as it is).
	CatalogApps int
	// Only runs these scenarios (all when empty).
	Only     []string
	Prefix   string
	PortBase int
	Keep     bool
}

func defaultLoadOptions() LoadOptions {
	return LoadOptions{Out: "bench", Bin: "bin/stackhub", Bundles: "bundles", Duration: 30 * time.Second, Warmup: 5 * time.Second,
		Conns: 32, Apps: 100, Runs: 60, RunsApp: "app-042", Installs: 10, Prebuild: true, Settle: 5 * time.Second,
		Baseline: "cmd/stackhub-bench/testdata/load-baseline.json", Bars: true, Prefix: "load", PortBase: 24000}
}

func parseLoadFlags(args []string, stderr io.Writer) (LoadOptions, error) {
	o := defaultLoadOptions()
	fs := flag.NewFlagSet("stackhub-bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", o.Out, "directory for LOAD.md and load.json")
	fs.StringVar(&o.Bin, "bin", o.Bin, "the stackhub binary (its directory holds the runtimes)")
	fs.StringVar(&o.Bundles, "bundles", o.Bundles, "catalog root (the demo is in testdata/)")
	fs.IntVar(&o.CatalogApps, "catalog-apps", o.CatalogApps, "pad the catalog with copies of the demo to this many entries (the catalog scenarios at 1,000 entries)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each measured wrk run")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unrecorded wrk run before each scenario")
	fs.IntVar(&o.Conns, "conns", o.Conns, "wrk connections (one thread)")
	fs.IntVar(&o.Apps, "apps", o.Apps, "installation records seeded (app-000 …), no containers")
	fs.IntVar(&o.Runs, "runs", o.Runs, "extra runs seeded for -runs-app")
	fs.StringVar(&o.RunsApp, "runs-app", o.RunsApp, "the seeded app read by getAppInfo and the runs scenario")
	fs.IntVar(&o.Installs, "installs", o.Installs, "real installs of the demo during the last scenario")
	fs.BoolVar(&o.Prebuild, "prebuild", o.Prebuild, "install and uninstall the demo once before the last scenario, so that its invocation image is built unmeasured")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "how long goroutines, descriptors and RSS may take to return to baseline")
	fs.StringVar(&o.Baseline, "baseline", o.Baseline, "committed figures: a drop of more than 20 % prints a warning")
	fs.BoolVar(&o.WriteBaseline, "write-baseline", false, "write this run's figures to -baseline (recalibration)")
	fs.BoolVar(&o.Bars, "bars", o.Bars, "a missed bar fails the run")
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(o), ", "))
	fs.StringVar(&o.Prefix, "prefix", o.Prefix, "prefix of the live installs' names")
	fs.IntVar(&o.PortBase, "port-base", o.PortBase, "the demo's ports are allocated from base+1 (web) and base+1001 (db)")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the temporary directory (server log and data)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
		for _, name := range o.Only {
			if !slices.Contains(scenarioNames(o), name) {
				return o, fmt.Errorf("-only: no scenario %q (have %s)", name, strings.Join(scenarioNames(o), ", "))
			}
		}
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.Duration < time.Second || o.Conns < 1 || o.Apps < 1 || o.Installs < 0 || o.Runs < 0:
		return o, errors.New("duration must be at least 1s, conns and apps at least 1, installs and runs not negative")
	}
	return o, checkPrefixAndPorts(o.Prefix, o.PortBase)
}

// scenario is one load of §3.10 and its bars (0: no bar).
type scenario struct {
	Name     string
	Path     string
	MinRPS   float64
	MaxP99Ms float64
	// Installs runs the live installs during the measured run.
	Installs bool
}

func scenarioNames(o LoadOptions) []string {
	var names []string
	for _, sc := range o.allScenarios() {
		names = append(names, sc.Name)
	}
	return names
}

// scenarios are the scenarios to run, in order.
func (o LoadOptions) scenarios() []scenario {
	var out []scenario
	for _, sc := range o.allScenarios() {
		if len(o.Only) == 0 || slices.Contains(o.Only, sc.Name) {
			out = append(out, sc)
		}
	}
	return out
}

func (o LoadOptions) allScenarios() []scenario {
	return []scenario{
		{Name: "healthz", Path: "/healthz", MinRPS: 10000, MaxP99Ms: 10},
		{Name: "getAllAppInfo", Path: "/getAllAppInfo", MinRPS: 2000, MaxP99Ms: 50},
		{Name: "getAppInfo", Path: "/getAppInfo?appName=" + o.RunsApp, MinRPS: 4000, MaxP99Ms: 25},
		{Name: "runs", Path: "/api/v1/apps/" + o.RunsApp + "/runs?limit=50", MinRPS: 1000, MaxP99Ms: 75},
		{Name: "searchServer", Path: "/searchServer", MinRPS: 3000, MaxP99Ms: 30},
		{Name: "appList", Path: "/appList", MaxP99Ms: 100},
		{Name: "catalog", Path: "/api/v1/catalog", MaxP99Ms: 100},
		{Name: "getAllAppInfo during installs", Path: "/getAllAppInfo", MaxP99Ms: 200, Installs: true},
	}
}

// LoadRun is one scenario's figures and checks.
type LoadRun struct {
	Scenario string `json:"scenario"`
	// Read's Endpoint is the scenario's path.
	Read
	MinRPS   float64 `json:"minRPS,omitempty"`
	MaxP99Ms float64 `json:"maxP99Ms,omitempty"`
	// Before is the server's runtime before the measured run, After once
	// it settled (or when Settle ran out); SettledMs how long that took.
	Before    wire.Runtime `json:"before"`
	After     wire.Runtime `json:"after"`
	SettledMs Num          `json:"settledMs"`
	// Installs live installs were asked for; Installed succeeded, and
	// InstallWallMs is the time from the first request to the last job's end.
	Installs      int `json:"installs,omitempty"`
	Installed     int `json:"installed,omitempty"`
	InstallWallMs Num `json:"installWallMs,omitempty"`
	// BaselineRPS is the committed figure, when there is one.
	BaselineRPS Num `json:"baselineRPS,omitempty"`
	// Misses are the bars missed; Problems the checks that failed
	// (non-2xx, errors, resources, installs); Warnings the drops.
	Misses   []string `json:"misses,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// LoadResults is load.json.
type LoadResults struct {
	Date     time.Time   `json:"date"`
	Machine  Machine     `json:"machine"`
	Settings LoadOptions `json:"settings"`
	Tool     string      `json:"tool"`
	Runs     []LoadRun   `json:"runs"`
	Failures []string    `json:"failures,omitempty"`
}

// failed tells whether the run fails: a check failed, or a bar was
// missed while bars are enforced.
func (r *LoadResults) failed() bool {
	if len(r.Failures) > 0 {
		return true
	}
	for _, run := range r.Runs {
		if len(run.Problems) > 0 || (r.Settings.Bars && len(run.Misses) > 0) {
			return true
		}
	}
	return false
}

// loadBaseline is the committed testdata/load-baseline.json.
type loadBaseline struct {
	Date      time.Time          `json:"date"`
	Machine   string             `json:"machine"`
	ReqPerSec map[string]float64 `json:"reqPerSec"`
}

// runLoad is `stackhub-bench load`; it returns the exit code.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseLoadFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "stackhub-bench load:", err)
		return 2
	}
	bo := defaultOptions()
	bo.Out, bo.Bin, bo.Bundles, bo.Prefix, bo.PortBase, bo.Keep = o.Out, o.Bin, o.Bundles, o.Prefix, o.PortBase, o.Keep
	bo.WrkThreads, bo.ComposeV1 = 1, "off"
	b, err := newBench(bo, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stackhub-bench load:", err)
		return 1
	}
	res, runErr := b.runScenarios(ctx, o)
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := b.close(cleanCtx, runErr != nil); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cleanup: %w", err))
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "stackhub-bench load:", runErr)
		if res == nil {
			return 1
		}
		res.Failures = append(res.Failures, runErr.Error())
	}
	if err := writeLoad(o.Out, res); err != nil {
		fmt.Fprintln(stderr, "stackhub-bench load:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.Out, "LOAD.md"), filepath.Join(o.Out, "load.json"))
	if o.WriteBaseline && runErr == nil {
		if err := writeBaseline(o.Baseline, res); err != nil {
			fmt.Fprintln(stderr, "stackhub-bench load:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote the baseline %s\n", o.Baseline)
	}
	if res.failed() {
		fmt.Fprintln(stderr, "stackhub-bench load: FAILED (see LOAD.md)")
		return 1
	}
	return 0
}

// runScenarios seeds the store, serves it with GOMAXPROCS=1 and runs
// every scenario.
func (b *bench) runScenarios(ctx context.Context, o LoadOptions) (*LoadResults, error) {
	res := &LoadResults{Date: time.Now().UTC(), Settings: o, Tool: "wrk"}
	if b.wrk == "" {
		res.Tool = "go"
	}
	var err error
	if res.Machine, err = b.machine(ctx); err != nil {
		return nil, err
	}
	res.Machine.LoadBefore = loadavg()
	if err := b.sweep(ctx); err != nil {
		return nil, err
	}
	if b.catalog, err = b.copyCatalog(); err != nil {
		return nil, err
	}
	if err := padCatalog(b.catalog, o.CatalogApps); err != nil {
		return nil, err
	}
	base, err := readBaseline(o.Baseline)
	if err != nil {
		return nil, err
	}
	s, err := b.prepareServer(ctx, "load")
	if err != nil {
		return nil, err
	}
	if err := seed(ctx, filepath.Join(s.dataDir, "stackhub.db"), o); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	s.args, s.env = []string{"--debug-runtime"}, []string{"GOMAXPROCS=1"}
	if err := b.launch(ctx, s); err != nil {
		return nil, err
	}
	b.srv = s
	if err := b.waitReady(ctx); err != nil {
		return res, err
	}
	for _, sc := range o.scenarios() {
		run, err := b.loadScenario(ctx, o, sc)
		if err != nil {
			return res, fmt.Errorf("%s: %w", sc.Name, err)
		}
		base.compare(&run)
		b.logf("load %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms; goroutines %d → %d, fds %d → %d, RSS %s → %s; misses %q problems %q warnings %q",
			sc.Name, run.ReqPerSec, run.P50Ms, run.P99Ms, run.Before.Goroutines, run.After.Goroutines, run.Before.OpenFDs, run.After.OpenFDs,
			mib(run.Before.RSSBytes), mib(run.After.RSSBytes), run.Misses, run.Problems, run.Warnings)
		res.Runs = append(res.Runs, run)
	}
	res.Machine.LoadAfter = loadavg()
	return res, nil
}

// seed writes o.Apps running installations of the demo (ports outside the
// demo's ranges, no containers) and o.Runs finished runs of o.RunsApp,
// through the store package, before the server opens the file.
func seed(ctx context.Context, path string, o LoadOptions) error {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	t0 := time.Now().Add(-time.Hour)
	for i := range o.Apps {
		name := fmt.Sprintf("app-%03d", i)
		inst := orchestrator.Installation{Name: name, App: "demo", Version: "0.1.0", State: orchestrator.StateInstalling,
			Ports:      []orchestrator.PortBinding{{Param: "port", Port: 40000 + 2*i}, {Param: "db_port", Port: 40001 + 2*i}},
			Containers: []string{"websoft9-" + name, "websoft9-" + name + "-db"}, Created: t0, Updated: t0}
		run := orchestrator.Run{ID: fmt.Sprintf("seed-%03d", i), Installation: name, Action: "install", Revision: "seed", Version: "0.1.0",
			Status: orchestrator.RunRunning, Parameters: map[string]any{"port": 40000 + 2*i, "db_port": 40001 + 2*i}, Created: t0}
		if err := db.BeginInstall(ctx, inst, run); err != nil {
			return err
		}
		run.Status, run.Finished = orchestrator.RunSucceeded, t0.Add(5*time.Second)
		run.Outputs = map[string]string{"containerName": "websoft9-" + name, "port": fmt.Sprint(40000 + 2*i)}
		if err := db.FinishRun(ctx, run, orchestrator.StateRunning, "", false); err != nil {
			return err
		}
	}
	for i := range o.Runs {
		at := t0.Add(time.Duration(i+1) * time.Second)
		run := orchestrator.Run{ID: fmt.Sprintf("seed-run-%03d", i), Installation: o.RunsApp, Action: "restart", Revision: "seed",
			Status: orchestrator.RunRunning, Parameters: map[string]any{}, Created: at}
		if err := db.BeginRun(ctx, run, orchestrator.StateRunning); err != nil {
			return err
		}
		run.Status, run.Finished = orchestrator.RunSucceeded, at.Add(500*time.Millisecond)
		if err := db.FinishRun(ctx, run, orchestrator.StateRunning, "", false); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits for /readyz: start-up recovery is done, installs are
// taken.
func (b *bench) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		status, _, err := b.srv.do(ctx, http.MethodGet, "/readyz", nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz did not answer 200 within a minute (%d, %v)", status, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// atRest reads the server's runtime once it is at rest, for a baseline:
// wrk's connections closing and the tail of a run (an uninstall's goroutines
// end a few seconds after it answered) have ended when the goroutine count
// holds for three reads 200 ms apart; after limit, the last read is taken.
func (b *bench) atRest(ctx context.Context, limit time.Duration) (wire.Runtime, error) {
	start := time.Now()
	var last wire.Runtime
	same := 0
	for {
		rt, err := b.runtimeStats(ctx)
		if err != nil {
			return rt, err
		}
		if rt.Goroutines == last.Goroutines {
			same++
		} else {
			same = 0
		}
		last = rt
		if same >= 2 || time.Since(start) > limit {
			return last, nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return last, err
		}
	}
}

// goroutines reads /api/v1/debug/goroutines (stacks, grouped).
func (b *bench) goroutines(ctx context.Context) ([]byte, error) {
	status, data, err := b.srv.do(ctx, http.MethodGet, "/api/v1/debug/goroutines", nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("debug/goroutines: %d", status)
	}
	return data, err
}

// runtimeStats reads /api/v1/debug/runtime on a connection of its own
// (closed after), so that the reading itself holds nothing afterwards.
func (b *bench) runtimeStats(ctx context.Context) (wire.Runtime, error) {
	var rt wire.Runtime
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.url+"/api/v1/debug/runtime", nil)
	if err != nil {
		return rt, err
	}
	req.Header.Set("Authorization", "Bearer "+b.srv.token)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return rt, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return rt, err
	}
	if resp.StatusCode != http.StatusOK {
		return rt, fmt.Errorf("debug/runtime: %d %s", resp.StatusCode, data)
	}
	return rt, json.Unmarshal(data, &rt)
}

// dockerIdlePool is how many idle connections the server's Docker client
// keeps per host (net/http's default; moby's client closes them after 30 s
// idle): unix sockets above the baseline up to this count are that pool,
// not a leak.
const dockerIdlePool = 2

// maxDatabaseFiles bounds the descriptors SQLite's pool holds: 4
// connections (orchestrator/sqlite keeps them open once opened), each on
// the database and its WAL, and the shared-memory index.
const maxDatabaseFiles = 4*2 + 1

// settled tells whether after is back to before: at most 5 goroutines
// more (fewer is no leak), no more open descriptors beside the two bounded
// pools (the Docker client's idle connections, SQLite's connections), RSS
// grown by at most 20 MiB.
func settled(before, after wire.Runtime) bool {
	others := func(r wire.Runtime) int { return r.OpenFDs - r.UnixSockets - r.DatabaseFiles }
	return after.Goroutines <= before.Goroutines+5 && others(after) <= others(before) &&
		after.UnixSockets <= before.UnixSockets+dockerIdlePool && after.DatabaseFiles <= max(before.DatabaseFiles, maxDatabaseFiles) &&
		after.RSSBytes-before.RSSBytes <= 20<<20
}

// loadScenario warms up, reads the baseline, runs wrk (and the installs),
// then waits for the runtime to settle and checks the bars.
func (b *bench) loadScenario(ctx context.Context, o LoadOptions, sc scenario) (LoadRun, error) {
	run := LoadRun{Scenario: sc.Name, Read: Read{Endpoint: sc.Path}, MinRPS: sc.MinRPS, MaxP99Ms: sc.MaxP99Ms}
	url := b.srv.url + sc.Path
	if sc.Installs && o.Installs > 0 && o.Prebuild {
		if err := b.prebuild(ctx, o); err != nil {
			return run, err
		}
	}
	if o.Warmup > 0 {
		if _, err := b.load(ctx, url, o.Conns, o.Warmup); err != nil {
			return run, fmt.Errorf("warm-up: %w", err)
		}
	}
	var err error
	if run.Before, err = b.atRest(ctx, o.Settle); err != nil {
		return run, err
	}
	var live liveInstalls
	if sc.Installs {
		live.start(ctx, b, o)
	}
	rd, err := b.load(ctx, url, o.Conns, o.Duration)
	if sc.Installs {
		live.finish(ctx, b, &run)
	}
	if err != nil {
		return run, err
	}
	rd.Endpoint = sc.Path
	run.Read = rd
	start := time.Now()
	for {
		if run.After, err = b.runtimeStats(ctx); err != nil {
			return run, err
		}
		if settled(run.Before, run.After) {
			run.SettledMs = ms(time.Since(start))
			break
		}
		if time.Since(start) > o.Settle {
			run.SettledMs = missing
			run.Problems = append(run.Problems, fmt.Sprintf("not back to baseline %s after the load: goroutines %d → %d (≤ +5), open files %d → %d of which unix sockets %d → %d (≤ +%d) and database files %d → %d (≤ %d), the others no more; RSS %s → %s (≤ +20 MiB)",
				o.Settle, run.Before.Goroutines, run.After.Goroutines, run.Before.OpenFDs, run.After.OpenFDs, run.Before.UnixSockets, run.After.UnixSockets,
				dockerIdlePool, run.Before.DatabaseFiles, run.After.DatabaseFiles, maxDatabaseFiles, mib(run.Before.RSSBytes), mib(run.After.RSSBytes)))
			if dump, err := b.goroutines(ctx); err == nil {
				name := "goroutines-" + strings.ReplaceAll(sc.Name, " ", "-") + ".txt"
				if err := os.WriteFile(filepath.Join(o.Out, name), dump, 0o644); err == nil {
					run.Problems = append(run.Problems, "the server's goroutines then are in "+name)
				}
			}
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return run, err
		}
	}
	if rd.Non2xx > 0 || rd.Errors > 0 {
		run.Problems = append(run.Problems, fmt.Sprintf("%d non-2xx answers and %d socket errors (want 0)", rd.Non2xx, rd.Errors))
	}
	if sc.MinRPS > 0 && float64(rd.ReqPerSec) < sc.MinRPS {
		run.Misses = append(run.Misses, fmt.Sprintf("%.0f req/s < %.0f", float64(rd.ReqPerSec), sc.MinRPS))
	}
	if sc.MaxP99Ms > 0 && float64(rd.P99Ms) > sc.MaxP99Ms {
		run.Misses = append(run.Misses, fmt.Sprintf("p99 %.2f ms > %.0f ms", float64(rd.P99Ms), sc.MaxP99Ms))
	}
	return run, nil
}

// prebuild installs and uninstalls the demo once, so that the server has
// built and loaded its invocation image (once per bundle and server) before
// the measured installs.
func (b *bench) prebuild(ctx context.Context, o LoadOptions) error {
	name := o.Prefix + "-prebuild"
	_, job, err := b.srv.install(ctx, "demo", name)
	if err != nil {
		return fmt.Errorf("prebuild: %w", err)
	}
	_, err = b.srv.waitJob(ctx, job, 250*time.Millisecond)
	return errors.Join(err, b.srv.uninstall(ctx, name))
}

// liveInstalls are the real installs made while wrk runs, removed after.
type liveInstalls struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	started time.Time
	ended   time.Time
	ok      int
	errs    []string
	names   []string
}

// start requests o.Installs installs of the demo, one second into the
// measured run, and follows each job in the background.
func (l *liveInstalls) start(ctx context.Context, b *bench, o LoadOptions) {
	for i := 1; i <= o.Installs; i++ {
		l.names = append(l.names, fmt.Sprintf("%s-live-%d", o.Prefix, i))
	}
	l.wg.Go(func() {
		if sleep(ctx, time.Second) != nil {
			return
		}
		l.started = time.Now()
		var jobs sync.WaitGroup
		for _, name := range l.names {
			jobs.Go(func() {
				_, job, err := b.srv.install(ctx, "demo", name)
				if err == nil {
					_, err = b.srv.waitJob(ctx, job, 250*time.Millisecond)
				}
				l.mu.Lock()
				defer l.mu.Unlock()
				if err != nil {
					l.errs = append(l.errs, err.Error())
					return
				}
				l.ok++
			})
		}
		jobs.Wait()
		l.ended = time.Now()
	})
}

// finish waits for the installs, records them, uninstalls them (purge) and
// closes the client's idle connections, so that the server's runtime can
// settle.
func (l *liveInstalls) finish(ctx context.Context, b *bench, run *LoadRun) {
	l.wg.Wait()
	run.Installs, run.Installed = len(l.names), l.ok
	if !l.started.IsZero() {
		run.InstallWallMs = ms(l.ended.Sub(l.started))
	}
	if l.ok < len(l.names) {
		run.Problems = append(run.Problems, fmt.Sprintf("%d of %d installs succeeded: %v", l.ok, len(l.names), l.errs))
	}
	for _, name := range l.names {
		if err := b.srv.uninstall(ctx, name); err != nil {
			run.Problems = append(run.Problems, err.Error())
		}
	}
	b.srv.http.CloseIdleConnections()
}

// compare records the baseline's req/s for run's scenario and warns when
// run is more than 20 % below it.
func (base loadBaseline) compare(run *LoadRun) {
	v, ok := base.ReqPerSec[run.Scenario]
	if !ok || v <= 0 {
		return
	}
	run.BaselineRPS = Num(v)
	if float64(run.ReqPerSec) < 0.8*v {
		run.Warnings = append(run.Warnings, fmt.Sprintf("%.0f req/s is %.0f %% below the baseline's %.0f", float64(run.ReqPerSec), 100*(1-float64(run.ReqPerSec)/v), v))
	}
}

// readBaseline reads the committed baseline; a missing file is an empty
// baseline (nothing to compare with yet).
func readBaseline(path string) (loadBaseline, error) {
	var base loadBaseline
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return base, err
	}
	if err := json.Unmarshal(data, &base); err != nil {
		return base, fmt.Errorf("%s: %w", path, err)
	}
	return base, nil
}

func writeBaseline(path string, res *LoadResults) error {
	base := loadBaseline{Date: res.Date, Machine: fmt.Sprintf("%s, %d CPUs", res.Machine.CPU, res.Machine.CPUs), ReqPerSec: map[string]float64{}}
	for _, r := range res.Runs {
		base.ReqPerSec[r.Scenario] = float64(r.ReqPerSec)
	}
	data, err := json.MarshalIndent(base, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// padCatalog adds copies of the demo named cat-0001, … until the catalog
// has n entries.
func padCatalog(dir string, n int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	have := 0
	for _, e := range entries {
		if e.IsDir() {
			have++
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "demo", "porter.yaml"))
	if err != nil {
		return err
	}
	for i := 1; have < n; i++ {
		name := fmt.Sprintf("cat-%04d", i)
		dst := filepath.Join(dir, name)
		if err := os.CopyFS(dst, os.DirFS(filepath.Join(dir, "demo"))); err != nil {
			return err
		}
		body := strings.Replace(string(raw), "\nname: demo\n", "\nname: "+name+"\n", 1)
		if err := os.WriteFile(filepath.Join(dst, "porter.yaml"), []byte(body), 0o644); err != nil {
			return err
		}
		have++
	}
	return nil
}
