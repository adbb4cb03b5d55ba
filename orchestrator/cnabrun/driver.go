package cnabrun

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/driver"
)

// DockerAPI is the part of the moby client the driver uses.
type DockerAPI interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	CopyToContainer(ctx context.Context, id string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	ContainerAttach(ctx context.Context, id string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerWait(ctx context.Context, id string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	CopyFromContainer(ctx context.Context, id string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

// dockerDriver runs one CNAB operation in a container, as CNAB's Docker
// driver does (cnab-spec 103): /cnab/app/run as entrypoint, the
// operation's environment and files, its outputs read back from
// /cnab/app/outputs, the container removed afterwards.
//
// It replaces cnab-go's driver/docker (v0.26.4), whose attach goroutine
// never ends: it loops on stdcopy.StdCopy, which returns nil at EOF, so
// every run left a goroutine spinning at full CPU and the output writer
// shared with a goroutine that outlived the run. Here the output is
// copied once, and Run returns only after the copy has finished, so the
// caller owns its writer again. It also shares one Docker client between
// runs instead of building a Docker CLI per run, and reports a failure to
// start (no container ran) apart from a run that failed (startErr).
type dockerDriver struct {
	api DockerAPI
	// configure adjusts the container before it is created (labels,
	// the Docker socket, …).
	configure func(*container.Config, *container.HostConfig)
	// stopTimeout is the grace period given to the container on cancel.
	stopTimeout int
	// callTimeout bounds each Docker call before the container runs (not
	// the pull, nor the wait); 0 means no bound. A dockerd that stalls
	// fails the run with a TimeoutError instead of holding it forever.
	callTimeout time.Duration
	// startErr is set when the run failed before its container started.
	startErr error
}

var _ driver.Driver = (*dockerDriver)(nil)

// Handles implements driver.Driver.
func (d *dockerDriver) Handles(imageType string) bool {
	return imageType == driver.ImageTypeDocker || imageType == driver.ImageTypeOCI
}

// Run implements driver.Driver.
func (d *dockerDriver) Run(ctx context.Context, op *driver.Operation) (driver.OperationResult, error) {
	id, err := d.create(ctx, op)
	if err != nil {
		d.startErr = err
		return driver.OperationResult{}, err
	}
	defer d.remove(ctx, id)

	attach, err := bounded(ctx, d, "attach to the invocation container", func(ctx context.Context) (client.ContainerAttachResult, error) {
		return d.api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true, Logs: true})
	}, func(late client.ContainerAttachResult) { late.Close() })
	if err != nil {
		d.startErr = fmt.Errorf("attach to the invocation container: %w", err)
		return driver.OperationResult{}, d.startErr
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// One copy: it returns at EOF, when the container's streams end.
		_, _ = stdcopy.StdCopy(writerOr(op.Out), writerOr(op.Err), attach.Reader)
	}()
	defer attach.Close()

	if _, err := bounded(ctx, d, "start the invocation container", func(ctx context.Context) (client.ContainerStartResult, error) {
		return d.api.ContainerStart(ctx, id, client.ContainerStartOptions{})
	}); err != nil {
		attach.Close()
		<-copied
		d.startErr = fmt.Errorf("start the invocation container: %w", err)
		return driver.OperationResult{}, d.startErr
	}
	exitCode, waitErr := d.wait(ctx, id)
	// The streams end when the container exits; a last bounded wait lets
	// the final lines arrive before the caller reads its writer.
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		attach.Close()
		<-copied
	}
	res, fetchErr := bounded(context.WithoutCancel(ctx), d, "copy the outputs from the invocation container",
		func(ctx context.Context) (driver.OperationResult, error) { return d.fetchOutputs(ctx, id, op) })
	switch {
	case waitErr != nil:
		return res, waitErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	case exitCode != 0:
		return res, fmt.Errorf("the invocation image exited with code %d", exitCode)
	case fetchErr != nil:
		return res, fetchErr
	}
	return res, nil
}

// TimeoutError says Docker did not answer a call in time.
type TimeoutError struct {
	Call  string
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Docker did not answer within %s (%s)", e.After, e.Call)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// bounded runs one Docker call with the driver's call timeout, in a
// goroutine: a call that ignores its context (the moby client's hijacked
// attach does) is abandoned when the time is up, and what it returns late
// is handed to drop (which closes a connection). Cancelling the context
// after the call returned does not cut a stream it opened (a dialled
// connection outlives its dial's context).
func bounded[T any](ctx context.Context, d *dockerDriver, call string, f func(context.Context) (T, error), drop ...func(T)) (T, error) {
	if d.callTimeout <= 0 {
		return f(ctx)
	}
	type result struct {
		v   T
		err error
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		v, err := f(cctx)
		done <- result{v, err}
	}()
	timer := time.NewTimer(d.callTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
	case <-ctx.Done():
	}
	go func() {
		if r := <-done; r.err == nil {
			for _, fn := range drop {
				fn(r.v)
			}
		}
	}()
	var zero T
	if ctx.Err() != nil {
		return zero, ctx.Err()
	}
	return zero, &TimeoutError{Call: call, After: d.callTimeout, Err: context.DeadlineExceeded}
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// create makes the container (pulling its image when missing), checks the
// image digest and copies the operation's files in.
func (d *dockerDriver) create(ctx context.Context, op *driver.Operation) (string, error) {
	inspectImage := func(ctx context.Context) (client.ImageInspectResult, error) {
		return d.api.ImageInspect(ctx, op.Image.Image)
	}
	inspect, err := bounded(ctx, d, "inspect the invocation image", inspectImage)
	if cerrdefs.IsNotFound(err) {
		if err = d.pull(ctx, op.Image.Image); err == nil {
			inspect, err = bounded(ctx, d, "inspect the invocation image", inspectImage)
		}
	}
	if err != nil {
		return "", fmt.Errorf("invocation image %s: %w", op.Image.Image, err)
	}
	// An image named by its ID (an archive's image, loaded here and
	// verified against its contentDigest on the way) is its content.
	if !strings.HasPrefix(op.Image.Image, "sha256:") || inspect.ID != op.Image.Image {
		if err := checkDigest(op.Image, inspect.RepoDigests); err != nil {
			return "", err
		}
	}
	env := make([]string, 0, len(op.Environment))
	for k, v := range op.Environment {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	cfg := &container.Config{Image: op.Image.Image, Env: env, Entrypoint: []string{"/cnab/app/run"},
		AttachStdout: true, AttachStderr: true, Labels: map[string]string{}}
	timeout := d.stopTimeout
	cfg.StopTimeout = &timeout
	hc := &container.HostConfig{}
	if d.configure != nil {
		d.configure(cfg, hc)
	}
	created, err := bounded(ctx, d, "create the invocation container", func(ctx context.Context) (client.ContainerCreateResult, error) {
		return d.api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	})
	if err != nil {
		return "", fmt.Errorf("create the invocation container: %w", err)
	}
	if len(op.Files) > 0 {
		files, err := filesTar(op.Files, userID(inspect.Config))
		if err == nil {
			_, err = bounded(ctx, d, "copy files into the invocation container", func(ctx context.Context) (client.CopyToContainerResult, error) {
				return d.api.CopyToContainer(ctx, created.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: files})
			})
		}
		if err != nil {
			d.remove(ctx, created.ID)
			return "", fmt.Errorf("copy the operation's files into the invocation container: %w", err)
		}
	}
	return created.ID, nil
}

func (d *dockerDriver) pull(ctx context.Context, image string) error {
	resp, err := d.api.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// wait returns the container's exit code; on cancel it stops the container
// (SIGTERM, then SIGKILL after the grace period) and waits for it to exit,
// so the outputs written on the way out can still be read.
func (d *dockerDriver) wait(ctx context.Context, id string) (int64, error) {
	var lost time.Time // when the wait stream broke, while it keeps breaking
	for ctx.Err() == nil {
		opened := time.Now()
		w := d.api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case res := <-w.Result:
			return res.StatusCode, nil
		case err := <-w.Error:
			if ctx.Err() != nil {
				break
			}
			// The stream broke: dockerd restarted or the connection
			// dropped. Wait again while Docker comes back (for
			// callTimeout), so that the run ends with the container's
			// real end (a restart kills it) rather than a lost stream.
			if lost.IsZero() || time.Since(opened) > 5*time.Second {
				// A stream that stayed open a while means Docker was
				// back: this is a new break, with a window of its own.
				lost = time.Now()
			}
			if cerrdefs.IsNotFound(err) || time.Since(lost) > max(d.callTimeout, time.Second) {
				return -1, fmt.Errorf("wait for the invocation container: %w", err)
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	// Stopping takes up to the grace period, then Docker kills: bound
	// the stop and the wait after it by that plus the call timeout.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(d.stopTimeout)*time.Second+max(d.callTimeout, time.Minute))
	defer cancel()
	timeout := d.stopTimeout
	if _, err := d.api.ContainerStop(bg, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil && !cerrdefs.IsNotFound(err) {
		return -1, fmt.Errorf("stop the invocation container on cancel: %w", err)
	}
	w := d.api.ContainerWait(bg, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-w.Result:
		return res.StatusCode, nil
	case err := <-w.Error:
		return -1, fmt.Errorf("wait for the stopped invocation container: %w", err)
	}
}

// remove deletes the container even when ctx was cancelled.
func (d *dockerDriver) remove(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, _ = d.api.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
}

// fetchOutputs reads the files of /cnab/app/outputs that the operation
// asked for. A missing directory means no output was written.
func (d *dockerDriver) fetchOutputs(ctx context.Context, id string, op *driver.Operation) (driver.OperationResult, error) {
	res := driver.OperationResult{Outputs: map[string]string{}}
	if len(op.Outputs) == 0 {
		return res, nil
	}
	cp, err := d.api.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/cnab/app/outputs"})
	if cerrdefs.IsNotFound(err) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("copy the outputs from the invocation container: %w", err)
	}
	defer cp.Content.Close()
	tr := tar.NewReader(cp.Content)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("read the outputs: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		// The archive's names start at the copied directory: outputs/NAME.
		name, ok := op.Outputs[path.Join("/cnab/app", hdr.Name)]
		if !ok {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return res, fmt.Errorf("read output %s: %w", name, err)
		}
		res.Outputs[name] = string(data)
	}
}

// checkDigest refuses an image whose repository digests do not include the
// bundle's contentDigest (when the bundle gives one). The digest belongs
// to the original image, so it holds for a relocated one too.
func checkDigest(img bundle.InvocationImage, repoDigests []string) error {
	if img.Digest == "" {
		return nil
	}
	for _, rd := range repoDigests {
		ref, err := reference.ParseNormalizedNamed(rd)
		if err != nil {
			continue
		}
		if d, ok := ref.(reference.Digested); ok && d.Digest().String() == img.Digest {
			return nil
		}
	}
	return &DigestError{Image: img.Image, Want: img.Digest, Have: repoDigests}
}

// DigestError says the invocation image in Docker is not the one the
// bundle was published with.
type DigestError struct {
	Image string
	Want  string
	Have  []string
}

func (e *DigestError) Error() string {
	have := "none"
	if len(e.Have) > 0 {
		have = strings.Join(e.Have, ", ")
	}
	return fmt.Sprintf("invocation image %s does not have the bundle's digest %s (its repository digests: %s)", e.Image, e.Want, have)
}

// userID is the uid the image runs as, 0 unless its USER is numeric.
func userID(cfg *dockerspec.DockerOCIImageConfig) int {
	if cfg == nil {
		return 0
	}
	uid, err := strconv.Atoi(strings.SplitN(cfg.User, ":", 2)[0])
	if err != nil {
		return 0
	}
	return uid
}

// filesTar packs the operation's files, owned by uid and readable by it
// only (they may hold credentials). Their directories are owned by uid
// too, so that the bundle can replace or remove the files (Porter's
// runtime removes /porter/state.tgz when there is no state), as CNAB's
// Docker driver does.
func filesTar(files map[string]string, uid int) (io.Reader, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		if !path.IsAbs(name) {
			return nil, fmt.Errorf("file %q: not an absolute path", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range names {
		for dir := path.Dir(path.Clean(name)); dir != "/"; dir = path.Dir(dir) {
			dirs[strings.TrimPrefix(dir, "/")+"/"] = true
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, Uid: uid, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		content := files[name]
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Clean(name), "/"), Mode: 0o600,
			Size: int64(len(content)), Uid: uid, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
