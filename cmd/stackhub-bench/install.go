package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
)

// Timing is one install or uninstall.
type Timing struct {
	// ReadyMs is request → the app's web port answers 200 (installs), or
	// request → done (uninstalls).
	ReadyMs Num `json:"readyMs"`
	// DoneMs is request → the operation returned: the job succeeded (A),
	// Up with wait returned (B), up -d exited (C).
	DoneMs Num `json:"doneMs"`
	// Leftovers counts what an uninstall left (containers, networks,
	// volumes); -1 when not checked.
	Leftovers int `json:"leftovers"`
}

// InstallRound is one round: A (StackHub), B (compose SDK), C
// (docker-compose 1.29, missing when not run).
type InstallRound struct {
	Install   [3]Timing `json:"install"`
	Uninstall [3]Timing `json:"uninstall"`
	// Ratios are A/B and C/B of ReadyMs.
	InstallAB   Num `json:"installAB"`
	InstallCB   Num `json:"installCB"`
	UninstallAB Num `json:"uninstallAB"`
	UninstallCB Num `json:"uninstallCB"`
	// RunFloorMs is `docker run --rm` of the demo's invocation image with
	// --network none (as StackHub runs it) doing nothing but start and
	// exit: the container a CNAB action costs at the least.
	RunFloorMs Num `json:"runFloorMs"`
	// RunFloorHostMs is the same run on the host's network, which
	// invocation containers holding the host's socket used before the
	// policed socket: --network none is kept when it is not slower.
	RunFloorHostMs Num `json:"runFloorHostMs"`
	// InstallFloor and UninstallFloor are A / (RunFloor + B): StackHub
	// against the least any CNAB engine could do (run the invocation
	// image, and have the compose SDK bring the project up or down).
	InstallFloor   Num `json:"installFloor"`
	UninstallFloor Num `json:"uninstallFloor"`
	// ServerCPU is the server's CPU use over one second of rest before
	// the round, in cores: what it burns in the background.
	ServerCPU Num `json:"serverCpu"`
	// Errors are the sides that failed, whose timings are missing.
	Errors []string `json:"errors,omitempty"`
}

const (
	sideA = iota
	sideB
	sideC
)

var sideNames = [3]string{"A StackHub API", "B compose v5 SDK", "C docker-compose 1.29"}

// benchInstall runs one unrecorded warm-up round (unless Warmup is off),
// then Rounds rounds of A, B and C, each installed and uninstalled before
// the next begins.
func (b *bench) benchInstall(ctx context.Context, res *Results) error {
	first := 0
	if !b.o.Warmup {
		first = 1
	}
	for r := first; r <= b.o.Rounds; r++ {
		var round InstallRound
		var err error
		if round.ServerCPU, err = b.serverCPU(ctx, time.Second); err != nil {
			return err
		}
		for side := sideA; side <= sideC; side++ {
			if side == sideC && b.composeV1 == "" {
				round.Install[side] = Timing{ReadyMs: missing, DoneMs: missing, Leftovers: -1}
				round.Uninstall[side] = round.Install[side]
				continue
			}
			name := fmt.Sprintf("%s-%c-%d", b.o.Prefix, "abc"[side], r)
			in, un, err := b.installPair(ctx, side, name)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				// A failed pair is reported, its objects removed, and the
				// bench goes on: one slow Docker call on a busy machine
				// should not cost the whole run.
				b.logf("round %d %s failed: %v", r, sideNames[side], err)
				round.Errors = append(round.Errors, fmt.Sprintf("%s: %v", sideNames[side], err))
				in = Timing{ReadyMs: missing, DoneMs: missing, Leftovers: -1}
				un = in
				if err := b.removeApp(ctx, name); err != nil {
					return err
				}
			}
			round.Install[side], round.Uninstall[side] = in, un
		}
		i, u := round.Install, round.Uninstall
		round.InstallAB, round.InstallCB = ratio(i[sideA].ReadyMs, i[sideB].ReadyMs), ratio(i[sideC].ReadyMs, i[sideB].ReadyMs)
		round.UninstallAB, round.UninstallCB = ratio(u[sideA].ReadyMs, u[sideB].ReadyMs), ratio(u[sideC].ReadyMs, u[sideB].ReadyMs)
		if round.RunFloorMs, err = b.runFloor(ctx, "none"); err != nil {
			b.logf("round %d: run floor: %v", r, err)
			round.RunFloorMs = missing
		}
		if round.RunFloorHostMs, err = b.runFloor(ctx, "host"); err != nil {
			b.logf("round %d: run floor on the host network: %v", r, err)
			round.RunFloorHostMs = missing
		}
		round.InstallFloor = ratio(i[sideA].ReadyMs, i[sideB].ReadyMs+round.RunFloorMs)
		round.UninstallFloor = ratio(u[sideA].ReadyMs, u[sideB].ReadyMs+round.RunFloorMs)
		label := "warm-up"
		if r > 0 {
			label = fmt.Sprintf("round %d/%d", r, b.o.Rounds)
			res.Install = append(res.Install, round)
		}
		b.logf("install %s: A %.0f B %.0f C %.0f ms (A/B %.2f, A/(run+B) %.2f); uninstall A %.0f B %.0f C %.0f ms (A/(run+B) %.2f); run floor %.0f ms; server at rest %.2f cores", label,
			i[sideA].ReadyMs, i[sideB].ReadyMs, i[sideC].ReadyMs, round.InstallAB, round.InstallFloor, u[sideA].ReadyMs, u[sideB].ReadyMs, u[sideC].ReadyMs,
			round.UninstallFloor, round.RunFloorMs, round.ServerCPU)
		b.logf("invocation container start+exit: --network none %.0f ms, host %.0f ms", round.RunFloorMs, round.RunFloorHostMs)
	}
	return nil
}

