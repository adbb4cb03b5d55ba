package main

import (
	"fmt"
	"strings"
)

// writeLoad writes LOAD.md and load.json into dir.
func writeLoad(dir string, r *LoadResults) error { return writeReport(dir, "load", r, r.markdown()) }

func (r *LoadResults) markdown() string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	o := r.Settings
	p("# Loopback load (make load)\n\n")
	p("reliability.md §3.10, written by `stackhub-bench load` on %s.\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	verdict := "PASS"
	if r.failed() {
		verdict = "FAIL"
	}
	p("**Verdict: %s**", verdict)
	if !o.Bars {
		p(" (bars reported, not enforced: -bars=false)")
	}
	p("\n\n## Machine\n\n| | |\n|---|---|\n")
	m := r.Machine
	p("| CPU | %s, %d cores |\n| memory | %d MiB |\n| kernel | %s |\n| Docker | %s (API %s) |\n| Go (server) | %s |\n| load tool | %s (%s) |\n| load average | before %s, after %s |\n\n",
		m.CPU, m.CPUs, m.MemoryMiB, m.Uname, m.Docker, m.DockerAPI, m.ServerGo, r.Tool, m.Wrk, m.LoadBefore, m.LoadAfter)
	p("## Setup\n\n")
	p("- `bin/stackhub serve` as a child process with `GOMAXPROCS=1` and `--debug-runtime`, the demo catalog.\n")
	p("- %d installation records (`app-000` …) seeded through the store package (orchestrator/sqlite) before the server starts, no containers behind them; %s has %d more runs.\n", o.Apps, o.RunsApp, o.Runs)
	p("- Each scenario: wrk -t1 -c%d for %s (not recorded), then -d%s --latency with the bearer token; the server's goroutines, open files and RSS are read at rest before the measured run and, after it, until they are back to baseline (at most %s).\n", o.Conns, o.Warmup, o.Duration, o.Settle)
	p("- The last scenario makes %d real installs of the demo (Docker, compose) one second into the measured run, then uninstalls them.", o.Installs)
	if o.Prebuild {
		p(" Before its warm-up one install and uninstall of the demo has the server build the demo's invocation image (once per bundle and server start), so the scenario measures installs, not the build.")
	}
	p("\n\n")
	p("## Scenarios\n\n| scenario | req/s | p50 ms | p99 ms | bar | bar met | non-2xx | errors | baseline req/s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		bar := []string{}
		if run.MinRPS > 0 {
			bar = append(bar, fmt.Sprintf("≥ %.0f req/s", run.MinRPS))
		}
		if run.MaxP99Ms > 0 {
			bar = append(bar, fmt.Sprintf("p99 ≤ %.0f ms", run.MaxP99Ms))
		}
		met := "yes"
		if len(run.Misses) > 0 {
			met = "MISS: " + strings.Join(run.Misses, "; ")
		}
		base := "none"
		if run.BaselineRPS.ok() && run.BaselineRPS > 0 {
			base = f0(run.BaselineRPS)
		}
		p("| %s `%s` | %s | %s | %s | %s | %s | %d | %d | %s |\n", run.Scenario, run.Endpoint, f0(run.ReqPerSec), f2(run.P50Ms), f2(run.P99Ms),
			strings.Join(bar, ", "), met, run.Non2xx, run.Errors, base)
	}
	p("\n## Resources after each scenario\n\nBack to baseline (read once the server is at rest: its goroutine count holding for 3 reads 200 ms apart): at most 5 goroutines more; unix sockets (the Docker client's connections) at most %d more (its idle pool, closed after 30 s idle); descriptors on the database, its WAL and shared memory at most %d (SQLite's pool of 4 connections, kept open); every other open file no more than before; RSS at most 20 MiB more.\n\n", dockerIdlePool, maxDatabaseFiles)
	p("| scenario | goroutines | open files | of which unix sockets | of which database | RSS | back to baseline after |\n|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		back := "NOT within " + o.Settle.String()
		if run.SettledMs.ok() {
			back = fmt.Sprintf("%.0f ms", float64(run.SettledMs))
		}
		p("| %s | %d → %d | %d → %d | %d → %d | %d → %d | %s → %s | %s |\n", run.Scenario, run.Before.Goroutines, run.After.Goroutines,
			run.Before.OpenFDs, run.After.OpenFDs, run.Before.UnixSockets, run.After.UnixSockets, run.Before.DatabaseFiles, run.After.DatabaseFiles,
			mib(run.Before.RSSBytes), mib(run.After.RSSBytes), back)
	}
	for _, run := range r.Runs {
		if run.Installs > 0 {
			p("\n**Live installs** during `%s`: %d of %d succeeded, first request → last job done %.1f s.\n", run.Scenario, run.Installed, run.Installs, float64(run.InstallWallMs)/1000)
		}
	}
	var problems, warnings []string
	for _, run := range r.Runs {
		for _, s := range run.Problems {
			problems = append(problems, run.Scenario+": "+s)
		}
		for _, s := range run.Warnings {
			warnings = append(warnings, run.Scenario+": "+s)
		}
	}
	problems = append(problems, r.Failures...)
	if len(problems) > 0 {
		p("\n## Failed checks\n\n")
		for _, s := range problems {
			p("- %s\n", s)
		}
	}
	if len(warnings) > 0 {
		p("\n## Warnings (more than 20 %% below the committed baseline)\n\n")
		for _, s := range warnings {
			p("- %s\n", s)
		}
	}
	return sb.String()
}
