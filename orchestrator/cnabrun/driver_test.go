package cnabrun

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/driver"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// fakeDocker plays one container: its multiplexed output, exit code and
// /cnab/app/outputs. It records what the driver asked for.
type fakeDocker struct {
	mu         sync.Mutex
	frames     []byte // stdcopy-framed output sent on attach
	exit       int64
	block      bool // the container runs until stopped
	stopped    chan struct{}
	outputs    map[string]string
	repo       []string
	missing    bool
	createErr  error
	stall      bool          // create answers only when its context ends
	waitErrs   int           // the first waits break with EOF (dockerd restarting)
	deafAttach time.Duration // attach answers after this, ignoring its context
	lateConn   net.Conn      // the connection a deaf attach returned
	waits      int

	created  *container.Config
	host     *container.HostConfig
	files    map[string]string
	dirs     []string
	fileUID  int
	removed  bool
	stopOnce sync.Once
}

func frame(stream byte, s string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func (f *fakeDocker) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.missing {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound
	}
	var r client.ImageInspectResult
	r.RepoDigests = f.repo
	return r, nil
}

func (f *fakeDocker) ImagePull(context.Context, string, client.ImagePullOptions) (client.ImagePullResponse, error) {
	return nil, cerrdefs.ErrNotFound.WithMessage("pull access denied")
}

func (f *fakeDocker) ContainerCreate(ctx context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	if f.stall {
		<-ctx.Done()
		return client.ContainerCreateResult{}, ctx.Err()
	}
	if f.createErr != nil {
		return client.ContainerCreateResult{}, f.createErr
	}
	f.created, f.host = o.Config, o.HostConfig
	return client.ContainerCreateResult{ID: "c1"}, nil
}

func (f *fakeDocker) CopyToContainer(_ context.Context, _ string, o client.CopyToContainerOptions) (client.CopyToContainerResult, error) {
	f.files = map[string]string{}
	tr := tar.NewReader(o.Content)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return client.CopyToContainerResult{}, nil
		}
		if err != nil {
			return client.CopyToContainerResult{}, err
		}
		if h.Typeflag == tar.TypeDir {
			f.dirs = append(f.dirs, h.Name)
			continue
		}
		b, _ := io.ReadAll(tr)
		f.files[h.Name] = string(b)
		f.fileUID = h.Uid
	}
}

func (f *fakeDocker) ContainerAttach(context.Context, string, client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	local, remote := net.Pipe()
	if f.deafAttach > 0 {
		time.Sleep(f.deafAttach)
		f.mu.Lock()
		f.lateConn = remote
		f.mu.Unlock()
	}
	go func() {
		// The stream lags the container a little, as a real one may.
		time.Sleep(20 * time.Millisecond)
		_, _ = remote.Write(f.frames)
		if f.block {
			<-f.stopped
		}
		remote.Close()
	}()
	var r client.ContainerAttachResult
	r.Conn, r.Reader = local, bufio.NewReader(local)
	return r, nil
}

func (f *fakeDocker) ContainerStart(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
	return client.ContainerStartResult{}, nil
}

func (f *fakeDocker) ContainerWait(ctx context.Context, _ string, _ client.ContainerWaitOptions) client.ContainerWaitResult {
	res, errs := make(chan container.WaitResponse, 1), make(chan error, 1)
	f.mu.Lock()
	f.waits++
	broken := f.waits <= f.waitErrs
	f.mu.Unlock()
	if broken {
		errs <- io.ErrUnexpectedEOF
		return client.ContainerWaitResult{Result: res, Error: errs}
	}
	go func() {
		if f.block {
			select {
			case <-f.stopped:
				res <- container.WaitResponse{StatusCode: 143}
			case <-ctx.Done():
				errs <- ctx.Err()
			}
			return
		}
		res <- container.WaitResponse{StatusCode: f.exit}
	}()
	return client.ContainerWaitResult{Result: res, Error: errs}
}

