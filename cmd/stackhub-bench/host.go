package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Machine describes where the bench ran.
type Machine struct {
	Uname      string `json:"uname"`
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	MemoryMiB  int    `json:"memoryMiB"`
	Docker     string `json:"docker"`
	DockerAPI  string `json:"dockerAPI"`
	Go         string `json:"go"`
	ServerGo   string `json:"serverGo"`
	ComposeV1  string `json:"composeV1"`
	Wrk        string `json:"wrk"`
	LoadBefore string `json:"loadBefore"`
	LoadAfter  string `json:"loadAfter"`
}

func (b *bench) machine(ctx context.Context) (Machine, error) {
	m := Machine{Go: runtime.Version(), CPUs: runtime.NumCPU()}
	if out, err := exec.CommandContext(ctx, "uname", "-a").Output(); err == nil {
		m.Uname = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		for line := range strings.Lines(string(data)) {
			k, v, ok := strings.Cut(line, ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "model name" && m.CPU == "":
				m.CPU = strings.TrimSpace(v)
			case k == "processor":
				n++
			}
		}
		if n > 0 {
			m.CPUs = n
		}
	}
	if kb, err := procField("/proc/meminfo", "MemTotal:"); err == nil {
		m.MemoryMiB = kb / 1024
	}
	v, err := b.docker.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return m, fmt.Errorf("no Docker engine answers (make docker-up starts one): %w", err)
	}
	m.Docker, m.DockerAPI = v.Version, v.APIVersion
	if info, err := buildinfo.ReadFile(b.bin); err == nil {
		m.ServerGo = info.GoVersion
	}
	m.ComposeV1 = "not run"
	if b.composeV1 != "" {
		if out, err := exec.CommandContext(ctx, b.composeV1, "version", "--short").Output(); err == nil {
			m.ComposeV1 = strings.TrimSpace(string(out))
		}
	}
	m.Wrk = "not installed: reads measured by the bench's own Go client"
	if b.wrk != "" {
		// wrk -v prints its version and exits 1.
		out, _ := exec.CommandContext(ctx, b.wrk, "-v").CombinedOutput()
		m.Wrk, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return m, nil
}

// loadavg is the first three fields of /proc/loadavg (1, 5, 15 min), or
// "unknown".
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// load1 is the 1-minute load average.
func load1() (float64, error) {
	one, _, _ := strings.Cut(loadavg(), " ")
	return strconv.ParseFloat(one, 64)
}

// procField reads a "Key: N kB" line of a /proc file.
func procField(path, key string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// rssKiB is the resident set of a process (VmRSS).
func rssKiB(pid int) (int, error) {
	return procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// cpuTicks is the user+system time of a process in clock ticks
// (USER_HZ, 100 per second on Linux).
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bad stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, errors.Join(err1, err2)
}

// userHZ is the unit of /proc/<pid>/stat times.
const userHZ = 100

// pidOf returns the pid of the first process whose comm is name, or 0.
func pidOf(name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			return pid
		}
	}
	return 0
}

// dockerSocket is the unix socket path of DOCKER_HOST, or the default.
func dockerSocket(host string) string {
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	return "/var/run/docker.sock"
}

// LabelBench marks the containers the bench runs itself (the CNAB floor).
const LabelBench = "sh.websoft9.bench"

// ours tells whether a Docker object's labels say this run's prefix made
// it: a compose project websoft9-<prefix>-…, an app <prefix>-… (its
// containers, networks, volumes and invocation containers) or a floor
// container.
func (b *bench) ours(labels map[string]string) bool {
	p := b.o.Prefix + "-"
	return strings.HasPrefix(labels["com.docker.compose.project"], "websoft9-"+p) ||
		strings.HasPrefix(labels["sh.websoft9.app"], p) ||
		strings.HasPrefix(labels["sh.websoft9.invocation"], p) ||
		labels[LabelBench] == b.o.Prefix
}

// sweep removes every container, network and volume of this prefix.
func (b *bench) sweep(ctx context.Context) error {
	var errs []error
	cs, err := b.docker.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	n := 0
	for _, c := range cs.Items {
		if b.ours(c.Labels) {
			_, err := b.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
			n++
		}
	}
	ns, err := b.docker.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
	}
	for _, nw := range ns.Items {
		if b.ours(nw.Labels) {
			if _, err := b.docker.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
			n++
		}
	}
	vs, err := b.docker.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
	}
	for _, v := range vs.Items {
		if b.ours(v.Labels) {
			if _, err := b.docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
			n++
		}
	}
	if n > 0 {
		b.logf("swept %d containers, networks and volumes of prefix %s", n, b.o.Prefix)
	}
	return errors.Join(errs...)
}

// removeApp removes what an install of name may have left: the objects of
// app name and of compose project websoft9-name.
func (b *bench) removeApp(ctx context.Context, name string) error {
	var errs []error
	for _, f := range []client.Filters{
		client.Filters{}.Add("label", "sh.websoft9.app="+name),
		client.Filters{}.Add("label", "com.docker.compose.project=websoft9-"+name),
	} {
		cs, err := b.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			return err
		}
		for _, c := range cs.Items {
			if _, err := b.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		ns, err := b.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			return err
		}
		for _, n := range ns.Items {
			if _, err := b.docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		vs, err := b.docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			return err
		}
		for _, v := range vs.Items {
			if _, err := b.docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// leftovers counts the containers, networks and volumes that carry
// label=value (an app's or a compose project's), for checks after an
// uninstall.
func (b *bench) leftovers(ctx context.Context, label, value string) (int, error) {
	f := client.Filters{}.Add("label", label+"="+value)
	cs, err := b.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, err
	}
	ns, err := b.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	vs, err := b.docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	return len(cs.Items) + len(ns.Items) + len(vs.Items), nil
}
