package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/orchestrator/dockerpolicy/socket"
)

// PolicedRound is one install of the demo by `docker run --rm` of its
// invocation image, as cnabrun runs it (--network none), once through a
// policed socket of the bundle policy (as every StackHub run) and once
// through Docker's own socket (as Porter's --allow-docker-host-access),
// each followed by its uninstall.
type PolicedRound struct {
	PolicedMs Num `json:"policedMs"`
	DirectMs  Num `json:"directMs"`
	Ratio     Num `json:"ratio"`
	// The uninstalls that followed, through the same socket.
	UninstallPolicedMs Num `json:"uninstallPolicedMs"`
	UninstallDirectMs  Num `json:"uninstallDirectMs"`
	// PolicedFirst says which ran first this round (they alternate).
	PolicedFirst bool `json:"policedFirst"`
}

// benchPoliced measures what the policed socket costs an install: the
// same invocation image, action and parameters, with only the socket
// changed. The benchmark serves the policed socket itself, with the
// package the server uses (dockerpolicy/socket) and the policy a run of
// that installation gets: running a bundle unpoliced is never something
// the server can be asked to do.
func (b *bench) benchPoliced(ctx context.Context, res *Results) error {
	bun, gid, err := b.demoInvocation()
	if err != nil {
		return err
	}
	name := b.o.Prefix + "-pol"
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "stackhub-bench-sock-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	policed := filepath.Join(dir, "docker.sock")
	srv, err := socket.Listen(socket.Options{Socket: policed, Upstream: b.socket,
		Policy: dockerpolicy.Policy{Installation: name, Images: bun.Images, HostPorts: ports}})
	if err != nil {
		return err
	}
	defer srv.Close()

	run := func(action, sock string, round int) (Num, error) {
		env := map[string]string{
			"CNAB_ACTION": action, "CNAB_INSTALLATION_NAME": "/" + name, "CNAB_BUNDLE_NAME": bun.Name,
			"CNAB_BUNDLE_VERSION": bun.Version, "CNAB_REVISION": fmt.Sprintf("bench-%s-%d", action, round),
			"PORTER_INSTALLATION_NAME": name, "PORTER_INSTALLATION_ID": name, "PORTER_INSTALLATION_NAMESPACE": "",
			"PORTER_DEBUG": "false", "PORT": strconv.Itoa(ports[0]), "DB_PORT": strconv.Itoa(ports[1]),
			"MESSAGE": "hello", "ADMIN_PASSWORD": "", "PURGE": "true",
		}
		argv := []string{"run", "--rm", "--network", "none", "--label", LabelBench + "=" + b.o.Prefix,
			"-v", sock + ":/var/run/docker.sock"}
		if sock == b.socket {
			argv = append(argv, "--group-add", strconv.Itoa(gid))
		}
		for _, k := range sortedKeys(env) {
			argv = append(argv, "-e", k+"="+env[k])
		}
		argv = append(argv, bun.Image)
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, "docker", argv...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s through %s: %w: %s", action, sock, err, out)
		}
		return ms(time.Since(t0)), nil
	}
	pair := func(sock string, round int) (install, uninstall Num, err error) {
		if install, err = run("install", sock, round); err != nil {
			return 0, 0, err
		}
		if uninstall, err = run("uninstall", sock, round); err != nil {
			return 0, 0, err
		}
		return install, uninstall, nil
	}
	first := 0
	if !b.o.Warmup {
		first = 1
	}
	for r := first; r <= b.o.Rounds; r++ {
		round := PolicedRound{PolicedFirst: r%2 == 1}
		for _, policedNow := range []bool{round.PolicedFirst, !round.PolicedFirst} {
			if policedNow {
				round.PolicedMs, round.UninstallPolicedMs, err = pair(policed, r)
			} else {
				round.DirectMs, round.UninstallDirectMs, err = pair(b.socket, r)
			}
			if err != nil {
				_ = b.removeApp(context.WithoutCancel(ctx), name)
				return err
			}
		}
		round.Ratio = ratio(round.PolicedMs, round.DirectMs)
		if r == 0 {
			b.logf("policed warm-up: policed %.0f ms, direct %.0f ms", round.PolicedMs, round.DirectMs)
			continue
		}
		b.logf("policed round %d/%d: install policed %.0f ms, direct %.0f ms (%.2f); uninstall %.0f / %.0f ms", r, b.o.Rounds,
			round.PolicedMs, round.DirectMs, round.Ratio, round.UninstallPolicedMs, round.UninstallDirectMs)
		res.Policed = append(res.Policed, round)
	}
	return nil
}

// freePorts returns n TCP ports free on loopback now.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