func (f *fakeDocker) ContainerStop(context.Context, string, client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.stopOnce.Do(func() { close(f.stopped) })
	return client.ContainerStopResult{}, nil
}

func (f *fakeDocker) CopyFromContainer(context.Context, string, client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	if f.outputs == nil {
		return client.CopyFromContainerResult{}, cerrdefs.ErrNotFound
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "outputs/", Mode: 0o755})
	for name, v := range f.outputs {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "outputs/" + name, Mode: 0o644, Size: int64(len(v))})
		_, _ = tw.Write([]byte(v))
	}
	_ = tw.Close()
	return client.CopyFromContainerResult{Content: io.NopCloser(&buf)}, nil
}

func (f *fakeDocker) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.mu.Lock()
	f.removed = true
	f.mu.Unlock()
	return client.ContainerRemoveResult{}, nil
}

func newFake() *fakeDocker { return &fakeDocker{stopped: make(chan struct{})} }

func op() *driver.Operation {
	return &driver.Operation{
		Image:       bundle.InvocationImage{BaseImage: bundle.BaseImage{Image: "example.test/app:v1", ImageType: "docker"}},
		Environment: map[string]string{"CNAB_ACTION": "install", "B": "2"},
		Files:       map[string]string{"/cnab/app/relocation-mapping.json": "{}", "/porter/state.tgz": "state"},
		Outputs:     map[string]string{"/cnab/app/outputs/port": "port", "/cnab/app/outputs/porter-state": "porter-state"},
	}
}

func TestDriverRunsOneContainer(t *testing.T) {
	f := newFake()
	f.frames = append(frame(1, "hello\n"), frame(2, "warn\n")...)
	f.outputs = map[string]string{"port": "9001", "porter-state": "tgz", "unasked": "x"}
	var stdout, stderr bytes.Buffer
	o := op()
	o.Out, o.Err = &stdout, &stderr
	o.Image.Digest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	f.repo = []string{"example.test/app@" + o.Image.Digest}
	d := &dockerDriver{api: f, stopTimeout: 30, configure: func(c *container.Config, hc *container.HostConfig) {
		c.Labels["x"] = "y"
		hc.Binds = append(hc.Binds, "/s:/s")
	}}

	res, err := d.Run(t.Context(), o)
	require.NoError(t, err)
	// Run returns only after the output has been copied: the writers are
	// the caller's again.
	assert.Equal(t, "hello\n", stdout.String())
	assert.Equal(t, "warn\n", stderr.String())
	assert.Equal(t, map[string]string{"port": "9001", "porter-state": "tgz"}, res.Outputs)
	assert.Equal(t, []string{"/cnab/app/run"}, []string(f.created.Entrypoint))
	assert.Equal(t, []string{"B=2", "CNAB_ACTION=install"}, f.created.Env)
	assert.Equal(t, "y", f.created.Labels["x"])
	assert.Equal(t, 30, *f.created.StopTimeout)
	assert.Equal(t, []string{"/s:/s"}, f.host.Binds)
	assert.Equal(t, map[string]string{"cnab/app/relocation-mapping.json": "{}", "porter/state.tgz": "state"}, f.files)
	assert.Equal(t, []string{"cnab/", "cnab/app/", "porter/"}, f.dirs, "parents first, each once")
	assert.True(t, f.removed)
	assert.NoError(t, d.startErr)
}

func TestDriverExitCodeAndMissingOutputs(t *testing.T) {
	f := newFake()
	f.exit = 3
	d := &dockerDriver{api: f}
	res, err := d.Run(t.Context(), op())
	require.EqualError(t, err, "the invocation image exited with code 3")
	assert.Empty(t, res.Outputs, "no outputs directory is no outputs")
	assert.NoError(t, d.startErr, "the container ran: its failure is a result")
	assert.True(t, f.removed)
}