// runFloor times `docker run --rm` of the demo's invocation image on
// network mode network, running the websoft9 runtime's version verb: a
// container's start and exit, nothing else.
func (b *bench) runFloor(ctx context.Context, network string) (Num, error) {
	bun, err := readBundleJSON(filepath.Join(b.catalog, "demo", ".cnab", "bundle.json"))
	if err != nil {
		return missing, err
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", network, "--label", LabelBench+"="+b.o.Prefix,
		"--entrypoint", "/cnab/app/mixins/websoft9/runtimes/websoft9-runtime", bun.Image, "version").CombinedOutput()
	if err != nil {
		return missing, fmt.Errorf("docker run %s: %w: %s", bun.Image, err, out)
	}
	return ms(time.Since(t0)), nil
}

// installPair installs and uninstalls the demo app once through side.
func (b *bench) installPair(ctx context.Context, side int, name string) (Timing, Timing, error) {
	switch side {
	case sideA:
		return b.pairA(ctx, name)
	case sideB:
		return b.pairB(ctx, name)
	default:
		return b.pairC(ctx, name)
	}
}

func (b *bench) pairA(ctx context.Context, name string) (Timing, Timing, error) {
	t0 := time.Now()
	app, job, err := b.srv.install(ctx, "demo", name)
	if err != nil {
		return Timing{}, Timing{}, err
	}
	return b.timeSide(ctx, t0, fmt.Sprintf("http://127.0.0.1:%d/", app.Ports["port"]),
		func(ctx context.Context) error {
			_, err := b.srv.waitJob(ctx, job, 20*time.Millisecond)
			return err
		},
		func(ctx context.Context) error { return b.srv.uninstall(ctx, name) },
		"sh.websoft9.app", name)
}

func (b *bench) pairB(ctx context.Context, name string) (Timing, Timing, error) {
	env, err := freePortsEnv()
	if err != nil {
		return Timing{}, Timing{}, err
	}
	project := "websoft9-" + name
	file := filepath.Join(b.catalog, "demo", "docker-compose.yml")
	var p *types.Project
	in, un, err := b.timeSide(ctx, time.Now(), "http://127.0.0.1:"+env["WEB_PORT"]+"/",
		func(ctx context.Context) error {
			var err error
			if p, err = b.sdk.load(ctx, project, file, env); err != nil {
				return err
			}
			return b.sdk.up(ctx, p)
		},
		func(ctx context.Context) error { return b.sdk.down(ctx, p) },
		api.ProjectLabel, project)
	if err != nil && in.ReadyMs == 0 && p != nil {
		_ = b.sdk.down(context.WithoutCancel(ctx), p) // up failed: take down what it made
	}
	return in, un, err
}

func (b *bench) pairC(ctx context.Context, name string) (Timing, Timing, error) {
	env, err := freePortsEnv()
	if err != nil {
		return Timing{}, Timing{}, err
	}
	project := "websoft9-" + name
	file := filepath.Join(b.catalog, "demo", "docker-compose.yml")
	compose := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, b.composeV1, append([]string{"-p", project, "-f", file}, args...)...)
		// Its 60 s default per Docker call is too short on a busy machine.
		cmd.Env = append(os.Environ(), "COMPOSE_HTTP_TIMEOUT=300")
		for _, k := range slices.Sorted(maps.Keys(env)) {
			cmd.Env = append(cmd.Env, k+"="+env[k])
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker-compose %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return b.timeSide(ctx, time.Now(), "http://127.0.0.1:"+env["WEB_PORT"]+"/",
		func(ctx context.Context) error { return compose(ctx, "up", "-d") },
		func(ctx context.Context) error { return compose(ctx, "down", "-v") },
		api.ProjectLabel, project)
}

