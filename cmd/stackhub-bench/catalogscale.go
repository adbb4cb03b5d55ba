package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// `stackhub-bench catalog-scale` (make bench-catalog) is issue 22's
// figure: the catalog list's p99 at 1,000 entries against its p99 at 12.
// Two servers run side by side, one per catalog size, both at GOMAXPROCS=1
// as make load serves; each round loads every endpoint on both, in an
// order that alternates from round to round, so that whatever else the
// machine does falls on both sizes alike. The figure is the median over
// the rounds of each round's ratio.

// ScaleOptions are catalog-scale's settings.
type ScaleOptions struct {
	Out, Bin, Bundles string
	// Small and Large are the catalog sizes compared.
	Small, Large int
	Rounds       int
	// Duration is each measured wrk run (one thread, Conns connections),
	// after a Warmup run not recorded.
	Duration, Warmup time.Duration
	Conns            int
	// QuietWait bounds the wait for the 1-minute load average to fall
	// below the core count before the first round.
	QuietWait time.Duration
	// MaxRatio is the bar: p99 at Large / p99 at Small.
	MaxRatio float64
	Keep     bool `json:"-"`
}

// ScaleRound is one endpoint's pair of runs in one round.
type ScaleRound struct {
	Round    int    `json:"round"`
	Endpoint string `json:"endpoint"`
	Small    Read   `json:"small"`
	Large    Read   `json:"large"`
	// P99Ratio is Large's p99 / Small's.
	P99Ratio Num `json:"p99Ratio"`
	// SmallCPUUs and LargeCPUUs are each server's CPU time (user and
	// system) per answer during its measured run, in µs: what an answer
	// costs, which other work on the machine moves far less than a p99.
	SmallCPUUs Num `json:"smallCpuUs"`
	LargeCPUUs Num `json:"largeCpuUs"`
}

// ScaleFigure is an endpoint's result: the spread of its rounds' ratios.
type ScaleFigure struct {
	Endpoint string `json:"endpoint"`
	P99Ratio Spread `json:"p99Ratio"`
	// SmallP99 and LargeP99 are the medians of the rounds' p99s (ms).
	SmallP99 Spread `json:"smallP99Ms"`
	LargeP99 Spread `json:"largeP99Ms"`
	// CPURatio is the rounds' CPU per answer at Large / at Small.
	CPURatio Spread `json:"cpuRatio"`
	Met      bool   `json:"met"`
}

// ScaleResults is catalog.json.
type ScaleResults struct {
	Date     time.Time     `json:"date"`
	Machine  Machine       `json:"machine"`
	Settings ScaleOptions  `json:"settings"`
	Waited   time.Duration `json:"waitedNs"`
	Rounds   []ScaleRound  `json:"rounds"`
	Figures  []ScaleFigure `json:"figures"`
	Failures []string      `json:"failures,omitempty"`
}

var scaleEndpoints = []struct{ name, path string }{
	{"appList", "/appList"},
	{"catalog", "/api/v1/catalog"},
}

func parseScaleFlags(args []string, stderr io.Writer) (ScaleOptions, error) {
	o := ScaleOptions{Out: "bench", Bin: "bin/stackhub", Bundles: "bundles", Small: 12, Large: 1000, Rounds: 5,
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Conns: 32, QuietWait: 3 * time.Minute, MaxRatio: 1.5}
	fs := flag.NewFlagSet("stackhub-bench catalog-scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", o.Out, "directory for CATALOG.md and catalog.json")
	fs.StringVar(&o.Bin, "bin", o.Bin, "the stackhub binary (its directory holds the runtimes)")
	fs.StringVar(&o.Bundles, "bundles", o.Bundles, "catalog root (the demo is in testdata/)")
	fs.IntVar(&o.Small, "small", o.Small, "entries of the small catalog (the demo and its copies)")
	fs.IntVar(&o.Large, "large", o.Large, "entries of the large catalog")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; each loads every endpoint on both servers")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each measured wrk run")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unrecorded wrk run before each measured one")
	fs.IntVar(&o.Conns, "conns", o.Conns, "wrk connections (one thread)")
	fs.DurationVar(&o.QuietWait, "quiet-wait", o.QuietWait, "wait at most this long for the 1-minute load average to fall below the core count")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the temporary directories (server logs and data)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.Small < 2 || o.Large <= o.Small:
		return o, errors.New("-small must be at least 2 (the test catalog's own entries) and -large more than -small")
	case o.Rounds < 1 || o.Duration < time.Second || o.Conns < 1:
		return o, errors.New("rounds and conns must be at least 1, duration at least 1s")
	}
	return o, nil
}