func TestDriverRefusesWrongDigest(t *testing.T) {
	f := newFake()
	f.repo = []string{"example.test/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"}
	o := op()
	o.Image.Digest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	d := &dockerDriver{api: f}
	_, err := d.Run(t.Context(), o)
	var de *DigestError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "does not have the bundle's digest sha256:0123")
	assert.Equal(t, err, d.startErr)
	assert.Nil(t, f.created, "no container is created for the wrong image")
}

func TestDriverMissingImageIsNotFound(t *testing.T) {
	f := newFake()
	f.missing = true
	d := &dockerDriver{api: f}
	_, err := d.Run(t.Context(), op())
	require.Error(t, err)
	assert.True(t, cerrdefs.IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "invocation image example.test/app:v1")
}

func TestDriverCreateFailureIsAStartError(t *testing.T) {
	f := newFake()
	f.createErr = errors.New("no space left on device")
	d := &dockerDriver{api: f}
	_, err := d.Run(t.Context(), op())
	require.ErrorContains(t, err, "create the invocation container: no space left on device")
	assert.Equal(t, err, d.startErr)
}

func TestDriverCancelStopsTheContainer(t *testing.T) {
	f := newFake()
	f.block = true
	f.frames = frame(1, "working\n")
	f.outputs = map[string]string{"porter-state": "partial"}
	var out bytes.Buffer
	o := op()
	o.Out = &out
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	res, err := (&dockerDriver{api: f, stopTimeout: 1}).Run(ctx, o)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "partial", res.Outputs["porter-state"], "outputs written on the way out are kept")
	assert.Equal(t, "working\n", out.String())
	assert.True(t, f.removed)
}

// The bug this driver replaces: each run of cnab-go's driver left its
// attach goroutine spinning. After many runs no goroutine may remain.
func TestDriverLeavesNoGoroutine(t *testing.T) {
	settle := func() int {
		for range 50 {
			runtime.Gosched()
			time.Sleep(2 * time.Millisecond)
		}
		return runtime.NumGoroutine()
	}
	before := settle()
	for range 20 {
		f := newFake()
		f.frames = frame(1, strings.Repeat("x", 100000))
		o := op()
		o.Out = io.Discard
		_, err := (&dockerDriver{api: f}).Run(t.Context(), o)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, settle(), before+2, "goroutines left behind by 20 runs")
}

func TestFilesTarRefusesRelativePaths(t *testing.T) {
	_, err := filesTar(map[string]string{"cnab/x": ""}, 0)
	require.ErrorContains(t, err, `"cnab/x": not an absolute path`)
}

func TestDriverStalledDockerTimesOut(t *testing.T) {
	f := newFake()
	f.stall = true
	d := &dockerDriver{api: f, callTimeout: 50 * time.Millisecond}
	_, err := d.Run(t.Context(), op())
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "Docker did not answer within 50ms (create the invocation container)", te.Error())
	assert.Equal(t, err, d.startErr)
}

func TestDriverCancelIsNotATimeout(t *testing.T) {
	f := newFake()
	f.stall = true
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := (&dockerDriver{api: f, callTimeout: time.Hour}).Run(ctx, op())
	var te *TimeoutError
	require.False(t, errors.As(err, &te), "%v", err)
	require.ErrorIs(t, err, context.Canceled)
}

// A wait stream that breaks (dockerd restarting) is opened again: the run
// ends with the container's real exit, not with the lost stream.
func TestDriverWaitsAgainAfterABrokenStream(t *testing.T) {
	f := newFake()
	f.waitErrs, f.exit = 2, 137
	_, err := (&dockerDriver{api: f, callTimeout: time.Minute}).Run(t.Context(), op())
	require.EqualError(t, err, "the invocation image exited with code 137")
	assert.Equal(t, 3, f.waits)

	f = newFake()
	f.waitErrs = 1000
	_, err = (&dockerDriver{api: f, callTimeout: time.Second}).Run(t.Context(), op())
	require.ErrorContains(t, err, "wait for the invocation container: unexpected EOF", "gives up after callTimeout")
}

