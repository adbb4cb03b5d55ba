// Command stackhub-bench is `make bench`: it measures the built
// bin/stackhub, run as a child process exactly as a user runs it, against
// the floors it builds on, and writes bench/RESULTS.md (machine, date,
// every pair, medians, min/max, targets) and bench/results.json (the raw
// numbers).
//
// Each comparison runs side by side in one run, alternating A B (C) A B
// (C), and gives a ratio per pair:
//
//   - install (request → the app answers HTTP) and uninstall of the test
//     app demo through the API (A), the compose v5 SDK bringing the same
//     compose project up directly (B, the floor) and Debian's
//     docker-compose 1.29 (C);
//   - one CNAB action (restart) through the engine against `docker run
//     --rm` of the same invocation image (the floor, checked to restart
//     the containers);
//   - reads with wrk on loopback with N apps installed, beside Docker's
//     own /containers/json;
//   - N installs, B at a time; RSS idle and at N apps; start-up time;
//     bundle build time and invocation image size per bundle.
//
// Everything it creates carries its -prefix (apps <prefix>-…, compose
// projects websoft9-<prefix>-…, containers labelled sh.websoft9.bench) and
// is removed at the end, on failure and on SIGINT/SIGTERM too. The server
// serves a copy of bundles/testdata whose demo port ranges start at
// -port-base, so that N apps fit (the demo's own db_port range holds 93)
// and the bench does not take the ports other test runs allocate.
//
// `stackhub-bench load` is `make load` instead: reliability.md §3.10's
// loopback load, with bars that fail the run (see load.go), written to
// bench/LOAD.md and bench/load.json. `stackhub-bench swarm` is `make
// bench-swarm`: apps on a Swarm of private engines (see swarm.go),
// written to bench/SWARM.md and bench/swarm.json. `stackhub-bench
// catalog-scale` is `make bench-catalog`: the catalog lists at 1,000
// entries against 12 (see catalogscale.go), in bench/CATALOG.md and
// bench/catalog.json.
//
// It drives the binary, Docker and the compose SDK; from the module it
// imports only the API's wire types, the bundle builder (to size the image
// the CLI built) and, for the load's seeded records, the store.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if code, child := backupChildMain(); child {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Options are the bench's settings, one flag each.
type Options struct {
	// Out is the directory RESULTS.md and results.json are written to.
	Out string
	// Bin is the stackhub binary; its directory holds the runtimes.
	Bin string
	// Bundles is the catalog root: the real bundles in its subdirectories
	// and the test catalog in Bundles/testdata.
	Bundles string
	// Rounds is the number of install/uninstall rounds (A B C each).
	Rounds int
	// ActionRounds is the number of CNAB action pairs.
	ActionRounds int
	// Apps is how many apps are installed for the reads and memory.
	Apps int
	// Batch is how many of them are installed at once.
	Batch int
	// Starts is how many times the server is started to time start-up
	// (the last one stays up for the rest of the bench).
	Starts int
	// Settle is how long the server idles before its RSS is read.
	Settle time.Duration
	// IdleCPU is how long server and dockerd CPU are sampled at N apps.
	IdleCPU time.Duration
	// WrkDuration, WrkWarmup, WrkThreads and WrkConns shape each read run.
	WrkDuration time.Duration
	WrkWarmup   time.Duration
	WrkThreads  int
	WrkConns    int
	// ReadRounds is how many times the read endpoints are run in turn.
	ReadRounds int
	// BuildRuns is how many times each bundle is built.
	BuildRuns int
	// BuildOnly limits the bundle builds to these bundle names (all when
	// empty); "demo" is the test catalog's.
	BuildOnly []string
	// ComposeV1 is auto (run C when docker-compose is installed), on or off.
	ComposeV1 string
	// Prefix starts every name the bench gives.
	Prefix string
	// ManyHealth is the health-check interval of the app the many-app
	// sections install (demomany).
	ManyHealth time.Duration
	// PortBase moves the demo's port ranges to base+1…base+999 (web) and
	// base+1001…base+1999 (db).
	PortBase int
	// Warmup runs one unrecorded install round and action pair first.
	Warmup bool
	// QuietWait bounds the wait for a settled host before the reads.
	QuietWait time.Duration
	// Rewrite only renders RESULTS.md again from results.json.
	Rewrite bool `json:"-"`
	// Keep keeps the temporary directory (server logs, data dir).
	Keep bool
	// BackupMiB is the size of the backup section's volume.
	BackupMiB int
	// Sections, when set, lists the sections to run (by key).
	Sections string
}

