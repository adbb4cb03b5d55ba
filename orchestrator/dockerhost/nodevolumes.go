package dockerhost

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// NodeHelperImage is StackHub's node volume helper (cmd/stackhub-volumes,
// FROM scratch): the image of the short-lived Swarm tasks that read,
// write and remove the volumes of apps on nodes whose engine StackHub
// cannot reach. Nothing is pulled: it must be on each node (docs/swarm-apps.md).
const NodeHelperImage = "stackhub/volumes:1"

// LabelVolumeHelper marks the helper's services, its value the app.
const LabelVolumeHelper = "sh.websoft9.volume-helper"

// LabelDockerSocket, a node label (or the node's engine label), is where
// the node's Docker socket is, for the helper's removals
// (/var/run/docker.sock when not set).
const LabelDockerSocket = "sh.websoft9.docker-socket"

// helperTokenEnv is the helper's $STACKHUB_TRANSFER_TOKEN.
const helperTokenEnv = "STACKHUB_TRANSFER_TOKEN"

// NodeServicesAPI is the part of the moby client the node volume helper uses.
type NodeServicesAPI interface {
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceInspect(ctx context.Context, id string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceUpdate(ctx context.Context, id string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, id string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	NodeInspect(ctx context.Context, id string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
}

// NodeVolumes implements orchestrator.NodeVolumeHosts: the volumes of apps
// placed on Swarm nodes. On the node StackHub runs on they are the local
// engine's (Local); on another node a helper task does the node-local work
// (a replicated service of one task, restart none, constrained to the
// node, from NodeHelperImage) and streams a tar to or from Transfers.
// Either way an app is kept still by scaling its services to 0 and back.
type NodeVolumes struct {
	Local     *Host
	Swarm     *Swarm
	API       NodeServicesAPI
	Transfers *Transfers
	// MaxBytes bounds one volume's archive read from a node (0: none).
	MaxBytes int64
	Log      *slog.Logger
	// Image is the helper's image ("" for NodeHelperImage).
	Image string
	// Binary is the static cmd/stackhub-volumes program the image is made
	// of on the manager's engine when it has none ("" : it must be there).
	Binary string
}

// ensureImage makes the helper's image on the manager's engine from
// Binary when the engine has none: the operator saves it from there to
// each node (nothing is pulled).
func (n *NodeVolumes) ensureImage(ctx context.Context) error {
	api, err := n.Local.volumeAPI()
	if err != nil {
		return err
	}
	if _, err := api.ImageInspect(ctx, n.image()); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return classifyErr(n.Local.OnError, "inspect image", n.image(), err)
	}
	if n.Binary == "" {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "StackHub's volume helper image %s is not on the manager's engine: make volume-image, or install stackhub-volumes beside the runtimes", n.image())
	}
	bin, err := os.ReadFile(n.Binary)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "StackHub's volume helper %s: %v", n.Binary, err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "stackhub-volumes", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := api.ImageImport(ctx, client.ImageImportSource{Source: &b, SourceName: "-"}, n.image(),
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/stackhub-volumes"]`, "LABEL " + naming.LabelService + "=node-volume-helper"},
			Message: "StackHub's node volume helper"})
	if err != nil {
		return classifyErr(n.Local.OnError, "import image", n.image(), err)
	}
	defer res.Close()
	_, err = io.Copy(io.Discard, res)
	if n.Log != nil && err == nil {
		n.Log.Info("made the node volume helper's image; load it on every node", "image", n.image(), "from", n.Binary)
	}
	return err
}

var _ orchestrator.NodeVolumeHosts = (*NodeVolumes)(nil)

func (n *NodeVolumes) image() string {
	if n.Image != "" {
		return n.Image
	}
	return NodeHelperImage
}

