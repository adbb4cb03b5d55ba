package dockerhost

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// HelperImage is the image of the helper containers that mount volumes
// for copying: an empty filesystem StackHub imports itself (no pull). Its
// containers are created, never started: Docker's archive API reads and
// writes a created container's mounts.
const HelperImage = "stackhub/volume-helper:1"

// helperMount is where a helper container mounts volumes, by key.
const helperMount = "/volumes"

var _ orchestrator.VolumeHost = (*Host)(nil)

// VolumeAPI is the part of the moby client the volume copies use.
type VolumeAPI interface {
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	VolumeRemove(ctx context.Context, id string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	CopyFromContainer(ctx context.Context, id string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	CopyToContainer(ctx context.Context, id string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageImport(ctx context.Context, source client.ImageImportSource, ref string, options client.ImageImportOptions) (client.ImageImportResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStatPath(ctx context.Context, id string, options client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)
}

// volumeAPI returns the host's client as a VolumeAPI, or an error when it
// is a narrower test double.
func (h *Host) volumeAPI() (VolumeAPI, error) {
	v, ok := h.api.(VolumeAPI)
	if !ok {
		return nil, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "volume copies need a full Docker client")
	}
	return v, nil
}

// AppVolumes implements orchestrator.VolumeHost.
func (h *Host) AppVolumes(ctx context.Context, app string) ([]orchestrator.Volume, error) {
	api, err := h.volumeAPI()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	vs, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, h.classify("list volumes", "list volumes of "+app, err)
	}
	out := make([]orchestrator.Volume, 0, len(vs.Items))
	for _, v := range vs.Items {
		key := v.Labels[orchestrator.ComposeVolumeLabel]
		if key == "" {
			// A Swarm task's volume (swarmspec) has no compose label: its
			// key is its name less the project's prefix, as on other nodes.
			key = strings.TrimPrefix(v.Name, naming.Project(app)+"_")
		}
		out = append(out, orchestrator.Volume{Name: v.Name, Key: key, Driver: v.Driver, Options: v.Options, Labels: v.Labels, Mountpoint: v.Mountpoint})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ensureHelper imports HelperImage when Docker does not have it: an empty
// root filesystem with a command that is never run.
func (h *Host) ensureHelper(ctx context.Context, api VolumeAPI) error {
	_, err := api.ImageInspect(ctx, HelperImage)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return h.classify("inspect image", "inspect "+HelperImage, err)
	}
	var empty bytes.Buffer
	if err := tar.NewWriter(&empty).Close(); err != nil {
		return err
	}
	res, err := api.ImageImport(ctx, client.ImageImportSource{Source: &empty, SourceName: "-"}, HelperImage,
		client.ImageImportOptions{Changes: []string{`CMD ["/never-started"]`, "LABEL " + naming.LabelService + "=volume-helper"},
			Message: "StackHub's volume helper: mounts volumes for copies, never started"})
	if err != nil {
		return h.classify("import image", "import "+HelperImage, err)
	}
	defer res.Close()
	_, err = io.Copy(io.Discard, res)
	return err
}

// withHelper creates a never-started helper container mounting vols at
// /volumes/<key>, runs fn with its ID and removes it.
func (h *Host) withHelper(ctx context.Context, api VolumeAPI, vols []orchestrator.Volume, readOnly bool, fn func(id string) error) (err error) {
	if err := h.ensureHelper(ctx, api); err != nil {
		return err
	}
	mounts := make([]mount.Mount, 0, len(vols))
	for _, v := range vols {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: helperMount + "/" + v.Key, ReadOnly: readOnly,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}})
	}
	c, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: HelperImage, Labels: map[string]string{naming.LabelService: "volume-helper"},
			NetworkDisabled: true},
		// Docker refuses a copy into a container whose root is read-only,
		// even onto a writable volume: only exports get one.
		HostConfig: &container.HostConfig{Mounts: mounts, NetworkMode: "none", CapDrop: []string{"ALL"}, ReadonlyRootfs: readOnly},
	})
	if err != nil {
		return h.classify("create volume helper", "create the volume helper", err)
	}
	defer func() {
		_, rmErr := api.ContainerRemove(context.WithoutCancel(ctx), c.ID, client.ContainerRemoveOptions{Force: true})
		if rmErr != nil && !cerrdefs.IsNotFound(rmErr) {
			err = errors.Join(err, h.classify("remove volume helper", "remove the volume helper", rmErr))
		}
	}()
	return fn(c.ID)
}