func defaultOptions() Options {
	return Options{
		Out: "bench", Bin: "bin/stackhub", Bundles: "bundles",
		Rounds: 5, ActionRounds: 5, Apps: 100, Batch: 20, Starts: 5,
		Settle: 5 * time.Second, IdleCPU: 10 * time.Second,
		WrkDuration: 10 * time.Second, WrkWarmup: 2 * time.Second, WrkThreads: 2, WrkConns: 50, ReadRounds: 3, QuietWait: 3 * time.Minute,
		BuildRuns: 3, ComposeV1: "auto", BackupMiB: 1024, Prefix: "bench", PortBase: 20000, Warmup: true, ManyHealth: 5 * time.Second,
	}
}

func parseFlags(args []string, stderr io.Writer) (Options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("stackhub-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", o.Out, "directory for RESULTS.md and results.json")
	fs.StringVar(&o.Bin, "bin", o.Bin, "the stackhub binary (its directory holds bundle-runtime and websoft9-runtime)")
	fs.StringVar(&o.Bundles, "bundles", o.Bundles, "catalog root: real bundles in subdirectories, the test catalog in testdata/")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "install/uninstall rounds, each A (StackHub) B (compose SDK) C (docker-compose)")
	fs.IntVar(&o.ActionRounds, "action-rounds", o.ActionRounds, "CNAB action pairs (engine, docker run)")
	fs.IntVar(&o.Apps, "apps", o.Apps, "apps installed for the reads and the memory figure")
	fs.IntVar(&o.Batch, "batch", o.Batch, "installs at once")
	fs.IntVar(&o.Starts, "starts", o.Starts, "server starts timed (the last one serves the bench)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "idle time before RSS is read")
	fs.DurationVar(&o.IdleCPU, "idle-cpu", o.IdleCPU, "CPU sampling time with the apps installed")
	fs.DurationVar(&o.WrkDuration, "wrk-duration", o.WrkDuration, "length of each read run")
	fs.DurationVar(&o.WrkWarmup, "wrk-warmup", o.WrkWarmup, "unrecorded run before each read run (0: none)")
	fs.IntVar(&o.WrkThreads, "wrk-threads", o.WrkThreads, "wrk threads")
	fs.IntVar(&o.WrkConns, "wrk-conns", o.WrkConns, "wrk connections")
	fs.DurationVar(&o.QuietWait, "quiet-wait", o.QuietWait, "before the reads, wait at most this long for the 1-minute load average to fall below the core count")
	fs.IntVar(&o.ReadRounds, "read-rounds", o.ReadRounds, "rounds over the read endpoints")
	fs.IntVar(&o.BuildRuns, "build-runs", o.BuildRuns, "builds per bundle")
	only := fs.String("build-only", "", "comma-separated bundle names to build (default all; demo is the test app)")
	fs.StringVar(&o.ComposeV1, "compose-v1", o.ComposeV1, "docker-compose 1.29 runs (C): auto, on or off")
	fs.StringVar(&o.Prefix, "prefix", o.Prefix, "prefix of every app, project and container name")
	fs.DurationVar(&o.ManyHealth, "many-health", o.ManyHealth, "health-check interval of the demo copy (demomany) installed by the concurrent and N-app sections")
	fs.IntVar(&o.PortBase, "port-base", o.PortBase, "the demo's ports are allocated from base+1 (web) and base+1001 (db)")
	fs.BoolVar(&o.Warmup, "warmup", o.Warmup, "run one unrecorded install round and action pair first")
	fs.BoolVar(&o.Rewrite, "rewrite", o.Rewrite, "measure nothing: write RESULTS.md again from -out's results.json")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the temporary directory (server logs and data)")
	fs.IntVar(&o.BackupMiB, "backup-mib", o.BackupMiB, "size of the backup section's volume of mixed data, MiB")
	fs.StringVar(&o.Sections, "sections", o.Sections, "comma-separated sections to run, by key (builds, startup, install, action, policed, backups, gateway, concurrent, loaded, reads, restart); default all. A partial run's RESULTS.md says MISS for what it skipped: keep it out of bench/")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *only != "" {
		o.BuildOnly = strings.Split(*only, ",")
	}
	switch {
	case o.Rounds < 1 || o.ActionRounds < 1 || o.ReadRounds < 1 || o.BuildRuns < 1 || o.Starts < 1:
		return o, errors.New("rounds, action-rounds, read-rounds, build-runs and starts must be at least 1")
	case o.Apps < 1 || o.Batch < 1:
		return o, errors.New("apps and batch must be at least 1")
	case o.Apps > 999:
		return o, errors.New("apps must be at most 999 (the size of the port ranges)")
	case o.ComposeV1 != "auto" && o.ComposeV1 != "on" && o.ComposeV1 != "off":
		return o, fmt.Errorf("compose-v1 %q: want auto, on or off", o.ComposeV1)
	}
	return o, checkPrefixAndPorts(o.Prefix, o.PortBase)
}