func runCatalogScale(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseScaleFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "stackhub-bench catalog-scale:", err)
		return 2
	}
	res, runErr := scaleRun(ctx, o, stderr)
	if runErr != nil {
		fmt.Fprintln(stderr, "stackhub-bench catalog-scale:", runErr)
		if res == nil {
			return 1
		}
		res.Failures = append(res.Failures, runErr.Error())
	}
	if err := writeScale(o.Out, res); err != nil {
		fmt.Fprintln(stderr, "stackhub-bench catalog-scale:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.Out, "CATALOG.md"), filepath.Join(o.Out, "catalog.json"))
	if runErr != nil || !res.met() {
		return 1
	}
	return 0
}

// scaleRun starts a server per size, runs the rounds and stops them.
func scaleRun(ctx context.Context, o ScaleOptions, log io.Writer) (res *ScaleResults, err error) {
	res = &ScaleResults{Date: time.Now().UTC(), Settings: o}
	var benches []*bench
	defer func() {
		cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, b := range benches {
			if cerr := b.closeServer(cleanCtx, err != nil); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
			}
		}
	}()
	for i, size := range []int{o.Small, o.Large} {
		bo := defaultOptions()
		bo.Out, bo.Bin, bo.Bundles, bo.Keep, bo.QuietWait = o.Out, o.Bin, o.Bundles, o.Keep, o.QuietWait
		bo.WrkThreads, bo.ComposeV1 = 1, "off"
		b, err := newBench(bo, log)
		if err != nil {
			return nil, err
		}
		benches = append(benches, b)
		if i == 0 {
			if res.Machine, err = b.machine(ctx); err != nil {
				return nil, err
			}
		}
		if err := b.scaleServer(ctx, size); err != nil {
			return res, fmt.Errorf("the server of %d entries: %w", size, err)
		}
	}
	if b := benches[0]; b.wrk == "" {
		return res, errors.New("wrk is not installed (apt-get install wrk): the rounds need it")
	}
	if res.Waited, err = benches[0].waitQuiet(ctx); err != nil {
		return res, err
	}
	res.Machine.LoadBefore = loadavg()
	for round := range o.Rounds {
		for _, ep := range scaleEndpoints {
			r := ScaleRound{Round: round + 1, Endpoint: ep.name}
			order := []int{0, 1}
			if round%2 == 1 {
				order = []int{1, 0}
			}
			for _, side := range order {
				b := benches[side]
				url := b.srv.url + ep.path
				if o.Warmup > 0 {
					if _, err := b.load(ctx, url, o.Conns, o.Warmup); err != nil {
						return res, fmt.Errorf("warm-up: %w", err)
					}
				}
				t0, err := cpuTicks(b.srv.pid())
				if err != nil {
					return res, err
				}
				rd, err := b.load(ctx, url, o.Conns, o.Duration)
				if err != nil {
					return res, err
				}
				t1, err := cpuTicks(b.srv.pid())
				if err != nil {
					return res, err
				}
				cpu := missing
				if rd.Requests > 0 {
					cpu = Num(float64(t1-t0) * 1e4 / float64(rd.Requests)) // a tick is 10 ms
				}
				if rd.Non2xx > 0 || rd.Errors > 0 {
					return res, fmt.Errorf("%s at %d entries: %d non-2xx answers and %d socket errors", ep.path, []int{o.Small, o.Large}[side], rd.Non2xx, rd.Errors)
				}
				rd.Endpoint = ep.path
				if side == 0 {
					r.Small, r.SmallCPUUs = rd, cpu
				} else {
					r.Large, r.LargeCPUUs = rd, cpu
				}
			}
			r.P99Ratio = ratio(r.Large.P99Ms, r.Small.P99Ms)
			benches[0].logf("catalog-scale round %d/%d %s: p99 %.2f ms at %d → %.2f ms at %d (%.2f×), %.0f → %.0f req/s, CPU %.1f → %.1f µs per answer",
				round+1, o.Rounds, ep.name, float64(r.Small.P99Ms), o.Small, float64(r.Large.P99Ms), o.Large, float64(r.P99Ratio),
				float64(r.Small.ReqPerSec), float64(r.Large.ReqPerSec), float64(r.SmallCPUUs), float64(r.LargeCPUUs))
			res.Rounds = append(res.Rounds, r)
		}
	}
	res.Machine.LoadAfter = loadavg()
	for _, ep := range scaleEndpoints {
		res.Figures = append(res.Figures, scaleFigure(ep.name, res.Rounds, o.MaxRatio))
	}
	return res, nil
}

// scaleFigure is endpoint's result over rounds: the spread of the rounds'
// p99 ratios, met when their median is at most maxRatio.
func scaleFigure(endpoint string, rounds []ScaleRound, maxRatio float64) ScaleFigure {
	var ratios, small, large, cpu []Num
	for _, r := range rounds {
		if r.Endpoint == endpoint {
			ratios, small, large = append(ratios, r.P99Ratio), append(small, r.Small.P99Ms), append(large, r.Large.P99Ms)
			cpu = append(cpu, ratio(r.LargeCPUUs, r.SmallCPUUs))
		}
	}
	f := ScaleFigure{Endpoint: endpoint, P99Ratio: spread(ratios), SmallP99: spread(small), LargeP99: spread(large), CPURatio: spread(cpu)}
	f.Met = f.P99Ratio.Median.ok() && float64(f.P99Ratio.Median) <= maxRatio
	return f
}