// OnNode implements orchestrator.NodeVolumeHosts.
func (n *NodeVolumes) OnNode(ctx context.Context, node string) (orchestrator.VolumeHost, error) {
	st, err := n.Swarm.SwarmStatus(ctx)
	if err != nil {
		return nil, err
	}
	svc := serviceQuiesce{api: n.API, onError: n.Local.OnError}
	if st.NodeID == node {
		return &localNodeVolumes{Host: n.Local, serviceQuiesce: svc}, nil
	}
	if err := n.startTransfers(ctx, st); err != nil {
		return nil, err
	}
	return &remoteVolumes{n: n, node: node, serviceQuiesce: svc}, nil
}

// startTransfers serves the transfers, on the node's advertise address
// when no address was set.
func (n *NodeVolumes) startTransfers(ctx context.Context, st orchestrator.ClusterStatus) error {
	if err := n.ensureImage(ctx); err != nil {
		return err
	}
	if n.Transfers.Listening() != "" {
		return nil
	}
	if n.Transfers.Addr == "" {
		host := st.NodeAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "no address the nodes reach StackHub at (set --node-transfers)")
		}
		n.Transfers.Addr = net.JoinHostPort(host, "0")
	}
	return n.Transfers.Start()
}

// localNodeVolumes: the volumes are the local engine's; the app's
// containers are its services' tasks.
type localNodeVolumes struct {
	*Host
	serviceQuiesce
}

func (l *localNodeVolumes) StopContainers(ctx context.Context, names []string) ([]string, error) {
	return l.serviceQuiesce.StopContainers(ctx, names)
}

func (l *localNodeVolumes) StartContainers(ctx context.Context, names []string) error {
	return l.serviceQuiesce.StartContainers(ctx, names)
}

// serviceQuiesce stops and starts an app's services (named as its
// containers) by scaling them to 0 and back to 1.
type serviceQuiesce struct {
	api     NodeServicesAPI
	onError ErrorFunc
}

// StopContainers scales to 0 those of services (by name) that run,
// waits for their tasks to end, and returns them.
func (s serviceQuiesce) StopContainers(ctx context.Context, services []string) ([]string, error) {
	var stopped []string
	for _, name := range slices.Backward(services) {
		ok, err := s.scale(ctx, name, 0)
		if err != nil {
			return stopped, errors.Join(err, s.StartContainers(context.WithoutCancel(ctx), stopped))
		}
		if ok {
			stopped = append(stopped, name)
		}
	}
	for _, name := range stopped {
		if err := s.waitStopped(ctx, name); err != nil {
			return stopped, errors.Join(err, s.StartContainers(context.WithoutCancel(ctx), stopped))
		}
	}
	return stopped, nil
}