// timeSide measures one side of an install/uninstall pair from t0: up
// runs while url is polled (ready = the first 200), then down is timed
// and the objects labelled key=value left behind are counted.
func (b *bench) timeSide(ctx context.Context, t0 time.Time, url string, up, down func(context.Context) error, key, value string) (in, un Timing, err error) {
	ready, doneAt, err := readyWhile(ctx, url, up)
	if err != nil {
		return in, un, err
	}
	in = Timing{ReadyMs: ms(ready.Sub(t0)), DoneMs: ms(doneAt.Sub(t0)), Leftovers: -1}
	t1 := time.Now()
	if err := down(ctx); err != nil {
		return in, un, err
	}
	d := ms(time.Since(t1))
	left, err := b.leftovers(ctx, key, value)
	un = Timing{ReadyMs: d, DoneMs: d, Leftovers: left}
	return in, un, err
}

// readyWhile runs op while it polls url, and returns when url first
// answered 200 and when op returned. An op that fails stops the polling.
func readyWhile(ctx context.Context, url string, op func(context.Context) error) (ready, done time.Time, err error) {
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	opErr := make(chan error, 1)
	go func() { // joined below
		err := op(ctx)
		done = time.Now()
		if err != nil {
			cancel()
		}
		opErr <- err
	}()
	ready, httpErr := waitHTTP(pollCtx, url, 3*time.Minute)
	if err := <-opErr; err != nil {
		return ready, done, err
	}
	return ready, done, httpErr
}

// freePortsEnv picks two free loopback ports (the kernel's choice) for
// WEB_PORT and DB_PORT.
func freePortsEnv() (map[string]string, error) {
	var ports []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close() // held until both are picked, so they differ
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		ports = append(ports, p)
	}
	return map[string]string{"WEB_PORT": ports[0], "DB_PORT": ports[1]}, nil
}

// sdkFloor brings a compose project up and down with the compose v5 SDK,
// with the options the websoft9 mixin uses (porter-mixin/compose.go), and
// nothing of StackHub around it.
type sdkFloor struct {
	svc api.Compose
}

func newSDKFloor() (*sdkFloor, error) {
	dockerCLI, err := command.NewDockerCli(command.WithOutputStream(io.Discard), command.WithErrorStream(io.Discard))
	if err != nil {
		return nil, fmt.Errorf("docker cli: %w", err)
	}
	if err := dockerCLI.Initialize(flags.NewClientOptions()); err != nil {
		return nil, fmt.Errorf("docker cli: %w", err)
	}
	refuse := func(message string, _ bool) (bool, error) {
		return false, fmt.Errorf("compose asked %q; refusing", strings.TrimSpace(message))
	}
	svc, err := compose.NewComposeService(dockerCLI, compose.WithOutputStream(io.Discard),
		compose.WithErrorStream(io.Discard), compose.WithPrompt(refuse))
	if err != nil {
		return nil, err
	}
	return &sdkFloor{svc: svc}, nil
}

func (f *sdkFloor) load(ctx context.Context, project, file string, env map[string]string) (*types.Project, error) {
	kv := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		kv = append(kv, k+"="+env[k])
	}
	p, err := f.svc.LoadProject(ctx, api.ProjectLoadOptions{
		ProjectName: project, ConfigPaths: []string{file}, WorkingDir: filepath.Dir(file), Offline: true,
		ProjectOptionsFns: []cli.ProjectOptionsFn{cli.WithEnv(kv)},
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return p, nil
}

func (f *sdkFloor) up(ctx context.Context, p *types.Project) error {
	err := f.svc.Up(ctx, p, api.UpOptions{
		Create: api.CreateOptions{Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged, RemoveOrphans: true},
		Start:  api.StartOptions{Project: p, Wait: true, WaitTimeout: time.Minute},
	})
	if err != nil {
		return fmt.Errorf("compose up %s: %w", p.Name, err)
	}
	return nil
}

func (f *sdkFloor) down(ctx context.Context, p *types.Project) error {
	if err := f.svc.Down(ctx, p.Name, api.DownOptions{RemoveOrphans: true, Volumes: true, Project: p}); err != nil {
		return fmt.Errorf("compose down %s: %w", p.Name, err)
	}
	return nil
}
