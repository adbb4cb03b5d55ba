// Package dockerhost observes and cleans the Docker host for the engine:
// our containers by name and by the sh.websoft9.app label, the host ports in
// use (published by containers or bound by listeners), and removal of what
// an app owns. Ownership is the label, never the name: objects without our
// label are never touched.
//
// It imports orchestrator, naming and the moby client; Docker errors are
// classified here, with containerd's errdefs and the client's helpers.
package dockerhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// callTimeout bounds every Docker call that is not a wait or a stream.
const callTimeout = 60 * time.Second

// API is the part of the moby client the host uses.
type API interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, id string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerStats(ctx context.Context, id string, options client.ContainerStatsOptions) (client.ContainerStatsResult, error)
}

// Host implements orchestrator.Host over a Docker engine.
type Host struct {
	api API
	// CallTimeout bounds each Docker call that is not a wait or a stream
	// (0: callTimeout).
	CallTimeout time.Duration
	// ProcNet lists the files read for listening sockets.
	ProcNet []string
	// OnError, when set, is told of every Docker call that failed (a
	// metric counts them); nil: no one.
	OnError ErrorFunc
	// Swarm, when set, makes RemoveApp remove the app's Swarm services
	// first on an engine that is a manager; nil: containers only.
	Swarm *Swarm
}

var (
	_ orchestrator.Host      = (*Host)(nil)
	_ orchestrator.LogSource = (*Host)(nil)
)

// NewClient returns a moby client from the environment (DOCKER_HOST, …)
// that negotiates the API version with the engine (Debian's 20.10 speaks 1.41).
func NewClient() (*client.Client, error) {
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// DaemonHost is where a client from the environment finds the engine:
// DOCKER_HOST, else Docker's default socket.
func DaemonHost(getenv func(string) string) string {
	if h := getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// Unavailable is err, a Docker engine that does not answer, as the
// domain's EUNAVAILABLE with what to do about it on this host.
func Unavailable(err error) error {
	where := DaemonHost(os.Getenv)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "StackHub may not use the Docker socket %s (permission denied): run it as root (the stackhub service does) or as a member of the docker group", where)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "the Docker engine is not running (nothing answers at %s): start it (systemctl start docker) and try again; `stackhub doctor` checks the host", where)
	}
	return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "the Docker engine at %s is not answering: check it (systemctl status docker, journalctl -u docker) and try again; `stackhub doctor` checks the host", where)
}

// New returns a Host over api.
func New(api API) *Host {
	return &Host{api: api, ProcNet: []string{"/proc/net/tcp", "/proc/net/tcp6"}}
}

// ErrorFunc is told of a Docker call that failed, once, where it is
// classified: op is the operation, one of a fixed set of words ("list
// containers", "container logs", …) that never holds an object's name;
// class is ErrorUnavailable, ErrorNotFound or ErrorOther. A call the
// caller cancelled is not Docker's failure and is not told. It must be
// quick and safe for concurrent use.
type ErrorFunc func(op, class string)

// Classes of Docker errors, as ErrorFunc is told them.
const (
	ErrorUnavailable = "unavailable"
	ErrorNotFound    = "not_found"
	ErrorOther       = "other"
)

// classifyErr turns a Docker error into a domain error once, here, and
// tells report of it. what names the operation and its object for the
// message ("logs of websoft9-demo"); "" says op alone.
func classifyErr(report ErrorFunc, op, what string, err error) error {
	if err == nil {
		return nil
	}
	if what == "" {
		what = op
	}
	class, out := ErrorOther, fmt.Errorf("docker %s: %w", what, err)
	switch {
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err), errors.Is(err, context.DeadlineExceeded):
		class, out = ErrorUnavailable, Unavailable(err)
	case cerrdefs.IsNotFound(err):
		class, out = ErrorNotFound, orchestrator.WrapError(orchestrator.ENOTFOUND, err, "%s: not found", what)
	}
	if report != nil && !errors.Is(err, context.Canceled) {
		report(op, class)
	}
	return out
}

