package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// bench holds what one run owns: the temporary directory, the Docker
// client, the server serving the bench and the floors.
type bench struct {
	o   Options
	log io.Writer
	// bin is Options.Bin made absolute; runtimes its directory.
	bin, runtimes string
	tmp           string
	// catalog is the copy of the test catalog the server serves.
	catalog string
	docker  *client.Client
	socket  string
	srv     *server
	sdk     *sdkFloor
	// installed names the apps the concurrent installs left running.
	installed []string
	// composeV1 is the docker-compose binary, "" when C is not run.
	composeV1 string
	wrk       string
}

func newBench(o Options, log io.Writer) (*bench, error) {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{bin, filepath.Join(filepath.Dir(bin), "bundle-runtime"), filepath.Join(filepath.Dir(bin), "websoft9-runtime")} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w (make build puts it there)", err)
		}
	}
	b := &bench{o: o, log: log, bin: bin, runtimes: filepath.Dir(bin)}
	if o.ComposeV1 != "off" {
		p, err := exec.LookPath("docker-compose")
		switch {
		case err == nil:
			b.composeV1 = p
		case o.ComposeV1 == "on":
			return nil, fmt.Errorf("docker-compose is not installed (apt-get install docker-compose): %w", err)
		}
	}
	if p, err := exec.LookPath("wrk"); err == nil {
		b.wrk = p
	}
	if b.docker, err = client.New(client.FromEnv, client.WithAPIVersionNegotiation()); err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	b.socket = dockerSocket(os.Getenv("DOCKER_HOST"))
	if b.tmp, err = os.MkdirTemp("", "stackhub-bench-"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run runs every section in order and returns the results: on an error,
// those measured so far.
func (b *bench) run(ctx context.Context) (*Results, error) {
	res := &Results{Date: time.Now().UTC(), Settings: b.o}
	var err error
	if res.Machine, err = b.machine(ctx); err != nil {
		return nil, err
	}
	res.Machine.LoadBefore = loadavg()
	b.logf("load before: %s", res.Machine.LoadBefore)
	if err := b.sweep(ctx); err != nil { // leftovers of an earlier run with this prefix
		return nil, err
	}
	if b.catalog, err = b.copyCatalog(); err != nil {
		return nil, err
	}
	if b.sdk, err = newSDKFloor(); err != nil {
		return nil, err
	}
	// A section that fails is reported and the next one runs, unless it
	// is needed by the rest (must) or the run was interrupted.
	steps := []struct {
		key, name string
		fn        func(context.Context, *Results) error
		must      bool
	}{
		{"builds", "bundle builds", b.benchBuilds, false},
		{"startup", "start-up", b.benchStartup, true},
		{"install", "install/uninstall", b.benchInstall, false},
		{"action", "CNAB action", b.benchAction, false},
		{"policed", "policed socket", b.benchPoliced, false},
		{"backups", "backups", b.benchBackup, false},
		{"gateway", "the gateway against nginx", b.benchGateway, false},
		{"convert", "the store converter", b.benchConvert, false},
		{"concurrent", "concurrent installs", b.benchConcurrent, false},
		{"loaded", "memory and CPU at N apps", b.benchLoaded, false},
		{"reads", "reads", b.benchReads, false},
		{"restart", "restart at N apps, reads again", b.benchRestart, false},
	}
	for _, s := range steps {
		if b.o.Sections != "" && !slices.Contains(strings.Split(b.o.Sections, ","), s.key) {
			continue
		}
		b.logf("== %s", s.name)
		err := s.fn(ctx, res)
		switch {
		case err == nil:
		case s.must || ctx.Err() != nil:
			return res, fmt.Errorf("%s: %w", s.name, err)
		default:
			b.logf("%s failed: %v", s.name, err)
			res.Failures = append(res.Failures, fmt.Sprintf("%s: %v", s.name, err))
		}
		// A checkpoint after each section, so that a run killed outright
		// still leaves what it measured; main writes the final report.
		res.Incomplete = "a checkpoint: the run had not finished, its last section done was " + s.name
		if err := writeResults(b.o.Out, res); err != nil {
			return res, err
		}
		res.Incomplete = ""
	}
	res.Machine.LoadAfter = loadavg()
	b.logf("load after: %s", res.Machine.LoadAfter)
	return res, nil
}

// close stops the server and removes everything the run created; after
// a failure it shows the end of the server's log first.
func (b *bench) close(ctx context.Context, failed bool) error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.stop())
		if failed {
			b.logf("the server log ends with:\n%s", tail(b.srv.logFile))
		}
	}
	if b.docker != nil {
		errs = append(errs, b.sweep(ctx))
		b.docker.Close()
	}
	if b.tmp != "" {
		if b.o.Keep {
			b.logf("kept %s", b.tmp)
		} else {
			errs = append(errs, os.RemoveAll(b.tmp))
		}
	}
	return errors.Join(errs...)
}

