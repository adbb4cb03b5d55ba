package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// ActionRound is one CNAB action through the engine and through docker run.
type ActionRound struct {
	// EngineMs is POST …/actions/restart → the job succeeded (polled
	// every 20 ms).
	EngineMs Num `json:"engineMs"`
	// FloorMs is `docker run --rm` of the invocation image → exit 0.
	FloorMs Num `json:"floorMs"`
	Ratio   Num `json:"ratio"`
	// Restarted says both containers started again after each run.
	EngineRestarted bool `json:"engineRestarted"`
	FloorRestarted  bool `json:"floorRestarted"`
	// ServerCPU is the server's CPU use over one second of rest before
	// the pair, in cores.
	ServerCPU Num `json:"serverCpu"`
}

// ActionSetup is what the floor ran.
type ActionSetup struct {
	Action string   `json:"action"`
	Image  string   `json:"image"`
	Argv   []string `json:"argv"`
}

// benchAction installs one app through the API, then restarts it
// ActionRounds times through the engine and through `docker run --rm` of
// the same invocation image, in turn (one unrecorded warm-up pair first
// unless Warmup is off),
// waiting for both containers to be healthy again between runs.
func (b *bench) benchAction(ctx context.Context, res *Results) (err error) {
	name := b.o.Prefix + "-act"
	defer func() {
		if err != nil { // leave no app behind to weigh on what follows
			err = errors.Join(err, b.removeApp(context.WithoutCancel(ctx), name))
		}
	}()
	app, job, err := b.srv.install(ctx, "demo", name)
	if err != nil {
		return err
	}
	if _, err := b.srv.waitJob(ctx, job, 100*time.Millisecond); err != nil {
		return err
	}
	containers := []string{"websoft9-" + name, "websoft9-" + name + "-db"}
	if err := b.waitHealthy(ctx, containers); err != nil {
		return err
	}
	bun, gid, err := b.demoInvocation()
	if err != nil {
		return err
	}
	argv := func(rev string) []string {
		// What cnab-go's docker driver and cnabrun give the invocation
		// container (CNAB_*, PORTER_*, the parameters at their env
		// destinations, the socket and its group), without the files it
		// copies in: /cnab/bundle.json is in the image already.
		env := map[string]string{
			"CNAB_ACTION": "restart", "CNAB_INSTALLATION_NAME": "/" + name, "CNAB_BUNDLE_NAME": bun.Name,
			"CNAB_BUNDLE_VERSION": bun.Version, "CNAB_REVISION": rev,
			"PORTER_INSTALLATION_NAME": name, "PORTER_INSTALLATION_ID": name, "PORTER_INSTALLATION_NAMESPACE": "",
			"PORTER_DEBUG": "false", "PORT": strconv.Itoa(app.Ports["port"]), "DB_PORT": strconv.Itoa(app.Ports["db_port"]),
		}
		a := []string{"run", "--rm", "--label", LabelBench + "=" + b.o.Prefix,
			"-v", b.socket + ":/var/run/docker.sock", "--group-add", strconv.Itoa(gid)}
		for _, k := range sortedKeys(env) {
			a = append(a, "-e", k+"="+env[k])
		}
		return append(a, bun.Image)
	}
	res.ActionSetup = ActionSetup{Action: "restart", Image: bun.Image, Argv: append([]string{"docker"}, argv("REV")...)}
	first := 0
	if !b.o.Warmup {
		first = 1
	}
	for r := first; r <= b.o.ActionRounds; r++ {
		var round ActionRound
		if round.ServerCPU, err = b.serverCPU(ctx, time.Second); err != nil {
			return err
		}
		// Engine.
		before, err := b.startedAt(ctx, containers)
		if err != nil {
			return err
		}
		t0 := time.Now()
		j, err := b.srv.api.AppAction(ctx, name, "restart")
		if err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		if _, err := b.srv.waitJob(ctx, j.ID, 20*time.Millisecond); err != nil {
			return err
		}
		round.EngineMs = ms(time.Since(t0))
		if round.EngineRestarted, err = b.restarted(ctx, containers, before); err != nil {
			return err
		}
		if err := b.waitHealthy(ctx, containers); err != nil {
			return err
		}
		// Floor.
		if before, err = b.startedAt(ctx, containers); err != nil {
			return err
		}
		t0 = time.Now()
		out, err := exec.CommandContext(ctx, "docker", argv(fmt.Sprintf("bench-floor-%d", r))...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("floor docker run: %w: %s", err, out)
		}
		round.FloorMs = ms(time.Since(t0))
		if round.FloorRestarted, err = b.restarted(ctx, containers, before); err != nil {
			return err
		}
		if !round.FloorRestarted || !round.EngineRestarted {
			return fmt.Errorf("a restart left a container as it was (engine %t, floor %t); floor output: %s",
				round.EngineRestarted, round.FloorRestarted, out)
		}
		if err := b.waitHealthy(ctx, containers); err != nil {
			return err
		}
		round.Ratio = ratio(round.EngineMs, round.FloorMs)
		if r == 0 {
			b.logf("action warm-up: engine %.0f ms, floor %.0f ms", round.EngineMs, round.FloorMs)
			continue
		}
		b.logf("action round %d/%d: engine %.0f ms, floor %.0f ms (%.2f); server at rest %.2f cores", r, b.o.ActionRounds, round.EngineMs, round.FloorMs, round.Ratio, round.ServerCPU)
		res.Action = append(res.Action, round)
	}
	return b.srv.uninstall(ctx, name)
}