// checkPrefixAndPorts checks -prefix and -port-base, which the bench and
// the load share.
func checkPrefixAndPorts(prefix string, base int) error {
	switch {
	case !appNameRE(prefix):
		return fmt.Errorf("prefix %q: lowercase letters and digits, starting with a letter, at most 20", prefix)
	case base < 1024 || base+2000 > 32768:
		return errors.New("port-base must leave base+1…base+1999 between 1024 and 32767 (below the ephemeral range)")
	}
	return nil
}

func appNameRE(s string) bool {
	if s == "" || len(s) > 20 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// run is the whole bench; it returns the exit code (0 ok, 1 failed, 2 usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "load" {
		return runLoad(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "swarm" {
		return runSwarm(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "catalog-scale" {
		return runCatalogScale(ctx, args[1:], stdout, stderr)
	}

	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "stackhub-bench:", err)
		return 2
	}
	if o.Rewrite {
		// Only the report: RESULTS.md again from results.json (after a
		// change to how it is written), measuring nothing.
		data, err := os.ReadFile(filepath.Join(o.Out, "results.json"))
		if err != nil {
			fmt.Fprintln(stderr, "stackhub-bench:", err)
			return 1
		}
		var res Results
		if err := json.Unmarshal(data, &res); err != nil {
			fmt.Fprintln(stderr, "stackhub-bench: results.json:", err)
			return 1
		}
		if err := writeResults(o.Out, &res); err != nil {
			fmt.Fprintln(stderr, "stackhub-bench:", err)
			return 1
		}
		fmt.Fprintf(stdout, "rewrote %s from results.json\n", filepath.Join(o.Out, "RESULTS.md"))
		return 0
	}
	b, err := newBench(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stackhub-bench:", err)
		return 1
	}
	res, runErr := b.run(ctx)
	// Cleanup runs whatever happened, even after a cancel.
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if err := b.close(cleanCtx, runErr != nil); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cleanup: %w", err))
	}
	code := 0
	if runErr != nil {
		fmt.Fprintln(stderr, "stackhub-bench:", runErr)
		code = 1
		if res == nil {
			return code
		}
		// What was measured is still written, marked incomplete.
		res.Incomplete = "the run stopped early: " + runErr.Error()
	}
	if err := writeResults(o.Out, res); err != nil {
		fmt.Fprintln(stderr, "stackhub-bench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.Out, "RESULTS.md"), filepath.Join(o.Out, "results.json"))
	return code
}