// copyCatalog copies the test catalog into the temporary directory and
// moves demo's port ranges to PortBase.
func (b *bench) copyCatalog() (string, error) {
	dst := filepath.Join(b.tmp, "catalog")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(b.o.Bundles, "testdata"))); err != nil {
		return "", fmt.Errorf("copy test catalog: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(dst, "demo", ".cnab")); err != nil {
		return "", err
	}
	manifest := filepath.Join(dst, "demo", "porter.yaml")
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return "", err
	}
	out, err := rangePorts(raw, b.o.PortBase)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(manifest, out, 0o644); err != nil {
		return "", err
	}
	return dst, b.manyCopy(dst)
}

// manyApp is the demo with the health checks of a real bundle, for the
// sections that run many apps at once.
const manyApp = "demomany"

// manyCopy writes catalog/demomany: the demo whose health checks run every
// ManyHealth instead of every second (the real catalog's bundles use 3-5
// s): at 1 s, 200 containers' checks alone are 200 docker execs a second,
// more than 2 cores run, and installs time out waiting for health rather
// than measuring StackHub. Its wait grows to match.
func (b *bench) manyCopy(catalog string) error {
	src, dst := filepath.Join(catalog, "demo"), filepath.Join(catalog, manyApp)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy demo as %s: %w", manyApp, err)
	}
	edits := map[string][][2]string{
		"porter.yaml":        {{"name: demo\n", "name: " + manyApp + "\n"}, {"wait: 60s", "wait: 300s"}},
		"docker-compose.yml": {{"interval: 1s", "interval: " + b.o.ManyHealth.String()}},
	}
	for file, pairs := range edits {
		raw, err := os.ReadFile(filepath.Join(dst, file))
		if err != nil {
			return err
		}
		text := string(raw)
		for _, p := range pairs {
			if !strings.Contains(text, p[0]) {
				return fmt.Errorf("demo's %s has no %q any more: update manyCopy", file, p[0])
			}
			text = strings.ReplaceAll(text, p[0], p[1])
		}
		if err := os.WriteFile(filepath.Join(dst, file), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var portRangeRE = regexp.MustCompile(`(?m)^(  - name: (port|db_port)\n(?:    [^\n]*\n)*?    minimum: )\d+\n    maximum: \d+\n`)

// rangePorts rewrites the minimum and maximum of demo's port parameters:
// port to base+1…base+999, db_port to base+1001…base+1999.
func rangePorts(manifest []byte, base int) ([]byte, error) {
	n := 0
	out := portRangeRE.ReplaceAllFunc(manifest, func(m []byte) []byte {
		sub := portRangeRE.FindSubmatch(m)
		lo := base + 1
		if string(sub[2]) == "db_port" {
			lo = base + 1001
		}
		n++
		return fmt.Appendf(nil, "%s%d\n    maximum: %d\n", sub[1], lo, lo+998)
	})
	if n != 2 {
		return nil, fmt.Errorf("demo's porter.yaml: found %d of the port and db_port ranges, want 2", n)
	}
	return out, nil
}
