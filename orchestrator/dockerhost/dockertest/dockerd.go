package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Dockerd is a private Docker engine a test may stop and start as it
// likes: its own data root, exec root, socket and address pool, and its
// own network namespace, so that its docker0, iptables rules and published
// ports never touch the host engine's (a second dockerd in the host's
// namespace deletes the host's docker0 when it restarts). Its published
// ports are reached from inside that namespace: see Exec.
type Dockerd struct {
	Socket string
	// NetNS is the network namespace (ip netns) dockerd runs in.
	NetNS string
	// uts, when set, is the UTS namespace (a bind-mounted nsfs file) that
	// gives dockerd a hostname of its own: a Swarm node is named by it.
	uts string
	// env is added to dockerd's environment.
	env  []string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	// NetworkStoreReset says Start met Docker 20.10's reservePools panic
	// and set the network store aside: the networks made before are gone.
	NetworkStoreReset bool
}

// StartDockerd starts a private dockerd and stops it when tb ends. images
// are copied into it from the host's engine (nothing can be pulled).
func StartDockerd(tb testing.TB, images ...string) *Dockerd {
	tb.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		tb.Fatalf("dockerd is not installed (make docker-up installs it): %v", err)
	}
	// Short: the socket path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", "shd")
	if err != nil {
		tb.Fatal(err)
	}
	d := &Dockerd{Socket: filepath.Join(dir, "d.sock"), dir: dir}
	d.NetNS = "shd-" + filepath.Base(dir)[len(filepath.Base(dir))-6:]
	for _, args := range [][]string{
		{"ip", "netns", "add", d.NetNS},
		{"nsenter", "--net=/var/run/netns/" + d.NetNS, "ip", "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			tb.Fatalf("private dockerd: %v: %v: %s", args, err, out)
		}
	}
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", d.NetNS).Run() })
	if err := d.configure("base=10.214.0.0/16,size=24", "stackhub-test-dockerd"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Stop(); err != nil {
			tb.Logf("private dockerd: %v", err)
		}
		d.log.Close()
		if tb.Failed() {
			if log, err := os.ReadFile(d.log.Name()); err == nil {
				tb.Logf("private dockerd log (tail):\n%s", tail(log, 4000))
			}
		}
		// What the stopped dockerd left mounted under its roots (a swarm's
		// ingress namespaces, overlay layers) is detached, then the roots go.
		if err := unmountUnder(dir); err != nil {
			tb.Errorf("private dockerd's mounts: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	if err := d.Start(); err != nil {
		tb.Fatal(err)
	}
	for _, img := range images {
		if err := d.copyImage(tb.Context(), img); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

// configure sets the daemon's arguments (its roots and socket under d.dir,
// the local address pool, the cgroup parent of its containers) and
// creates its log file.
func (d *Dockerd) configure(pool, cgroupParent string) error {
	d.args = []string{
		"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "x"),
		"--pidfile", filepath.Join(d.dir, "d.pid"), "--host", "unix://" + d.Socket,
		"--default-address-pool", pool, "--cgroup-parent", cgroupParent,
		"--shutdown-timeout", "3",
	}
	var err error
	if d.log, err = os.Create(filepath.Join(d.dir, "dockerd.log")); err != nil {
		return fmt.Errorf("private dockerd: %w", err)
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Start runs dockerd and waits until it answers. Docker 20.10 has a bug
// that a stop during a network's creation can trigger: the network is
// stored without its address pool, and the next start panics in
// libnetwork's reservePools. Start then does what an operator would:
// it sets the network store aside and starts once more.
func (d *Dockerd) Start() error {
	err := d.start()
	if err == nil || !d.networkStorePanic() {
		return err
	}
	store := filepath.Join(d.dir, "data", "network", "files", "local-kv.db")
	if rerr := os.Rename(store, store+".reservePools-panic"); rerr != nil {
		return errors.Join(err, rerr)
	}
	fmt.Fprintf(d.log, "\n--- dockertest: Docker 20.10's reservePools panic at start; network store set aside, starting again ---\n")
	d.NetworkStoreReset = true
	return d.start()
}

// networkStorePanic tells whether dockerd's log ends with libnetwork's
// reservePools panic.
func (d *Dockerd) networkStorePanic() bool {
	b, err := os.ReadFile(d.log.Name())
	if err != nil {
		return false
	}
	tail := b[max(0, len(b)-16<<10):]
	return bytes.Contains(tail, []byte("panic: runtime error")) && bytes.Contains(tail, []byte("reservePools"))
}

func (d *Dockerd) start() error {
	if d.cmd != nil {
		return errors.New("private dockerd: already running")
	}
	// nsenter, not ip netns exec: that one remounts /sys, hiding the
	// cgroup mounts dockerd needs.
	argv := []string{"--net=/var/run/netns/" + d.NetNS}
	if d.uts != "" {
		argv = append(argv, "--uts="+d.uts)
	}
	cmd := exec.Command("nsenter", append(append(argv, "dockerd"), d.args...)...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if d.env != nil {
		cmd.Env = append(os.Environ(), d.env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	closeInheritedOnExec()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("private dockerd: %w", err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.done) }()
	c, err := d.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			d.cmd = nil
			return fmt.Errorf("private dockerd exited at start (log %s)", d.log.Name())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("private dockerd does not answer after 60 s: %w", err)
		}
	}
}

// closeInheritedOnExec marks the descriptors this process inherited
// without close-on-exec (Go's own have it) so that dockerd does not get
// them. `flock /tmp/stackhub-docker.lock go test ...` leaves the lock's
// descriptor open down to the test binary: a dockerd that outlived a
// killed test would hold the lock, and every later test waiting for it.
func closeInheritedOnExec() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// Stop ends dockerd with SIGTERM, as a service manager does; its
// containers stop with it.
func (d *Dockerd) Stop() error {
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		// Its process group: dockerd, its containerd and the shims.
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
		d.cmd = nil
		return errors.New("private dockerd did not stop within 60 s of SIGTERM: killed")
	}
	d.cmd = nil
	return nil
}

// Exec runs argv in the engine's network namespace (where its published
// ports are) and returns its combined output.
func (d *Dockerd) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/var/run/netns/" + d.NetNS}, argv...)...).CombinedOutput()
}

// Host returns the engine's address as DOCKER_HOST takes it
// (unix://<Socket>).
func (d *Dockerd) Host() string { return "unix://" + d.Socket }

// Client returns a client for the private engine.
func (d *Dockerd) Client() (*client.Client, error) {
	c, err := client.New(client.WithHost("unix://"+d.Socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("private dockerd client: %w", err)
	}
	return c, nil
}

// copyImage saves img from the host's engine into the private one
// (docker save | docker load, argv only).
func (d *Dockerd) copyImage(ctx context.Context, img string) error {
	save := exec.CommandContext(ctx, "docker", "save", img)
	load := exec.CommandContext(ctx, "docker", "--host", "unix://"+d.Socket, "load", "--quiet")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		return fmt.Errorf("docker save %s: %w", img, err)
	}
	out, lerr := load.CombinedOutput()
	serr := save.Wait()
	if lerr != nil || serr != nil {
		return fmt.Errorf("copy %s into the private dockerd: %w (%s)", img, errors.Join(serr, lerr), out)
	}
	return nil
}