// ExportVolumes implements orchestrator.VolumeHost.
func (h *Host) ExportVolumes(ctx context.Context, vols []orchestrator.Volume, fn func(x orchestrator.VolumeExport) error) error {
	api, err := h.volumeAPI()
	if err != nil {
		return err
	}
	return h.withHelper(ctx, api, vols, true, func(id string) error {
		x := &export{ctx: ctx, api: api, helper: id, vols: vols, onError: h.OnError}
		defer x.close()
		return fn(x)
	})
}

// export reads the volumes a helper container mounts.
type export struct {
	ctx    context.Context
	api    VolumeAPI
	helper string
	vols   []orchestrator.Volume
	// roots are the volumes' host directories opened, by key.
	roots map[string]*os.Root
	// onError is the host's OnError.
	onError ErrorFunc
}

func (x *export) classify(op, what string, err error) error {
	return classifyErr(x.onError, op, what, err)
}

// mounted returns v as mounted in the helper.
func (x *export) mounted(v orchestrator.Volume) (orchestrator.Volume, error) {
	i := slices.IndexFunc(x.vols, func(m orchestrator.Volume) bool { return m.Key == v.Key })
	if i < 0 {
		return v, orchestrator.Errorf(orchestrator.EINTERNAL, "volume %s is not mounted for this export", v.Name)
	}
	return x.vols[i], nil
}

func (x *export) Open(v orchestrator.Volume) (io.ReadCloser, error) {
	if _, err := x.mounted(v); err != nil {
		return nil, err
	}
	res, err := x.api.CopyFromContainer(x.ctx, x.helper, client.CopyFromContainerOptions{SourcePath: helperMount + "/" + v.Key})
	if err != nil {
		return nil, x.classify("read volume", "read volume "+v.Name, err)
	}
	return res.Content, nil
}

// hostRoot opens v's files where Docker keeps them, when this process
// sees them: the directory at v's mountpoint must be the one Docker mounts
// in the helper (same mode and modification time to the nanosecond), or
// StackHub runs elsewhere than the engine.
func (x *export) hostRoot(v orchestrator.Volume) (*os.Root, error) {
	v, err := x.mounted(v)
	if err != nil {
		return nil, err
	}
	if r, ok := x.roots[v.Key]; ok {
		return r, nil
	}
	if v.Mountpoint == "" || !filepath.IsAbs(v.Mountpoint) {
		return nil, orchestrator.ErrNoHostView
	}
	root, err := os.Lstat(v.Mountpoint)
	if err != nil || !root.IsDir() {
		return nil, orchestrator.ErrNoHostView
	}
	st, err := x.api.ContainerStatPath(x.ctx, x.helper, client.ContainerStatPathOptions{Path: helperMount + "/" + v.Key})
	if err != nil {
		return nil, x.classify("stat volume", "stat volume "+v.Name, err)
	}
	if st.Stat.Mode != root.Mode() || !st.Stat.Mtime.Equal(root.ModTime()) {
		return nil, orchestrator.ErrNoHostView
	}
	r, err := os.OpenRoot(v.Mountpoint)
	if err != nil {
		return nil, orchestrator.ErrNoHostView
	}
	if x.roots == nil {
		x.roots = map[string]*os.Root{}
	}
	x.roots[v.Key] = r
	return r, nil
}

// close closes the roots opened.
func (x *export) close() {
	for _, r := range x.roots {
		r.Close()
	}
}

// Walk implements orchestrator.VolumeExport. Every path is resolved
// inside the volume (os.Root): a link an app puts there, or swaps in
// during the walk, cannot lead it elsewhere on the host.
func (x *export) Walk(v orchestrator.Volume, fn func(orchestrator.VolumeEntry) error) error {
	root, err := x.hostRoot(v)
	if err != nil {
		return err
	}
	return x.walk(root, "", fn)
}

