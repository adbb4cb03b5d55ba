// Package cnabrun runs one CNAB action through cnab-go's action package and
// a Docker driver of its own (cnab-go's leaks a spinning goroutine per
// run; see dockerDriver): it builds the claim, fills parameter defaults,
// creates a fresh driver per run with the Docker socket mounted for
// bundles that require the docker extension, streams the invocation
// image's output to the run's writer, and turns Docker failures into
// domain codes.
//
// It imports orchestrator, cnab-go and the Docker API types only.
package cnabrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/cnabio/cnab-go/action"
	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/claim"
	"github.com/cnabio/cnab-go/driver"
	"github.com/cnabio/cnab-go/valuesource"
	"github.com/moby/moby/api/types/container"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// DockerExtension is the CNAB required extension that asks for the host's
// Docker socket.
const DockerExtension = "io.cnab.docker"

// LabelInstallation marks invocation containers with the installation they
// act on (never sh.websoft9.app, which marks the app's own containers).
const LabelInstallation = naming.LabelInvocation

// StopTimeout is the grace period of an invocation container on cancel,
// Porter's 30 s.
const StopTimeout = 30

// Runner runs CNAB actions against the local Docker engine.
type Runner struct {
	// Socket is the Docker socket mounted into invocation images that
	// require the docker extension.
	Socket string
	Logger *slog.Logger
	Now    func() time.Time
	// Ping tells, after a run could not start, whether Docker answers;
	// its error (EUNAVAILABLE) is returned instead of the run's.
	Ping func(context.Context) error
	// Docker runs the invocation containers; one client serves every run.
	Docker DockerAPI
	// CallTimeout bounds each Docker call made before the invocation
	// container runs (0: none).
	CallTimeout time.Duration
	// Police, when set, serves each run that asks for Docker a socket of
	// its own that enforces StackHub's bundle policy (dockerpolicy),
	// mounted instead of Socket; that invocation container then has no
	// network at all. stop ends the socket once the run is over.
	Police func(ctx context.Context, req orchestrator.RunRequest) (socket string, stop func(), err error)
}

var _ orchestrator.Runner = (*Runner)(nil)

// RelocationMappingPath is where CNAB puts a relocated bundle's image map
// in the invocation image.
const RelocationMappingPath = "/cnab/app/relocation-mapping.json"

// New returns a Runner that runs invocation containers through docker and
// mounts the socket at /var/run/docker.sock into those that ask for it.
func New(logger *slog.Logger, docker DockerAPI, ping func(context.Context) error) *Runner {
	return &Runner{Socket: "/var/run/docker.sock", Logger: logger.With("component", "cnabrun"), Now: time.Now, Ping: ping,
		Docker: docker, CallTimeout: time.Minute}
}

// Run implements orchestrator.Runner.
func (r *Runner) Run(ctx context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error) {
	bun := req.Bundle
	cnabAction := string(req.Action)
	params, err := bundle.ValuesOrDefaults(req.Parameters, bun, cnabAction)
	if err != nil {
		// cnab-go's message quotes the value, which may be a secret: the
		// user sees only which parameters were given; the cause stays in Err.
		return orchestrator.RunResult{}, orchestrator.WrapError(orchestrator.EINVALID, err,
			"the parameters for %s do not match the bundle's definitions (missing, or a value of the wrong type or range)", req.Action)
	}
	c := claim.Claim{
		SchemaVersion: claim.GetDefaultSchemaVersion(),
		ID:            req.RunID,
		Installation:  "/" + req.Installation, // Porter's <namespace>/<name>, default namespace
		Revision:      req.Revision,
		Created:       r.Now().UTC(),
		Action:        cnabAction,
		Bundle:        *bun,
		Parameters:    params,
	}
	socket := r.Socket
	policed := r.Police != nil && slices.Contains(bun.RequiredExtensions, DockerExtension)
	if policed {
		if dockerPrivileged(bun) && !slices.Contains(req.Granted, orchestrator.PermPrivileged) {
			return orchestrator.RunResult{}, orchestrator.Errorf(orchestrator.EFORBIDDEN,
				"the bundle asks for a privileged invocation container (%s privileged: true), which needs the permission %s: declare it in custom.sh.websoft9.permissions, and an admin grants it",
				DockerExtension, orchestrator.PermPrivileged)
		}
		sock, stop, err := r.Police(ctx, req)
		if err != nil {
			return orchestrator.RunResult{}, fmt.Errorf("run %s: policed Docker socket: %w", req.Installation, err)
		}
		defer stop()
		socket = sock
	}
	d, err := r.driver(req, bun, socket, policed)
	if err != nil {
		return orchestrator.RunResult{}, err
	}
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	a := action.New(d)
	opResult, result, err := a.Run(ctx, c, valuesource.Set{}, func(op *driver.Operation) error {
		op.Environment["PORTER_INSTALLATION_NAME"] = req.Installation
		op.Environment["PORTER_INSTALLATION_NAMESPACE"] = ""
		op.Environment["PORTER_INSTALLATION_ID"] = req.Installation
		if req.Node != "" {
			// Set by StackHub, not a bundle parameter: bundles need no
			// change, and under Porter nothing changes.
			op.Environment[naming.EnvSwarmNode] = req.Node
		}
		op.Out, op.Err = out, out
		if to, ok := req.Relocation[op.Image.Image]; ok {
			// Porter's ApplyConfig: the invocation image runs from where
			// it was relocated; its contentDigest still identifies it.
			op.Image.Image = to
		}
		if len(req.Relocation) > 0 {
			data, err := json.Marshal(req.Relocation)
			if err != nil {
				return fmt.Errorf("relocation mapping: %w", err)
			}
			if op.Files == nil {
				op.Files = map[string]string{}
			}
			op.Files[RelocationMappingPath] = string(data)
		}
		return nil
	})
	if err == nil && d.startErr != nil {
		// No container ran: Docker's failure is the answer, not a result.
		err = d.startErr
	}
	if err != nil {
		return orchestrator.RunResult{}, r.classify(ctx, err)
	}
	status, err := orchestrator.ParseRunStatus(result.Status)
	if err != nil || status == orchestrator.RunRunning {
		// A result must be final: anything else (unknown, pending) failed.
		status = orchestrator.RunFailed
	}
	res := orchestrator.RunResult{Status: status, Message: result.Message}
	if opResult.Error != nil && res.Message == "" {
		res.Message = opResult.Error.Error()
	}
	if ctx.Err() != nil {
		res.Status = orchestrator.RunCanceled
	}
	names := make([]string, 0, len(opResult.Outputs))
	for name := range opResult.Outputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		res.Outputs = append(res.Outputs, classifyOutput(bun, name, opResult.Outputs[name]))
	}
	return res, nil
}

