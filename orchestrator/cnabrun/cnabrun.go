// Package cnabrun runs one CNAB action through cnab-go's action package and
// Docker driver: it builds the claim, fills parameter defaults, creates a
// fresh driver per run with the Docker socket mounted for bundles that
// require the docker extension, streams the invocation image's output to
// the run's writer, and turns Docker failures into domain codes.
//
// It imports orchestrator, cnab-go and the Docker API types only.
package cnabrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cnabio/cnab-go/action"
	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/claim"
	"github.com/cnabio/cnab-go/driver"
	"github.com/cnabio/cnab-go/driver/docker"
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
}

var _ orchestrator.Runner = (*Runner)(nil)

// RelocationMappingPath is where CNAB puts a relocated bundle's image map
// in the invocation image.
const RelocationMappingPath = "/cnab/app/relocation-mapping.json"

// New returns a Runner for the socket at /var/run/docker.sock.
func New(logger *slog.Logger, ping func(context.Context) error) *Runner {
	return &Runner{Socket: "/var/run/docker.sock", Logger: logger.With("component", "cnabrun"), Now: time.Now, Ping: ping}
}

// Run implements orchestrator.Runner.
func (r *Runner) Run(ctx context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error) {
	bun := req.Bundle
	params, err := bundle.ValuesOrDefaults(req.Parameters, bun, req.Action)
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
		Action:        req.Action,
		Bundle:        *bun,
		Parameters:    params,
	}
	d, err := r.driver(req, bun)
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
		op.Out, op.Err = out, out
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
	if err != nil {
		return orchestrator.RunResult{}, r.classify(ctx, err)
	}
	res := orchestrator.RunResult{Status: result.Status, Message: result.Message}
	if opResult.Error != nil && res.Message == "" {
		res.Message = opResult.Error.Error()
	}
	if ctx.Err() != nil {
		res.Status = claim.StatusCanceled
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

// driver returns a fresh Docker driver: it keeps container state in its
// fields, so one is never shared between runs.
func (r *Runner) driver(req orchestrator.RunRequest, bun *bundle.Bundle) (*docker.Driver, error) {
	d := &docker.Driver{}
	// SetConfig, even empty, is what defaults CLEANUP_CONTAINERS to true.
	if err := d.SetConfig(map[string]string{"DOCKER_DRIVER_QUIET": "1"}); err != nil {
		return nil, fmt.Errorf("driver config: %w", err)
	}
	needsDocker := slices.Contains(bun.RequiredExtensions, DockerExtension)
	var gid int
	if needsDocker {
		fi, err := os.Stat(r.Socket)
		if err != nil {
			return nil, orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "Docker socket %s is missing: is dockerd running?", r.Socket)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			gid = int(st.Gid)
		}
	}
	privileged := dockerPrivileged(bun)
	d.AddConfigurationOptions(func(cfg *container.Config, hc *container.HostConfig) error {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[naming.LabelRun] = req.Revision
		cfg.Labels[LabelInstallation] = req.Installation
		timeout := StopTimeout
		cfg.StopTimeout = &timeout
		if needsDocker {
			hc.Binds = append(hc.Binds, r.Socket+":/var/run/docker.sock")
			hc.GroupAdd = append(hc.GroupAdd, strconv.Itoa(gid))
			hc.Privileged = privileged
		}
		return nil
	})
	return d, nil
}

func dockerPrivileged(bun *bundle.Bundle) bool {
	ext, ok := bun.Custom[DockerExtension].(map[string]any)
	if !ok {
		return false
	}
	p, _ := ext["privileged"].(bool)
	return p
}

// classify turns a run that could not start into a domain error. cnab-go
// flattens Docker errors into text, so Docker is asked directly whether it
// answers rather than the text being read.
func (r *Runner) classify(ctx context.Context, err error) error {
	if r.Ping != nil {
		if perr := r.Ping(context.WithoutCancel(ctx)); perr != nil {
			return fmt.Errorf("run: %w", perr)
		}
	}
	return orchestrator.WrapError(orchestrator.EINTERNAL, err, "the CNAB action could not run (see the server log)")
}