// scaleServer copies the test catalog padded to size entries and serves
// it at GOMAXPROCS=1 as make load does.
func (b *bench) scaleServer(ctx context.Context, size int) error {
	var err error
	if b.catalog, err = b.copyCatalog(); err != nil {
		return err
	}
	// copyCatalog adds demomany: the test catalog has three entries before
	// the copies.
	if err := padCatalog(b.catalog, size); err != nil {
		return err
	}
	s, err := b.prepareServer(ctx, "catalog")
	if err != nil {
		return err
	}
	s.env = []string{"GOMAXPROCS=1"}
	if err := b.launch(ctx, s); err != nil {
		return err
	}
	b.srv = s
	return b.waitReady(ctx)
}

// closeServer stops the server and removes the temporary directory; it
// touches no container (the bench installs none).
func (b *bench) closeServer(ctx context.Context, failed bool) error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.stop())
		if failed {
			b.logf("the server log ends with:\n%s", tail(b.srv.logFile))
		}
	}
	if b.docker != nil {
		b.docker.Close()
	}
	if b.tmp != "" && !b.o.Keep {
		errs = append(errs, os.RemoveAll(b.tmp))
	}
	return errors.Join(errs...)
}

func (r *ScaleResults) met() bool {
	if len(r.Failures) > 0 || len(r.Figures) == 0 {
		return false
	}
	for _, f := range r.Figures {
		if !f.Met {
			return false
		}
	}
	return true
}

// writeScale writes CATALOG.md and catalog.json into dir.
func writeScale(dir string, r *ScaleResults) error {
	return writeReport(dir, "catalog", r, r.markdown())
}

func (r *ScaleResults) markdown() string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	o := r.Settings
	p("# The catalog list at %d entries against %d (make bench-catalog)\n\n", o.Large, o.Small)
	p("Issue 22's figure, written by `stackhub-bench catalog-scale` on %s.\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	verdict := "PASS"
	if !r.met() {
		verdict = "FAIL"
	}
	p("**Verdict: %s**\n\n", verdict)
	m := r.Machine
	p("%s, %d cores; Go %s; load average before %s, after %s (waited %s for it to fall below the core count).\n\n",
		m.CPU, m.CPUs, m.Go, m.LoadBefore, m.LoadAfter, r.Waited.Round(time.Second))
	p("Two `bin/stackhub serve` at `GOMAXPROCS=1` (as `make load` serves), one with the test catalog padded with copies of\n")
	p("the demo to %d entries, one to %d. Each round runs, for each endpoint, wrk -t1 -c%d for %s (after %s not recorded)\n", o.Small, o.Large, o.Conns, o.Duration, o.Warmup)
	p("on both servers, the small one first in odd rounds and last in even ones. Each list answers its default page.\n\n")
	p("| endpoint | p99 at %d / at %d, median of rounds | bar | met | p99 ms at %d (median) | at %d (median) | server CPU per answer at %d / at %d (median) |\n|---|---|---|---|---|---|---|\n",
		o.Large, o.Small, o.Small, o.Large, o.Large, o.Small)
	for _, f := range r.Figures {
		met := "no"
		if f.Met {
			met = "yes"
		}
		p("| `%s` | %s× (%s–%s) | ≤ %.1f× | %s | %s | %s | %s× (%s–%s) |\n", f.Endpoint, f2(f.P99Ratio.Median), f2(f.P99Ratio.Min), f2(f.P99Ratio.Max), o.MaxRatio, met,
			f2(f.SmallP99.Median), f2(f.LargeP99.Median), f2(f.CPURatio.Median), f2(f.CPURatio.Min), f2(f.CPURatio.Max))
	}
	p("\nThe p99 of a run at saturation moves with whatever else the machine runs; the server's CPU time per answer (user\n")
	p("and system, from /proc) is what an answer costs, and moves far less.\n")
	p("\n| round | endpoint | p99 ms at %d | at %d | ratio | req/s at %d | at %d | CPU µs per answer at %d | at %d |\n|---|---|---|---|---|---|---|---|---|\n",
		o.Small, o.Large, o.Small, o.Large, o.Small, o.Large)
	for _, x := range r.Rounds {
		p("| %d | `%s` | %s | %s | %s | %s | %s | %s | %s |\n", x.Round, x.Endpoint, f2(x.Small.P99Ms), f2(x.Large.P99Ms), f2(x.P99Ratio),
			f0(x.Small.ReqPerSec), f0(x.Large.ReqPerSec), f2(x.SmallCPUUs), f2(x.LargeCPUUs))
	}
	for _, f := range r.Failures {
		p("\nFailure: %s\n", f)
	}
	return sb.String()
}