// classifyOutput marks internal outputs (porter-*, io.cnab.*) and
// sensitive ones (writeOnly definitions), which are stored sealed.
func classifyOutput(bun *bundle.Bundle, name, value string) orchestrator.Output {
	o := orchestrator.Output{Name: name, Value: []byte(value)}
	o.Internal = strings.HasPrefix(name, "porter-") || strings.HasPrefix(name, "io.cnab.")
	if out, ok := bun.Outputs[name]; ok {
		if def, ok := bun.Definitions[out.Definition]; ok && def.WriteOnly != nil && *def.WriteOnly {
			o.Sensitive = true
		}
	}
	return o
}

// driver returns a fresh driver for one run (it keeps the run's state).
// A run that asks for Docker gets socket at /var/run/docker.sock: a
// policed one (no network, and no privilege unless the bundle asks for it
// and was granted privileged), or the host's own.
func (r *Runner) driver(req orchestrator.RunRequest, bun *bundle.Bundle, socket string, policed bool) (*dockerDriver, error) {
	needsDocker := slices.Contains(bun.RequiredExtensions, DockerExtension)
	var gid int
	if needsDocker && !policed {
		fi, err := os.Stat(socket)
		if err != nil {
			return nil, orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "Docker socket %s is missing: is dockerd running?", socket)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			gid = int(st.Gid)
		}
	}
	privileged := dockerPrivileged(bun)
	grantedPrivileged := privileged && slices.Contains(req.Granted, orchestrator.PermPrivileged)
	return &dockerDriver{api: r.Docker, stopTimeout: StopTimeout, callTimeout: r.CallTimeout, configure: func(cfg *container.Config, hc *container.HostConfig) {
		cfg.Labels[naming.LabelRun] = req.Revision
		cfg.Labels[LabelInstallation] = req.Installation
		switch {
		case needsDocker && policed:
			// The policed socket is world-connectable and the only door:
			// no group, no privilege, and no network (a unix socket needs
			// none, and not making a network namespace's veth, bridge
			// and iptables rules saves time on every action).
			hc.Binds = append(hc.Binds, socket+":/var/run/docker.sock")
			hc.NetworkMode = "none"
			hc.Privileged = grantedPrivileged
		case needsDocker:
			hc.Binds = append(hc.Binds, socket+":/var/run/docker.sock")
			hc.GroupAdd = append(hc.GroupAdd, strconv.Itoa(gid))
			hc.Privileged = privileged
			// The host's network: a container that holds the host's
			// Docker socket is root on the host already, so its own
			// network namespace isolates nothing.
			hc.NetworkMode = "host"
		}
	}}, nil
}

func dockerPrivileged(bun *bundle.Bundle) bool {
	ext, ok := bun.Custom[DockerExtension].(map[string]any)
	if !ok {
		return false
	}
	p, _ := ext["privileged"].(bool)
	return p
}

// classify turns a run that could not start into a domain error, once.
// Docker is asked directly whether it answers rather than its error text
// being read.
func (r *Runner) classify(ctx context.Context, err error) error {
	if r.Ping != nil {
		if perr := r.Ping(context.WithoutCancel(ctx)); perr != nil {
			return fmt.Errorf("run: %w", perr)
		}
	}
	var (
		digest  *DigestError
		timeout *TimeoutError
	)
	switch {
	case errors.As(err, &timeout):
		return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "%s: dockerd is stalled or overloaded; nothing of the run was left behind, try again", timeout.Error())
	case errors.As(err, &digest):
		return orchestrator.WrapError(orchestrator.EINVALID, err, "%s: it is not the image the bundle was published with; pull the bundle again", digest.Error())
	case cerrdefs.IsNotFound(err):
		return orchestrator.WrapError(orchestrator.ENOTFOUND, err, "the bundle's invocation image is not in Docker and could not be pulled: build or pull the bundle first")
	}
	// Docker's own answer says why (no secret is in it: the environment
	// is sent, never echoed).
	return orchestrator.WrapError(orchestrator.EINTERNAL, err, "the CNAB action could not start: %v", err)
}