// classify is classifyErr telling h.OnError.
func (h *Host) classify(op, what string, err error) error {
	return classifyErr(h.OnError, op, what, err)
}

func (h *Host) timeout() time.Duration { return orCallTimeout(h.CallTimeout) }

// orCallTimeout is d, or callTimeout when d is not set.
func orCallTimeout(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return callTimeout
}

// Ping implements orchestrator.Host.
func (h *Host) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := h.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		if h.OnError != nil && !errors.Is(err, context.Canceled) {
			h.OnError("ping", ErrorUnavailable)
		}
		return Unavailable(err)
	}
	return nil
}

// BusyPorts implements orchestrator.Host.
func (h *Host) BusyPorts(ctx context.Context) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	busy := map[int]bool{}
	list, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, h.classify("list containers", "", err)
	}
	for _, c := range list.Items {
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				busy[int(p.PublicPort)] = true
			}
		}
	}
	for _, f := range h.ProcNet {
		if err := listening(f, busy); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("host listeners: %w", err)
		}
	}
	return busy, nil
}

// listening adds the ports of sockets in state LISTEN (0A) in a
// /proc/net/tcp-format file.
func listening(path string, busy map[int]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != "0A" {
			continue
		}
		_, portHex, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(portHex, 16, 16); err == nil {
			busy[int(p)] = true
		}
	}
	return sc.Err()
}