// StartContainers scales services back to 1, in reverse order.
func (s serviceQuiesce) StartContainers(ctx context.Context, services []string) error {
	var errs []error
	for _, name := range slices.Backward(services) {
		if _, err := s.scale(ctx, name, 1); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// scale sets service name's replicas to n; false when it is missing or
// already has n.
func (s serviceQuiesce) scale(ctx context.Context, name string, n uint64) (bool, error) {
	res, err := s.api.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, classifyErr(s.onError, "inspect service", name, err)
	}
	spec := res.Service.Spec
	if spec.Mode.Replicated == nil || spec.Mode.Replicated.Replicas == nil || *spec.Mode.Replicated.Replicas == n {
		return false, nil
	}
	spec.Mode.Replicated.Replicas = &n
	if _, err := s.api.ServiceUpdate(ctx, res.Service.ID, client.ServiceUpdateOptions{Version: res.Service.Version, Spec: spec}); err != nil {
		return false, classifyErr(s.onError, "update service", "scale "+name, err)
	}
	return true, nil
}

// waitStopped waits until service name has no task that runs or may.
func (s serviceQuiesce) waitStopped(ctx context.Context, name string) error {
	for {
		tasks, err := s.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", name)})
		if err != nil {
			return classifyErr(s.onError, "list tasks", name, err)
		}
		live := 0
		for _, t := range tasks.Items {
			if t.Status.State == swarm.TaskStateRunning || t.Status.State == swarm.TaskStateStarting ||
				t.Status.State == swarm.TaskStatePreparing || t.Status.State == swarm.TaskStateReady {
				live++
			}
		}
		if live == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return orchestrator.WrapError(orchestrator.EUNAVAILABLE, ctx.Err(), "%s did not stop", name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// remoteVolumes is orchestrator.VolumeHost for an app on another node.
type remoteVolumes struct {
	n    *NodeVolumes
	node string
	serviceQuiesce
}

// AppVolumes implements orchestrator.VolumeHost: the named volumes the
// app's services mount (the manager sees their specs, not the node's
// volumes), by key.
func (r *remoteVolumes) AppVolumes(ctx context.Context, app string) ([]orchestrator.Volume, error) {
	list, err := r.n.API.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, classifyErr(r.onError, "list services", "services of "+app, err)
	}
	prefix := naming.Project(app) + "_"
	seen := map[string]orchestrator.Volume{}
	for _, svc := range list.Items {
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if svc.Spec.Labels[naming.LabelApp] != app || cs == nil {
			continue
		}
		for _, m := range cs.Mounts {
			if m.Type != mount.TypeVolume || !strings.HasPrefix(m.Source, prefix) {
				continue
			}
			v := orchestrator.Volume{Name: m.Source, Key: strings.TrimPrefix(m.Source, prefix), Driver: "local"}
			if o := m.VolumeOptions; o != nil {
				v.Labels = maps.Clone(o.Labels)
				if o.DriverConfig != nil {
					v.Driver, v.Options = o.DriverConfig.Name, maps.Clone(o.DriverConfig.Options)
				}
			}
			if v.Labels[naming.LabelApp] != app {
				continue
			}
			seen[v.Name] = v
		}
	}
	out := slices.Collect(maps.Values(seen))
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ExportVolumes implements orchestrator.VolumeHost: each volume opened is
// read by a helper task on the node.
func (r *remoteVolumes) ExportVolumes(ctx context.Context, vols []orchestrator.Volume, fn func(x orchestrator.VolumeExport) error) error {
	return fn(&remoteExport{ctx: ctx, r: r, vols: vols})
}

type remoteExport struct {
	ctx  context.Context
	r    *remoteVolumes
	vols []orchestrator.Volume
}

// Open implements orchestrator.VolumeExport: a helper task on the node
// PUTs the volume's tar.
func (x *remoteExport) Open(v orchestrator.Volume) (io.ReadCloser, error) {
	if !slices.ContainsFunc(x.vols, func(m orchestrator.Volume) bool { return m.Key == v.Key }) {
		return nil, orchestrator.Errorf(orchestrator.EINTERNAL, "volume %s is not mounted for this export", v.Name)
	}
	up, err := x.r.n.Transfers.NewUpload(x.r.n.MaxBytes)
	if err != nil {
		return nil, err
	}
	task, err := x.r.startTask(x.ctx, v.Labels[naming.LabelApp], "send", up.URL, up.Token, v, true)
	if err != nil {
		up.Cancel()
		return nil, err
	}
	rd, err := up.Wait(x.ctx, task.failed)
	if err != nil {
		task.remove()
		return nil, fmt.Errorf("read volume %s on node %s: %w", v.Name, x.r.node, err)
	}
	tr := &taskReader{ReadCloser: rd, task: task, closed: make(chan struct{})}
	// A task that fails while its archive streams (its node lost, the
	// link cut) ends the read at once, with the reason.
	go func() {
		select {
		case err := <-task.failed:
			tr.why.Store(&err)
			Abort(rd)
		case <-tr.closed:
		}
	}()
	return tr, nil
}

// taskReader removes the helper's task once its archive was read.
type taskReader struct {
	io.ReadCloser
	task   *helperTask
	closed chan struct{}
	once   sync.Once
	// why is the task's failure, when it failed during the read.
	why atomic.Pointer[error]
}

func (t *taskReader) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		if why := t.why.Load(); why != nil {
			return n, *why
		}
		err = orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "read volume on node %s: %v", t.task.node, err)
	}
	return n, err
}

func (t *taskReader) Close() error {
	err := t.ReadCloser.Close()
	t.once.Do(func() { close(t.closed) })
	t.task.remove()
	return err
}

// Walk implements orchestrator.VolumeExport: no host view of another node.
func (x *remoteExport) Walk(orchestrator.Volume, func(orchestrator.VolumeEntry) error) error {
	return orchestrator.ErrNoHostView
}

// OpenFile implements orchestrator.VolumeExport: never called without a
// host view.
func (x *remoteExport) OpenFile(v orchestrator.Volume, _ string) (io.ReadCloser, error) {
	return nil, orchestrator.ErrNoHostView
}

// ImportVolume implements orchestrator.VolumeHost: a helper task on the
// node mounts v (which the node's engine creates with v's driver and
// labels when it has none), empties it and fills it from archive.
func (r *remoteVolumes) ImportVolume(ctx context.Context, v orchestrator.Volume, archive io.Reader) error {
	down, err := r.n.Transfers.NewDownload(archive)
	if err != nil {
		return err
	}
	defer down.Cancel()
	task, err := r.startTask(ctx, v.Labels[naming.LabelApp], "receive", down.URL, down.Token, v, false)
	if err != nil {
		return err
	}
	defer task.remove()
	var sendErr error
	sent := false
	for {
		select {
		case err := <-down.Sent():
			sent, sendErr = true, err
			if sendErr != nil {
				return orchestrator.WrapError(orchestrator.EUNAVAILABLE, sendErr, "write volume %s on node %s: %v", v.Name, r.node, sendErr)
			}
		case err := <-task.failed:
			return fmt.Errorf("write volume %s on node %s: %w", v.Name, r.node, err)
		case <-task.completed:
			if !sent {
				return orchestrator.Errorf(orchestrator.EINTERNAL, "write volume %s on node %s: the helper ended before the archive was sent", v.Name, r.node)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RemoveHelpers implements orchestrator.VolumeHost: the helper services a
// crash left.
func (r *remoteVolumes) RemoveHelpers(ctx context.Context) (int, error) {
	return r.n.RemoveHelpers(ctx)
}

// RemoveHelpers removes every helper service (a crash left them).
func (n *NodeVolumes) RemoveHelpers(ctx context.Context) (int, error) {
	list, err := n.API.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", LabelVolumeHelper)})
	if err != nil {
		return 0, classifyErr(n.Local.OnError, "list services", "volume helpers", err)
	}
	c := 0
	for _, s := range list.Items {
		if _, err := n.API.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return c, classifyErr(n.Local.OnError, "remove service", s.Spec.Name, err)
		}
		c++
	}
	return c, nil
}

// PurgeVolumes implements orchestrator.NodeVolumeHosts: on another node a
// helper task with the node's Docker socket removes app's volumes (those
// labelled with it and named websoft9-<app>_...); on StackHub's own node
// the local engine does.
func (n *NodeVolumes) PurgeVolumes(ctx context.Context, node, app string) ([]string, error) {
	if err := naming.ValidateApp(app); err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%v", err)
	}
	st, err := n.Swarm.SwarmStatus(ctx)
	if err != nil {
		return nil, err
	}
	if st.NodeID == node {
		// The uninstall's run removed them through the local engine; an
		// app moved away from this node left them here.
		return n.purgeLocal(ctx, app)
	}
	if err := n.startTransfers(ctx, st); err != nil {
		return nil, err
	}
	r := &remoteVolumes{n: n, node: node, serviceQuiesce: serviceQuiesce{api: n.API, onError: n.Local.OnError}}
	if err := r.nodeLost(ctx); err != nil {
		return nil, orchestrator.WrapError(orchestrator.EPRECONDITION, err, "the volumes of %s stay on node %s until it is back (remove them there: docker volume ls --filter label=%s=%s): %s",
			app, node, naming.LabelApp, app, orchestrator.ErrorMessage(err))
	}
	up, err := n.Transfers.NewUpload(1 << 20)
	if err != nil {
		return nil, err
	}
	task, err := r.startTask(ctx, app, "remove", up.URL, up.Token, orchestrator.Volume{}, false)
	if err != nil {
		up.Cancel()
		return nil, err
	}
	defer task.remove()
	rd, err := up.Wait(ctx, task.failed)
	if err != nil {
		return nil, fmt.Errorf("remove the volumes of %s on node %s: %w", app, node, err)
	}
	var res struct {
		Removed    []string `json:"removed"`
		Containers []string `json:"containers"`
		Errors     []string `json:"errors"`
	}
	err = json.NewDecoder(rd).Decode(&res)
	rd.Close()
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "remove the volumes of %s on node %s: the helper's answer: %v", app, node, err)
	}
	if len(res.Containers) > 0 && n.Log != nil {
		n.Log.Info("removed the stopped containers an app left on a node", "app", app, "node", node, "containers", res.Containers)
	}
	prefix := naming.Project(app) + "_"
	for _, v := range res.Removed {
		if !strings.HasPrefix(v, prefix) {
			return res.Removed, orchestrator.Errorf(orchestrator.EINTERNAL, "the helper on node %s reports removing %s, not a volume of %s", node, v, app)
		}
	}
	if len(res.Errors) > 0 {
		return res.Removed, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "remove the volumes of %s on node %s: %s", app, node, strings.Join(res.Errors, "; "))
	}
	// The helper exits once it was answered: wait for its end.
	select {
	case err := <-task.failed:
		return res.Removed, err
	case <-task.completed:
	case <-ctx.Done():
	}
	return res.Removed, nil
}

