package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Results is everything one run measured; results.json is this value.
type Results struct {
	Machine     Machine        `json:"machine"`
	Date        time.Time      `json:"date"`
	Settings    Options        `json:"settings"`
	Startup     []Start        `json:"startup"`
	Memory      Loaded         `json:"memory"`
	Install     []InstallRound `json:"install"`
	ActionSetup ActionSetup    `json:"actionSetup"`
	Action      []ActionRound  `json:"action"`
	Policed     []PolicedRound `json:"policed"`
	Backup      BackupResult   `json:"backup"`
	Gateway     GatewayResult  `json:"gateway"`
	Convert     ConvertResult  `json:"convert"`
	Concurrent  Concurrent     `json:"concurrent"`
	Reads       Reads          `json:"reads"`
	Restarted   Restarted      `json:"restarted"`
	Builds      []BuildResult  `json:"builds"`
	Targets     []Target       `json:"targets"`
	// Failures are the sections that failed, with their error.
	Failures []string `json:"failures,omitempty"`
	// Incomplete is why the run stopped early, "" when it did not.
	Incomplete string `json:"incomplete,omitempty"`
}

// Target is one of issue 8's targets and whether this run met it.
type Target struct {
	What     string `json:"what"`
	Want     string `json:"want"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

// MB is the megabyte, 10^6 bytes, in KiB.
const MB = 1e6 / 1024

func (r *Results) targets() []Target {
	var t []Target
	add := func(what, want, measured string, pass bool) {
		t = append(t, Target{What: what, Want: want, Measured: measured, Pass: pass})
	}
	ia := spread(column(r.Install, func(x InstallRound) Num { return x.InstallFloor }))
	add("install → running, StackHub / (`docker run --rm` of the invocation image + compose SDK `up --wait`), median of rounds",
		"≤ 1.05×", f2(ia.Median)+"×", ia.Median.ok() && ia.Median <= 1.05)
	ua := spread(column(r.Install, func(x InstallRound) Num { return x.UninstallFloor }))
	add("uninstall, StackHub / (`docker run --rm` of the invocation image + compose SDK `down -v`), median of rounds",
		"≤ 1.10×", f2(ua.Median)+"×", ua.Median.ok() && ua.Median <= 1.10)
	pa := spread(column(r.Policed, func(x PolicedRound) Num { return x.Ratio }))
	add("install through the policed socket / through Docker's own socket (`docker run --rm` of the invocation image, same run), median of rounds",
		"≤ 1.05×", f2(pa.Median)+"×", pa.Median.ok() && pa.Median <= 1.05)
	if bk := r.Backup; bk.FirstMs > 0 {
		add(fmt.Sprintf("first backup of %d MiB of mixed data: speed / `tar | zstd -3` of the volume's directory to the same disk", bk.DataBytes>>20),
			"≥ 0.80×", fmt.Sprintf("%s× (%s vs %s ms)", f2(bk.SpeedRatio), f0(bk.FirstMs), f0(bk.TarZstdMs)), bk.SpeedRatio.ok() && bk.SpeedRatio >= 0.8)
		add("second backup after 1 % of the data changed: time / the first's", "≤ 0.10×", f2(bk.SecondShare)+"×",
			bk.SecondShare.ok() && bk.SecondShare <= 0.10)
		add("second backup: space it adds / the first's", "≤ 3 %", fmt.Sprintf("%.1f %% (%d bytes)", 100*float64(bk.AddedShare), bk.SecondAdded),
			bk.AddedShare.ok() && bk.AddedShare <= 0.03)
		add("restore: speed / `zstd -d | tar x` into a volume", "≥ 0.80×", fmt.Sprintf("%s× (%s vs %s ms)", f2(bk.RestoreSpeedRate), f0(bk.RestoreMs), f0(bk.UnzstdMs)),
			bk.RestoreSpeedRate.ok() && bk.RestoreSpeedRate >= 0.8)
		add("resident memory during the first backup (the process that runs it)", "≤ 150 MB", fmt.Sprintf("%s MiB (%s before)", f0(bk.PeakRSSMiB), f0(bk.BaseRSSMiB)),
			bk.PeakRSSMiB.ok() && float64(bk.PeakRSSMiB)*1.048576 <= 150)
	}
	if reads := readSpreads(r.Reads); len(reads) > 0 {
		if i := slices.IndexFunc(reads, func(x readSpread) bool { return x.endpoint == bareEndpoint }); i > 0 {
			g, bare := reads[0], reads[i]
			rate, p99 := ratio(g.rate.Median, bare.rate.Median), ratio(g.p99.Median, bare.p99.Median)
			add("`"+g.endpoint+"` throughput / a bare net/http handler's (wrk -t2 -c50, same run)", "≥ 0.80×",
				fmt.Sprintf("%s× (%s vs %s req/s)", f2(rate), f0(g.rate.Median), f0(bare.rate.Median)), rate.ok() && rate >= 0.8)
			add("`"+g.endpoint+"` p99 / the bare handler's", "≤ 1.50×",
				fmt.Sprintf("%s× (%s vs %s ms)", f2(p99), f2(g.p99.Median), f2(bare.p99.Median)), p99.ok() && p99 <= 1.5)
		}
	}
	if reads := readSpreads(r.Reads); len(reads) > 0 {
		g := reads[0]
		again := readSpreads(r.Restarted.Reads)
		rate, p99 := "", ""
		if len(again) > 0 {
			rate = fmt.Sprintf("; restarted server: %s", f0(again[0].rate.Median))
			p99 = fmt.Sprintf("; restarted server: %s ms", f2(again[0].p99.Median))
		}
		add("`"+g.endpoint+"` req/s (median of rounds)", "≥ 30,000", f0(g.rate.Median)+rate, g.rate.Median.ok() && g.rate.Median >= 30000)
		add("`"+g.endpoint+"` p99 (median of rounds)", "≤ 3 ms", f2(g.p99.Median)+" ms"+p99, g.p99.Median.ok() && g.p99.Median <= 3)
	}
	if g := r.Gateway; g.Routes > 0 {
		add("through the gateway / through nginx as a reverse proxy, same upstream, wrk throughput (median of rounds)", "≥ 0.90×",
			f2(g.Throughput)+"×"+cpuNote(g.CPURatio), g.Throughput.ok() && g.Throughput >= 0.9)
		add("through the gateway / through nginx, p99 (median of rounds)", "≤ 1.20×", f2(g.P99)+"×", g.P99.ok() && g.P99 <= 1.2)
		add("new TLS handshakes per second, the gateway / nginx", "≥ 0.80×",
			fmt.Sprintf("%s× (%s vs %s /s)", f2(g.TLSRatio), f0(g.GatewayTLS), f0(g.NginxTLS)), g.TLSRatio.ok() && g.TLSRatio >= 0.8)
		add(fmt.Sprintf("RSS of serve with the gateway and %d routes", g.Routes), "≤ 60 MB", mb(g.RSSKiB), g.RSSKiB > 0 && float64(g.RSSKiB) <= 60*MB)
	}
	if cv := r.Convert; cv.Apps > 0 {
		add(fmt.Sprintf("stackhub catalog convert, %d apps of the four stores and compose (median of rounds)", cv.Apps), "≤ 5 s",
			fmt.Sprintf("%s ms (%d converted)", f0(cv.Median), cv.Converted), cv.Median.ok() && cv.Median <= 5000)
	}
	add("RSS idle", "≤ 40 MB", mb(r.Memory.IdleRSSKiB), r.Memory.IdleRSSKiB > 0 && float64(r.Memory.IdleRSSKiB) <= 40*MB)
	add(fmt.Sprintf("RSS at %d apps", r.Concurrent.Succeeded), "≤ 60 MB",
		fmt.Sprintf("%s; restarted server: %s", mb(r.Memory.LoadedRSSKiB), mb(r.Restarted.RSSKiB)),
		r.Memory.LoadedRSSKiB > 0 && float64(r.Memory.LoadedRSSKiB) <= 60*MB)
	c := r.Concurrent
	add(fmt.Sprintf("%d installs, %d at once", c.Apps, r.Settings.Batch), "all succeed, no port collision",
		fmt.Sprintf("%d/%d succeeded, %d distinct of %d host ports", c.Succeeded, c.Apps, c.DistinctPorts, c.HostPorts),
		c.Apps > 0 && c.Succeeded == c.Apps && c.portsOK())
	return t
}

func column[T any](xs []T, f func(T) Num) []Num {
	out := make([]Num, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

type readSpread struct {
	endpoint       string
	rate, p50, p99 Spread
	non2xx, errors int
}

// readSpreads summarises each endpoint over the rounds, in run order.
func readSpreads(reads Reads) []readSpread {
	var out []readSpread
	if len(reads.Rounds) == 0 {
		return nil
	}
	for i, first := range reads.Rounds[0] {
		var rate, p50, p99 []Num
		s := readSpread{endpoint: first.Endpoint}
		for _, round := range reads.Rounds {
			if i >= len(round) {
				continue
			}
			rate, p50, p99 = append(rate, round[i].ReqPerSec), append(p50, round[i].P50Ms), append(p99, round[i].P99Ms)
			s.non2xx += round[i].Non2xx
			s.errors += round[i].Errors
		}
		s.rate, s.p50, s.p99 = spread(rate), spread(p50), spread(p99)
		out = append(out, s)
	}
	return out
}

func f0(n Num) string {
	if !n.ok() {
		return "—"
	}
	return fmt.Sprintf("%.0f", float64(n))
}

func f1(n Num) string {
	if !n.ok() {
		return "—"
	}
	return fmt.Sprintf("%.1f", float64(n))
}

// cpuNote is the gateway's CPU per request against nginx's, when measured.
func cpuNote(r Num) string {
	if !r.ok() || r <= 0 {
		return ""
	}
	return fmt.Sprintf(" (CPU per request %s×)", f2(r))
}

func f2(n Num) string {
	if !n.ok() {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(n))
}

func mb(kib int) string {
	if kib <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MB (%.1f MiB)", float64(kib)*1024/1e6, float64(kib)/1024)
}

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

// spreadCells are the median and min–max of a series, formatted by f.
func spreadCells(s Spread, f func(Num) string) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// markdown renders RESULTS.md.
func (r *Results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Settings
	m := r.Machine
	p("# StackHub benchmarks\n\n")
	if r.Incomplete != "" {
		p("**INCOMPLETE: %s.** The sections after that point are empty.\n\n", r.Incomplete)
	}
	p("Written by `make bench` (`go run ./cmd/stackhub-bench -out bench`) on %s. The server is the built\n", r.Date.Format("2006-01-02 15:04 MST"))
	p("`bin/stackhub`, run as a child process with all cores; every comparison ran side by side in this one run,\n")
	p("alternating its sides, with a ratio per pair. Cells read *median (min–max)*. Raw numbers: `results.json`.\n\n")

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| uname | `%s` |\n| CPU | %s × %d |\n| memory | %d MiB |\n", m.Uname, m.CPU, m.CPUs, m.MemoryMiB)
	p("| Docker | %s (API %s) |\n| Go | bench %s, server built with %s |\n", m.Docker, m.DockerAPI, m.Go, m.ServerGo)
	p("| docker-compose | %s |\n| wrk | %s |\n", m.ComposeV1, m.Wrk)
	p("| load average (1, 5, 15 min) | before %s, after %s |\n\n", m.LoadBefore, m.LoadAfter)

	p("## Targets\n\n| target | want | measured | |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		p("| %s | %s | %s | %s |\n", t.What, t.Want, t.Measured, passMiss(t.Pass))
	}
	p("\n")

	if len(r.Failures) > 0 {
		p("## Sections that failed\n\n")
		for _, f := range r.Failures {
			p("- %s\n", f)
		}
		p("\n")
	}

	p("## Install: request → the app answers HTTP\n\n")
	p("The test app `demo` (2 services, `stackhub-test/web:dev`, `db` healthy before `web` starts). A = `POST /api/v1/apps`\n")
	p("through StackHub (engine, CNAB invocation container, websoft9 mixin); B = the compose v5 SDK bringing the same\n")
	p("compose file up in the bench process (`Up` with wait, the mixin's options: the floor, the containers themselves);\n")
	p("C = Debian's `docker-compose -p NAME -f FILE up -d`. Each is timed from the request to the first 200 from\n")
	p("`GET http://127.0.0.1:<web port>/` (polled every 20 ms while the operation runs); *done* is when the operation\n")
	p("itself returned (A: job succeeded, polled every 20 ms; B: `Up` returned; C: `up -d` exited). Rounds run\n")
	p("A B C, each installed then uninstalled%s. ms.\n\n", warm(o.Warmup, "round"))
	p("*server at rest* is the server's own CPU use over one second with no request, just before the round (cores).\n\n")
	p("| round | A | B | C | A/B | C/B | A done | B done | C done | server at rest |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i, x := range r.Install {
		in := x.Install
		p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", i+1, f0(in[sideA].ReadyMs), f0(in[sideB].ReadyMs), f0(in[sideC].ReadyMs),
			f2(x.InstallAB), f2(x.InstallCB), f0(in[sideA].DoneMs), f0(in[sideB].DoneMs), f0(in[sideC].DoneMs), f2(x.ServerCPU))
	}
	col := func(side int, uninstall bool, done bool) Spread {
		return spread(column(r.Install, func(x InstallRound) Num {
			t := x.Install[side]
			if uninstall {
				t = x.Uninstall[side]
			}
			if done {
				return t.DoneMs
			}
			return t.ReadyMs
		}))
	}
	rat := func(f func(InstallRound) Num) Spread { return spread(column(r.Install, f)) }
	p("| **median (min–max)** | %s | %s | %s | %s | %s | %s | %s | %s | |\n\n",
		spreadCells(col(sideA, false, false), f0), spreadCells(col(sideB, false, false), f0), spreadCells(col(sideC, false, false), f0),
		spreadCells(rat(func(x InstallRound) Num { return x.InstallAB }), f2), spreadCells(rat(func(x InstallRound) Num { return x.InstallCB }), f2),
		spreadCells(col(sideA, false, true), f0), spreadCells(col(sideB, false, true), f0), spreadCells(col(sideC, false, true), f0))

	for i, x := range r.Install {
		for _, e := range x.Errors {
			p("- round %d failed: %s\n", i+1, e)
		}
	}
	p("\n## Uninstall\n\n")
	p("A = `DELETE /api/v1/apps/NAME?purge=true` (202 with the uninstall job, then `GET /api/v1/jobs/ID` every 20 ms until it\n")
	p("succeeded); B = the SDK's `Down` with volumes; C = `docker-compose down -v`.\n")
	p("*left* counts the containers, networks and volumes still labelled with the app or project afterwards. ms.\n\n")
	p("| round | A | B | C | A/B | C/B | left A/B/C |\n|---|---|---|---|---|---|---|\n")
	for i, x := range r.Install {
		u := x.Uninstall
		p("| %d | %s | %s | %s | %s | %s | %s |\n", i+1, f0(u[sideA].ReadyMs), f0(u[sideB].ReadyMs), f0(u[sideC].ReadyMs),
			f2(x.UninstallAB), f2(x.UninstallCB), leftCells(u))
	}
	p("| **median (min–max)** | %s | %s | %s | %s | %s | |\n\n",
		spreadCells(col(sideA, true, false), f0), spreadCells(col(sideB, true, false), f0), spreadCells(col(sideC, true, false), f0),
		spreadCells(rat(func(x InstallRound) Num { return x.UninstallAB }), f2), spreadCells(rat(func(x InstallRound) Num { return x.UninstallCB }), f2))

	p("## Against the least a CNAB engine does\n\n")
	p("*run* is `docker run --rm` of the demo's invocation image with `--network none` (as StackHub runs it since the policed\n")
	p("socket) doing nothing but start and exit; *host* the same on the host's network. The floors are run + B: the\n")
	p("invocation container, then the compose SDK's `Up` with wait or `Down` with volumes. ms, and ratios of A.\n\n")
	p("| round | run | host | install A/(run+B) | uninstall A/(run+B) |\n|---|---|---|---|---|\n")
	for i, x := range r.Install {
		p("| %d | %s | %s | %s | %s |\n", i+1, f0(x.RunFloorMs), f0(x.RunFloorHostMs), f2(x.InstallFloor), f2(x.UninstallFloor))
	}
	p("| **median (min–max)** | %s | %s | %s | %s |\n\n",
		spreadCells(rat(func(x InstallRound) Num { return x.RunFloorMs }), f0), spreadCells(rat(func(x InstallRound) Num { return x.RunFloorHostMs }), f0),
		spreadCells(rat(func(x InstallRound) Num { return x.InstallFloor }), f2), spreadCells(rat(func(x InstallRound) Num { return x.UninstallFloor }), f2))

	p("## One CNAB action: `restart`\n\n")
	p("Engine = `POST /api/v1/apps/NAME/actions/restart`, then `GET /api/v1/jobs/ID` every 20 ms until it succeeded\n")
	p("(claim, cnab-go Docker driver: create, copy files in, attach, wait, copy outputs out, remove). Floor = `docker run\n")
	p("--rm` of the same invocation image `%s` with what the driver passes\n", r.ActionSetup.Image)
	p("(CNAB_ACTION, CNAB_INSTALLATION_NAME, the parameters as their env destinations, the Docker socket and its\n")
	p("group). Each run is checked to have restarted both containers (State.StartedAt changed), and both are healthy\n")
	p("again before the next run%s. ms.\n\n", warm(o.Warmup, "pair"))
	p("| round | engine | floor (`docker run --rm`) | engine/floor | restarted (engine, floor) | server at rest |\n|---|---|---|---|---|---|\n")
	for i, x := range r.Action {
		p("| %d | %s | %s | %s | %t, %t | %s |\n", i+1, f0(x.EngineMs), f0(x.FloorMs), f2(x.Ratio), x.EngineRestarted, x.FloorRestarted, f2(x.ServerCPU))
	}
	p("| **median (min–max)** | %s | %s | %s | | |\n\n",
		spreadCells(spread(column(r.Action, func(x ActionRound) Num { return x.EngineMs })), f0),
		spreadCells(spread(column(r.Action, func(x ActionRound) Num { return x.FloorMs })), f0),
		spreadCells(spread(column(r.Action, func(x ActionRound) Num { return x.Ratio })), f2))
	p("Floor command: `%s`\n\n", strings.Join(r.ActionSetup.Argv, " "))

	p("## The policed socket\n\n")
	p("The demo's invocation image run by `docker run --rm --network none` with the install action and its parameters,\n")
	p("then the uninstall, once with a policed socket of the bundle policy (served by the benchmark with the package the\n")
	p("server uses, and the policy a run of that installation gets) and once with Docker's own socket; which goes first\n")
	p("alternates%s. ms.\n\n", warm(o.Warmup, "pair"))
	p("| round | install policed | install direct | policed/direct | uninstall policed | uninstall direct | first |\n|---|---|---|---|---|---|---|\n")
	for i, x := range r.Policed {
		first := "direct"
		if x.PolicedFirst {
			first = "policed"
		}
		p("| %d | %s | %s | %s | %s | %s | %s |\n", i+1, f0(x.PolicedMs), f0(x.DirectMs), f2(x.Ratio), f0(x.UninstallPolicedMs), f0(x.UninstallDirectMs), first)
	}
	p("| **median (min–max)** | %s | %s | %s | %s | %s | |\n\n",
		spreadCells(spread(column(r.Policed, func(x PolicedRound) Num { return x.PolicedMs })), f0),
		spreadCells(spread(column(r.Policed, func(x PolicedRound) Num { return x.DirectMs })), f0),
		spreadCells(spread(column(r.Policed, func(x PolicedRound) Num { return x.Ratio })), f2),
		spreadCells(spread(column(r.Policed, func(x PolicedRound) Num { return x.UninstallPolicedMs })), f0),
		spreadCells(spread(column(r.Policed, func(x PolicedRound) Num { return x.UninstallDirectMs })), f0))

	if bk := r.Backup; bk.FirstMs > 0 {
		p("## Backups\n\n")
		p("A volume of %d MiB in %d files (a third each random, text-like and mostly zero pages) backed up into a kopia repository\n", bk.DataBytes>>20, bk.Files)
		p("(zstd at its fastest level, fixed 1 MiB chunks, SHA-256 hashes, AES-256-GCM) on the benchmark's disk, reading the volume's files on this host\n")
		p("as the server does when it runs on the engine's host (the first backup in a process of its own, for its memory);\n")
		p("the baseline is `tar -C <the volume's directory> -cf - . | zstd -3` into a file on the same disk. Then whole files holding 1 %% of the data\n")
		p("get new bytes (and times), and a second backup runs; the latest is restored through Docker's archive API into a new volume, against\n")
		p("`zstd -d` of Docker's archive of the volume (made with `zstd -3`) into another. ms.\n\n")
		p("| | backup | baseline | ratio |\n|---|---|---|---|\n")
		p("| first | %s | %s | speed %s× |\n", f0(bk.FirstMs), f0(bk.TarZstdMs), f2(bk.SpeedRatio))
		if bk.DockerZstdMs > 0 {
			p("| Docker's archive of the volume \\| `zstd -3` (the path without a view of the files) | | %s | |\n", f0(bk.DockerZstdMs))
		}
		p("| stored bytes | %d | %d | |\n", bk.FirstStored, bk.TarZstdStored)
		p("| second (1 %% of the data changed) | %s | | %s× of the first; adds %d bytes (%.1f %%) |\n", f0(bk.SecondMs), f2(bk.SecondShare), bk.SecondAdded, 100*float64(bk.AddedShare))
		p("| restore | %s | %s | speed %s× |\n", f0(bk.RestoreMs), f0(bk.UnzstdMs), f2(bk.RestoreSpeedRate))
		p("| resident memory | %s MiB peak | %s MiB before | |\n\n", f0(bk.PeakRSSMiB), f0(bk.BaseRSSMiB))
	}

	if g := r.Gateway; g.Routes > 0 {
		p("## The gateway\n\n")
		p("`serve --gateway --tls-internal` with %d domains on the demo app (`NoRedirect`: plain HTTP proxied), against Debian's nginx\n", g.Routes)
		p("(2 workers, `proxy_pass` to the same upstream with keepalive, `proxy_http_version 1.1`) on loopback. The upstream is the demo's web\n")
		p("container. `wrk -t%d -c%d -d%s --latency -H 'Host: d1.bench.test'`, the sides alternating each round. TLS: 8 clients making new\n", o.WrkThreads, o.WrkConns, o.WrkDuration)
		p("TLS 1.3 connections (no resumption; ECDSA P-256 certificates on both sides; the clients offer X25519 only, the key exchange both sides have: Go would otherwise pick the costlier X25519MLKEM768, which Debian 12's OpenSSL lacks) for as long as they can. RSS is serve's VmRSS after the runs.\n\n")
		p("*CPU µs per request* is each side's CPU time (user and system, from /proc: serve; nginx's two workers) over the run's requests:\n")
		p("what a proxied request costs it, which moves far less than req/s when other work shares the machine.\n\n")
		p("| round | gateway req/s | nginx req/s | ratio | gateway p99 ms | nginx p99 ms | ratio | gateway CPU µs per request | nginx | ratio |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for i := range min(len(g.Gateway), len(g.Nginx)) {
			a, n := g.Gateway[i], g.Nginx[i]
			ac, nc := missing, missing
			if i < len(g.GatewayCPU) && i < len(g.NginxCPU) {
				ac, nc = g.GatewayCPU[i], g.NginxCPU[i]
			}
			p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", i+1, f0(a.ReqPerSec), f0(n.ReqPerSec), f2(ratio(a.ReqPerSec, n.ReqPerSec)),
				f2(a.P99Ms), f2(n.P99Ms), f2(ratio(a.P99Ms, n.P99Ms)), f1(ac), f1(nc), f2(ratio(ac, nc)))
		}
		p("\n| | gateway | nginx | ratio |\n|---|---|---|---|\n")
		p("| new TLS handshakes per second | %s | %s | %s |\n", f0(g.GatewayTLS), f0(g.NginxTLS), f2(g.TLSRatio))
		p("| serve's RSS with %d routes | %s | | |\n\n", g.Routes, mb(g.RSSKiB))
	}

	if cv := r.Convert; cv.Apps > 0 {
		p("## The store converter\n\n")
		p("`storeconv.Convert` and `Write` (what `stackhub catalog convert` runs) over %d app folders: checkouts of each store made of\n", cv.Apps)
		p("copies of the converter's hand-written fixtures (orchestrator/storeconv/testdata), every converted bundle written to disk.\n\n")
		p("| store | fixtures converted / attempted |\n|---|---|\n")
		for _, st := range []string{"websoft9", "casaos", "runtipi", "umbrel", "compose"} {
			f := cv.Fixtures[st]
			p("| %s | %d / %d |\n", st, f[0], f[1])
		}
		p("\n| round | ms |\n|---|---|\n")
		for i, ms := range cv.Ms {
			p("| %d | %s |\n", i+1, f0(ms))
		}
		p("\n")
	}

	c := r.Concurrent
	p("## %d installs, %d at once\n\n", c.Apps, o.Batch)
	p("Each batch starts %d `POST /api/v1/apps` at once; each app's job is polled every 100 ms and its web port until it\n", o.Batch)
	p("answers 200. *wall* is the first request → the last app answering (of those that succeeded); *per app* is request → that app answering. ms.\n\n")
	p("| batch | apps | succeeded | wall | per app |\n|---|---|---|---|---|\n")
	for i, x := range c.Batches {
		p("| %d | %d | %d | %s | %s |\n", i+1, x.Apps, x.Succeeded, f0(x.WallMs), spreadCells(spread(x.AppMs), f0))
	}
	p("| **all** | %d | %d | %s | |\n\n", c.Apps, c.Succeeded, spreadCells(spread(column(c.Batches, func(x Batch) Num { return x.WallMs })), f0))
	if c.StoppedEarly != "" {
		p("The installs %s (of %d asked for).\n\n", c.StoppedEarly, o.Apps)
	}
	p("Ports, as Docker publishes them for the apps' containers: %d host ports for %d apps, %d distinct: %s.\n\n",
		c.HostPorts, c.Succeeded, c.DistinctPorts, c.portsVerdict())
	for _, x := range c.Batches {
		for _, e := range x.Errors {
			p("- failed: %s\n", e)
		}
	}

	p("## Reads at %d apps\n\n", c.Succeeded)
	if r.Reads.Tool == "wrk" {
		p("`wrk -t%d -c%d -d%s --latency -H 'Authorization: Bearer …'` on loopback, each run after a %s warm-up, %d rounds\n",
			o.WrkThreads, o.WrkConns, o.WrkDuration, o.WrkWarmup, o.ReadRounds)
	} else {
		p("wrk is not installed: the bench's own Go client, %d keep-alive connections in a closed loop for %s, after a %s\n", o.WrkConns, o.WrkDuration, o.WrkWarmup)
		p("warm-up, %d rounds (not comparable with wrk's figures)\n", o.ReadRounds)
	}
	p("over the endpoints in turn; the last getAppInfo run uses %d connections. wrk shares the 2 cores with the server, dockerd and the apps' health checks.\n", lowConns)
	p("Docker's `/containers/json` (running containers, %d of them the apps') is reached through %s.\n\n", 2*c.Succeeded, r.Reads.DockerVia)
	p("First on the server that made every install, as it runs after them; then on the same data dir after a restart of\n")
	p("the server (a process that has run no CNAB action and built no bundle yet).\n\n")
	readTable := func(title string, reads Reads) {
		p("%s: the reads began after a wait of %.0f s for the load to settle (at most %s), load average then %s.\n\n",
			title, float64(reads.Waited), o.QuietWait, reads.Load)
		p("| endpoint | req/s | p50 ms | p99 ms | non-2xx | socket errors |\n|---|---|---|---|---|---|\n")
		for _, s := range readSpreads(reads) {
			p("| `%s` | %s | %s | %s | %d | %d |\n", s.endpoint, spreadCells(s.rate, f0), spreadCells(s.p50, f2), spreadCells(s.p99, f2), s.non2xx, s.errors)
		}
		p("\n")
	}
	readTable("**The server that made the installs**", r.Reads)
	readTable("**After restarting it**", r.Restarted.Reads)
	p("Every run:\n\n| server | round | endpoint | req/s | p50 ms | p99 ms | requests |\n|---|---|---|---|---|---|---|\n")
	for _, set := range []struct {
		name  string
		reads Reads
	}{{"installing", r.Reads}, {"restarted", r.Restarted.Reads}} {
		for i, round := range set.reads.Rounds {
			for _, x := range round {
				p("| %s | %d | `%s` | %s | %s | %s | %d |\n", set.name, i+1, x.Endpoint, f0(x.ReqPerSec), f2(x.P50Ms), f2(x.P99Ms), x.Requests)
			}
		}
	}
	p("\n")

	p("## Memory and start-up\n\n")
	p("RSS is the server process's VmRSS (`/proc/PID/status`). Start-up is exec of `stackhub serve` → the first 200 from\n")
	p("`/healthz` (polled every 2 ms), on a fresh data dir that `token create` initialised; idle RSS is read %s later.\n", o.Settle)
	p("The last start served the rest of the bench.\n\n")
	p("| start | healthy after (ms) | idle RSS |\n|---|---|---|\n")
	for i, s := range r.Startup {
		p("| %d | %s | %s |\n", i+1, f0(s.HealthyMs), mb(s.IdleRSSKiB))
	}
	p("| **median (min–max)** | %s | |\n\n", spreadCells(spread(column(r.Startup, func(s Start) Num { return s.HealthyMs })), f0))
	p("| | |\n|---|---|\n")
	p("| RSS idle (the bench's server, before any install) | %s |\n", mb(r.Memory.IdleRSSKiB))
	p("| server CPU idle, before any install, over %s | %s cores |\n", o.IdleCPU, f2(r.Memory.IdleServerCPU))
	p("| RSS at %d apps (after %s idle) | %s |\n", c.Succeeded, o.Settle, mb(r.Memory.LoadedRSSKiB))
	p("| CPU at %d apps, no request, over %s: server / dockerd | %s / %s cores |\n", c.Succeeded, o.IdleCPU, f2(r.Memory.ServerCPU), f2(r.Memory.DockerdCPU))
	p("| RSS after the reads | %s |\n", mb(r.Memory.AfterReadsRSSKiB))
	p("| restarted at %d apps: exec → healthy `/healthz` | %s ms |\n", c.Succeeded, f0(r.Restarted.HealthyMs))
	p("| restarted at %d apps: RSS after %s / server CPU idle over %s | %s / %s cores |\n", c.Succeeded, o.Settle, o.IdleCPU, mb(r.Restarted.RSSKiB), f2(r.Restarted.ServerCPU))
	p("\n")

	p("## Bundle builds\n\n")
	p("`bin/stackhub bundle build --no-load DIR` on a copy of each bundle directory, %d runs each, exec → exit (ms). The image\n", o.BuildRuns)
	p("is sized by building it again in process with the same builder (same digest): the sum of its layers uncompressed\n")
	p("(what `docker images` shows) and gzip-compressed (what a registry push sends).\n\n")
	p("| bundle | build ms | layers | image | compressed | digest |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Builds {
		p("| %s | %s | %d | %s | %s | `%.19s…` |\n", x.Bundle, spreadCells(spread(x.Ms), f0), x.Layers, mib(x.UncompressedBytes), mib(x.CompressedBytes), x.Digest)
	}
	p("\n## Settings\n\n```\n")
	p("rounds=%d action-rounds=%d apps=%d batch=%d starts=%d settle=%s idle-cpu=%s\n", o.Rounds, o.ActionRounds, o.Apps, o.Batch, o.Starts, o.Settle, o.IdleCPU)
	p("wrk: threads=%d conns=%d duration=%s warm-up=%s read-rounds=%d; build-runs=%d; compose-v1=%s; port-base=%d\n",
		o.WrkThreads, o.WrkConns, o.WrkDuration, o.WrkWarmup, o.ReadRounds, o.BuildRuns, o.ComposeV1, o.PortBase)
	p("```\n\nThe server serves a copy of `bundles/testdata` whose `demo` ports are allocated from %d (web) and %d (db):\n", o.PortBase+1, o.PortBase+1001)
	p("the demo's own `db_port` range (3307–3399) holds 93 ports, fewer than %d apps, and the copy keeps the bench off\n", o.Apps)
	p("the ports other test runs on this machine allocate. The concurrent installs and the N-app sections install `%s`, a\n", manyApp)
	p("copy of that demo whose health checks run every %s instead of every second (the real catalog uses 3-5 s; at 1 s,\n", o.ManyHealth)
	p("the checks of 2 containers per app alone saturate 2 cores before 20 apps) and whose install waits up to 300 s.\n")
	return b.String()
}

func warm(on bool, what string) string {
	if !on {
		return ", without a warm-up " + what
	}
	return ", after one unrecorded warm-up " + what
}

func leftCells(u [3]Timing) string {
	cells := make([]string, 3)
	for i, t := range u {
		cells[i] = "—"
		if t.Leftovers >= 0 {
			cells[i] = fmt.Sprint(t.Leftovers)
		}
	}
	return strings.Join(cells, "/")
}

// writeResults writes RESULTS.md and results.json into dir.
func writeResults(dir string, r *Results) error {
	r.Targets = r.targets()
	return writeReport(dir, "results", r, r.markdown())
}

// writeReport writes v as <name>.json and md as <NAME>.md into dir (made
// when missing): every report of the bench is such a pair.
func writeReport(dir, name string, v any, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s.json: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, strings.ToUpper(name)+".md"), []byte(md), 0o644)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