// ExistingContainers implements orchestrator.Host.
func (h *Host) ExistingContainers(ctx context.Context, names []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	f := client.Filters{}
	for _, n := range names {
		f = f.Add("name", n)
	}
	list, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, h.classify("list containers", "", err)
	}
	var out []string
	for _, c := range list.Items {
		for _, n := range c.Names {
			if n = strings.TrimPrefix(n, "/"); slices.Contains(names, n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// AppObjects implements orchestrator.Host.
func (h *Host) AppObjects(ctx context.Context, app string) (orchestrator.Objects, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	label := client.Filters{}.Add("label", naming.LabelApp+"="+app)
	var objs orchestrator.Objects
	list, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
	if err != nil {
		return objs, h.classify("list containers", "", err)
	}
	out := make([]orchestrator.Container, 0, len(list.Items))
	for _, c := range list.Items {
		out = append(out, toContainer(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	objs.Containers = out
	ns, err := h.api.NetworkList(ctx, client.NetworkListOptions{Filters: label})
	if err != nil {
		return objs, h.classify("list networks", "", err)
	}
	for _, n := range ns.Items {
		objs.Networks = append(objs.Networks, n.Name)
	}
	vs, err := h.api.VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err != nil {
		return objs, h.classify("list volumes", "", err)
	}
	for _, v := range vs.Items {
		objs.Volumes = append(objs.Volumes, v.Name)
	}
	sort.Strings(objs.Networks)
	sort.Strings(objs.Volumes)
	return objs, nil
}

// RemoveApp implements orchestrator.Host.
func (h *Host) RemoveApp(ctx context.Context, app, runID string, purge bool) (orchestrator.Removed, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*h.timeout())
	defer cancel()
	var rm orchestrator.Removed
	label := client.Filters{}.Add("label", naming.LabelApp+"="+app)

	// Invocation containers a cancelled or crashed run left behind (cnab-go
	// removes them with the run's own, cancelled, context) go first: one
	// still running would go on creating the app's containers.
	inv, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", naming.LabelInvocation+"="+app)})
	if err != nil {
		return rm, h.classify("list containers", "", err)
	}
	for _, c := range inv.Items {
		if _, err := h.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return rm, h.classify("remove invocation container", "", err)
		}
	}
	if h.Swarm != nil {
		// Before the containers: a task's container removed alone is
		// started again by Swarm.
		if _, err := h.Swarm.removeServices(ctx, app); err != nil {
			return rm, err
		}
	}
	// A create the killed invocation had already sent may land after the
	// first list: list again until nothing is left (a few passes).
	for pass := 0; pass < 3; pass++ {
		cs, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
		if err != nil {
			return rm, h.classify("list containers", "", err)
		}
		if len(cs.Items) == 0 {
			break
		}
		for _, c := range cs.Items {
			_, err := h.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
			if cerrdefs.IsConflict(err) && pass < 2 {
				// Swarm is removing a task's container of a service just
				// removed ("removal already in progress"): the next pass
				// lists again.
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err != nil && !cerrdefs.IsNotFound(err) {
				return rm, h.classify("remove container", "", err)
			}
			if len(c.Names) > 0 {
				rm.Containers = append(rm.Containers, strings.TrimPrefix(c.Names[0], "/"))
			}
		}
	}
	ns, err := h.api.NetworkList(ctx, client.NetworkListOptions{Filters: label})
	if err != nil {
		return rm, h.classify("list networks", "", err)
	}
	for _, n := range ns.Items {
		if _, err := h.api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !networkGone(err) {
			return rm, h.classify("remove network", "", err)
		}
		rm.Networks = append(rm.Networks, n.Name)
	}
	vs, err := h.api.VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err != nil {
		return rm, h.classify("list volumes", "", err)
	}
	for _, v := range vs.Items {
		if !purge && (runID == "" || v.Labels[naming.LabelRun] != runID) {
			rm.KeptVolumes = append(rm.KeptVolumes, v.Name)
			continue
		}
		if _, err := h.api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return rm, h.classify("remove volume", "", err)
		}
		rm.Volumes = append(rm.Volumes, v.Name)
	}
	for _, s := range [][]string{rm.Containers, rm.Networks, rm.Volumes, rm.KeptVolumes} {
		sort.Strings(s)
	}
	return rm, nil
}

// Logs implements orchestrator.LogSource.
func (h *Host) Logs(ctx context.Context, container string, opts orchestrator.LogOptions, w io.Writer) error {
	tail := "all"
	if opts.Tail > 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	rc, err := h.api.ContainerLogs(ctx, container, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail, Follow: opts.Follow})
	if err != nil {
		return h.classify("container logs", "logs of "+container, err)
	}
	defer rc.Close()
	// Containers without a TTY multiplex stdout and stderr; ours have none.
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", container, err)
	}
	return nil
}

// toContainer is what the engine sees of a listed container: its name,
// state and published host ports, sorted.
func toContainer(c container.Summary) orchestrator.Container {
	oc := orchestrator.Container{State: string(c.State), Health: healthOf(c.Status)}
	if len(c.Names) > 0 {
		oc.Name = strings.TrimPrefix(c.Names[0], "/")
	}
	for _, p := range c.Ports {
		if p.PublicPort != 0 && !slices.Contains(oc.Ports, int(p.PublicPort)) {
			oc.Ports = append(oc.Ports, int(p.PublicPort))
		}
	}
	sort.Ints(oc.Ports)
	return oc
}

// healthOf reads the health check's verdict from a container list's
// status text ("Up 5 minutes (healthy)", "(health: starting)"), which
// API 1.41 gives instead of a field.
func healthOf(status string) string {
	switch {
	case strings.HasSuffix(status, "(healthy)"):
		return "healthy"
	case strings.HasSuffix(status, "(unhealthy)"):
		return "unhealthy"
	case strings.HasSuffix(status, "(health: starting)"):
		return "starting"
	}
	return ""
}

// networkGone tells whether a network removal failed because the network
// is gone: Docker 20.10 answers a 500 "network <id> not found" for a Swarm
// overlay network the manager removed between its list and the removal
// (the app's uninstall run removes it too).
func networkGone(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.HasSuffix(err.Error(), " not found")
}