// helperTask is one helper service and what its task came to.
type helperTask struct {
	node      string
	id        string
	failed    chan error
	completed chan struct{}
	stop      context.CancelFunc
	remove    func()
}

// startTask creates the helper service for mode on the node, mounting v
// at /volumes/<key> (read-only for a send) or, for remove, the node's
// Docker socket, and watches its task.
func (r *remoteVolumes) startTask(ctx context.Context, app, mode, url, token string, v orchestrator.Volume, readOnly bool) (*helperTask, error) {
	one := uint64(1)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "stackhub-volumes-" + randomSuffix(), Labels: map[string]string{LabelVolumeHelper: app}},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: r.n.image(), Env: []string{helperTokenEnv + "=" + token},
				Labels: map[string]string{LabelVolumeHelper: app}},
			Placement:     &swarm.Placement{Constraints: []string{"node.id==" + r.node}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
		},
	}
	cs := spec.TaskTemplate.ContainerSpec
	switch mode {
	case "send", "receive":
		dir := helperMount + "/" + v.Key
		opts := &mount.VolumeOptions{NoCopy: true, Labels: maps.Clone(v.Labels), DriverConfig: &mount.Driver{Name: v.Driver, Options: maps.Clone(v.Options)}}
		if v.Driver == "" {
			opts.DriverConfig.Name = "local"
		}
		cs.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: v.Name, Target: dir, ReadOnly: readOnly, VolumeOptions: opts}}
		cs.Args = []string{mode, url, dir, v.Key}
	case "remove":
		sock, err := r.dockerSocket(ctx)
		if err != nil {
			return nil, err
		}
		cs.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: sock, Target: "/var/run/docker.sock"}}
		cs.Args = []string{mode, url, app}
	default:
		return nil, orchestrator.Errorf(orchestrator.EINTERNAL, "no helper mode %q", mode)
	}
	res, err := r.n.API.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	if err != nil {
		return nil, classifyErr(r.onError, "create service", "the volume helper on node "+r.node, err)
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	t := &helperTask{node: r.node, id: res.ID, failed: make(chan error, 1), completed: make(chan struct{}), stop: stop}
	done := false
	t.remove = func() {
		if done {
			return
		}
		done = true
		stop()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := r.n.API.ServiceRemove(rctx, res.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && r.n.Log != nil {
			r.n.Log.Warn("volume helper service not removed", "service", spec.Name, "err", err)
		}
	}
	go r.watch(wctx, t)
	return t, nil
}

// watch polls the helper's task until it completes (closes completed) or
// fails, or its node is lost (sends on failed).
func (r *remoteVolumes) watch(ctx context.Context, t *helperTask) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := r.nodeLost(ctx); err != nil {
			t.failed <- err
			return
		}
		tasks, err := r.n.API.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", t.id)})
		if err != nil {
			continue
		}
		for _, tk := range tasks.Items {
			switch tk.Status.State {
			case swarm.TaskStateComplete:
				close(t.completed)
				return
			case swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateOrphaned, swarm.TaskStateShutdown:
				why := tk.Status.Err
				if why == "" {
					why = tk.Status.Message
				}
				if strings.Contains(why, "No such image") || strings.Contains(why, "does not exist") && strings.Contains(why, "image") {
					why += fmt.Sprintf(" (load StackHub's volume helper %s on the node: docs/swarm-apps.md)", r.n.image())
				}
				if ec := tk.Status.ContainerStatus; ec != nil && ec.ExitCode != 0 {
					why += " (" + helperExit(ec.ExitCode) + ")"
				}
				t.failed <- orchestrator.Errorf(orchestrator.EUNAVAILABLE, "the volume helper on node %s %s: %s", r.node, tk.Status.State, why)
				return
			}
		}
	}
}