// The moby client's attach ignores its context: a stalled one is abandoned
// at the call timeout, and the connection it returns late is closed.
func TestDriverAbandonsADeafAttach(t *testing.T) {
	f := newFake()
	f.deafAttach = 3 * time.Second
	start := time.Now()
	_, err := (&dockerDriver{api: f, callTimeout: 50 * time.Millisecond}).Run(t.Context(), op())
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Less(t, time.Since(start), f.deafAttach, "Run did not wait for the deaf attach")
	assert.True(t, f.removed, "the created container is removed")
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.lateConn == nil {
			return false
		}
		_ = f.lateConn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := f.lateConn.Write([]byte("x"))
		return errors.Is(err, io.ErrClosedPipe)
	}, 10*time.Second, 20*time.Millisecond, "the late connection is closed")
}

// A bundle that holds the host's Docker socket runs on the host's network
// (it gains nothing it could not already have, and starts faster); a
// policed one gets its own socket and no network at all; one without
// Docker keeps Docker's default network and gets no socket.
func TestInvocationContainerNetwork(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	require.NoError(t, os.WriteFile(sock, nil, 0o600))
	r := &Runner{Socket: sock}
	for _, tc := range []struct {
		name     string
		required []string
		socket   string
		policed  bool
		network  string
		binds    []string
		groups   int
	}{
		{"docker", []string{DockerExtension}, sock, false, "host", []string{sock + ":/var/run/docker.sock"}, 1},
		{"policed", []string{DockerExtension}, "/run/policed.sock", true, "none", []string{"/run/policed.sock:/var/run/docker.sock"}, 0},
		{"plain", nil, sock, false, "", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := r.driver(orchestrator.RunRequest{Installation: "x", Revision: "r"}, &bundle.Bundle{RequiredExtensions: tc.required}, tc.socket, tc.policed)
			require.NoError(t, err)
			cfg, hc := &container.Config{Labels: map[string]string{}}, &container.HostConfig{}
			d.configure(cfg, hc)
			assert.Equal(t, container.NetworkMode(tc.network), hc.NetworkMode)
			assert.Equal(t, tc.binds, hc.Binds)
			assert.Len(t, hc.GroupAdd, tc.groups)
			assert.False(t, hc.Privileged)
		})
	}
}

// A policed bundle that asks for a privileged invocation container gets
// one only when privileged was granted; without the grant Run refuses it
// before anything starts.
func TestPrivilegedInvocationNeedsGrant(t *testing.T) {
	bun := &bundle.Bundle{RequiredExtensions: []string{DockerExtension},
		Custom: map[string]any{DockerExtension: map[string]any{"privileged": true}}}
	r := &Runner{Now: time.Now, Police: func(context.Context, orchestrator.RunRequest) (string, func(), error) {
		t.Fatal("no socket is served for a refused run")
		return "", nil, nil
	}}
	_, err := r.Run(t.Context(), orchestrator.RunRequest{Installation: "x", Action: "install", Bundle: bun})
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "needs the permission privileged")

	for _, tc := range []struct {
		name    string
		granted []orchestrator.Permission
		want    bool
	}{
		{"granted", []orchestrator.Permission{orchestrator.PermPrivileged}, true},
		{"other grant", []orchestrator.Permission{"cap-add:NET_ADMIN"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := r.driver(orchestrator.RunRequest{Installation: "x", Revision: "r", Granted: tc.granted}, bun, "/run/policed.sock", true)
			require.NoError(t, err)
			cfg, hc := &container.Config{Labels: map[string]string{}}, &container.HostConfig{}
			d.configure(cfg, hc)
			assert.Equal(t, tc.want, hc.Privileged)
			assert.Equal(t, container.NetworkMode("none"), hc.NetworkMode, "still no network")
		})
	}
}