func (x *export) walk(root *os.Root, rel string, fn func(orchestrator.VolumeEntry) error) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	name := rel
	if name == "" {
		name = "."
	}
	info, err := root.Lstat(name)
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	e := orchestrator.VolumeEntry{Path: rel, Mode: info.Mode(), ModTime: info.ModTime()}
	if info.Mode().IsRegular() {
		e.Size = info.Size()
	}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		e.UID, e.GID, e.Links = sys.Uid, sys.Gid, uint64(sys.Nlink)
	}
	if info.Mode()&iofs.ModeSymlink != 0 {
		if e.Link, err = root.Readlink(name); err != nil {
			return fmt.Errorf("walk: %w", err)
		}
	}
	if err := fn(e); err != nil {
		return err
	}
	if !info.IsDir() {
		return nil
	}
	d, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := x.walk(root, path.Join(rel, n), fn); err != nil {
			return err
		}
	}
	return nil
}

// OpenFile implements orchestrator.VolumeExport: resolved inside the
// volume, never through a link, and only a regular file.
func (x *export) OpenFile(v orchestrator.Volume, rel string) (io.ReadCloser, error) {
	if rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%q is not a path in a volume", rel)
	}
	root, err := x.hostRoot(v)
	if err != nil {
		return nil, err
	}
	// os.Root follows a last link that stays inside: the file opened must
	// be the regular file the path itself names.
	before, err := root.Lstat(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s of volume %s: %w", rel, v.Name, err)
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s of volume %s: it is not a regular file", rel, v.Name)
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s of volume %s: %w", rel, v.Name, err)
	}
	info, err := f.Stat()
	if err == nil && (!info.Mode().IsRegular() || !os.SameFile(before, info)) {
		err = errors.New("it changed while it was opened")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s of volume %s: %w", rel, v.Name, err)
	}
	return f, nil
}

// ImportVolume implements orchestrator.VolumeHost.
func (h *Host) ImportVolume(ctx context.Context, v orchestrator.Volume, archive io.Reader) error {
	api, err := h.volumeAPI()
	if err != nil {
		return err
	}
	_, err = api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
	case cerrdefs.IsConflict(err):
		return orchestrator.WrapError(orchestrator.ECONFLICT, err, "volume %s is in use by a container: stop and remove the app's containers first", v.Name)
	default:
		return h.classify("remove volume", "remove volume "+v.Name, err)
	}
	if _, err := api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Driver: v.Driver, DriverOpts: v.Options, Labels: v.Labels}); err != nil {
		return h.classify("create volume", "create volume "+v.Name, err)
	}
	return h.withHelper(ctx, api, []orchestrator.Volume{v}, false, func(id string) error {
		_, err := api.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: helperMount, Content: archive})
		return h.classify("write volume", "write volume "+v.Name, err)
	})
}

// StopContainers implements orchestrator.VolumeHost: the running ones of
// containers are stopped (in reverse order: the main container, first in
// the list, last), a missing one is skipped.
func (h *Host) StopContainers(ctx context.Context, containers []string) ([]string, error) {
	api, err := h.volumeAPI()
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, name := range slices.Backward(containers) {
		insp, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return stopped, h.classify("inspect container", "inspect "+name, err)
		}
		if insp.Container.State == nil || !insp.Container.State.Running {
			continue
		}
		if _, err := api.ContainerStop(ctx, name, client.ContainerStopOptions{}); err != nil {
			return stopped, errors.Join(h.classify("stop container", "stop "+name, err), h.StartContainers(context.WithoutCancel(ctx), stopped))
		}
		stopped = append(stopped, name)
	}
	return stopped, nil
}

// StartContainers implements orchestrator.VolumeHost, in reverse order of
// containers (StopContainers gives them last stopped last).
func (h *Host) StartContainers(ctx context.Context, containers []string) error {
	api, err := h.volumeAPI()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range slices.Backward(containers) {
		if _, err := api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			errs = append(errs, h.classify("start container", "start "+name, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveHelpers implements orchestrator.VolumeHost.
func (h *Host) RemoveHelpers(ctx context.Context) (int, error) {
	api, err := h.volumeAPI()
	if err != nil {
		return 0, err
	}
	list, err := h.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("ancestor", HelperImage)})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return 0, nil
		}
		return 0, h.classify("list volume helpers", "", err)
	}
	n := 0
	for _, c := range list.Items {
		if _, err := api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return n, h.classify("remove volume helper", "remove a volume helper", err)
		}
		n++
	}
	return n, nil
}