// helperExit says what the helper's exit status means (cmd/stackhub-volumes).
func helperExit(code int) string {
	switch code {
	case 2:
		return "bad arguments"
	case 3:
		return "StackHub refused the transfer"
	case 4:
		return "reading or writing the volume failed"
	case 5:
		return "the node's Docker refused"
	}
	return "exit status " + strconv.Itoa(code)
}

// nodeLost returns an error when the helper's node is not ready.
func (r *remoteVolumes) nodeLost(ctx context.Context) error {
	res, err := r.n.API.NodeInspect(ctx, r.node, client.NodeInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "node %s left the Swarm", r.node)
	}
	if err != nil {
		return nil
	}
	if st := res.Node.Status.State; st != swarm.NodeStateReady {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "node %s is %s", r.node, st)
	}
	return nil
}

// dockerSocket is where the node's Docker socket is: its label
// sh.websoft9.docker-socket (the node's, else its engine's), or
// /var/run/docker.sock.
func (r *remoteVolumes) dockerSocket(ctx context.Context) (string, error) {
	res, err := r.n.API.NodeInspect(ctx, r.node, client.NodeInspectOptions{})
	if err != nil {
		return "", classifyErr(r.onError, "inspect node", r.node, err)
	}
	sock := res.Node.Spec.Labels[LabelDockerSocket]
	if sock == "" {
		sock = res.Node.Description.Engine.Labels[LabelDockerSocket]
	}
	if sock == "" {
		sock = "/var/run/docker.sock"
	}
	if !strings.HasPrefix(sock, "/") {
		return "", orchestrator.Errorf(orchestrator.EINVALID, "node %s: label %s=%q is not an absolute path", r.node, LabelDockerSocket, sock)
	}
	return sock, nil
}

// randomSuffix is 8 random hex digits.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// purgeLocal removes app's volumes (labelled with it, named for it) from
// the local engine, and returns their names.
func (n *NodeVolumes) purgeLocal(ctx context.Context, app string) ([]string, error) {
	api, err := n.Local.volumeAPI()
	if err != nil {
		return nil, err
	}
	vs, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, classifyErr(n.Local.OnError, "list volumes", "volumes of "+app, err)
	}
	var out []string
	for _, v := range vs.Items {
		if v.Labels[naming.LabelApp] != app || !strings.HasPrefix(v.Name, naming.Project(app)+"_") {
			continue
		}
		if _, err := api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return out, classifyErr(n.Local.OnError, "remove volume", v.Name, err)
		}
		out = append(out, v.Name)
	}
	sort.Strings(out)
	return out, nil
}