type bundleRef struct {
	Name, Version, Image string
	// Images are the images the bundle lists.
	Images []string
}

// demoInvocation reads the demo's built bundle.json and the group of the
// Docker socket, what a run of its invocation image needs.
func (b *bench) demoInvocation() (bundleRef, int, error) {
	bun, err := readBundleJSON(filepath.Join(b.catalog, "demo", ".cnab", "bundle.json"))
	if err != nil {
		return bundleRef{}, 0, err
	}
	fi, err := os.Stat(b.socket)
	if err != nil {
		return bundleRef{}, 0, err
	}
	gid := 0
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
	}
	return bun, gid, nil
}

// readBundleJSON reads the name, version and invocation image of a built
// bundle.
func readBundleJSON(path string) (bundleRef, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return bundleRef{}, err
	}
	var bj struct {
		Name             string `json:"name"`
		Version          string `json:"version"`
		InvocationImages []struct {
			Image string `json:"image"`
		} `json:"invocationImages"`
		Images map[string]struct {
			Image string `json:"image"`
		} `json:"images"`
	}
	if err := json.Unmarshal(data, &bj); err != nil {
		return bundleRef{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(bj.InvocationImages) == 0 {
		return bundleRef{}, fmt.Errorf("%s has no invocation image", path)
	}
	ref := bundleRef{Name: bj.Name, Version: bj.Version, Image: bj.InvocationImages[0].Image}
	for _, alias := range slices.Sorted(maps.Keys(bj.Images)) {
		ref.Images = append(ref.Images, bj.Images[alias].Image)
	}
	return ref, nil
}

// startedAt returns the State.StartedAt of each container.
func (b *bench) startedAt(ctx context.Context, names []string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		insp, err := b.docker.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		out[i] = insp.Container.State.StartedAt
	}
	return out, nil
}

// restarted tells whether every container started again since before and
// is running.
func (b *bench) restarted(ctx context.Context, names, before []string) (bool, error) {
	for i, n := range names {
		insp, err := b.docker.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
		if err != nil {
			return false, err
		}
		if insp.Container.State.StartedAt == before[i] || !insp.Container.State.Running {
			return false, nil
		}
	}
	return true, nil
}

// waitHealthy waits up to a minute for every container's health check to
// pass.
func (b *bench) waitHealthy(ctx context.Context, names []string) error {
	deadline := time.Now().Add(time.Minute)
	for _, n := range names {
		for {
			insp, err := b.docker.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			if h := insp.Container.State.Health; h != nil && h.Status == "healthy" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s is not healthy after a minute", n)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}
