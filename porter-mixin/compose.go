package portermixin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// SDK is the Composer backed by the docker/compose v5 SDK, talking to the
// engine named by DOCKER_HOST (the mounted /var/run/docker.sock by default).
type SDK struct {
	Out io.Writer
}

var _ Composer = (*SDK)(nil)

func (c *SDK) service() (api.Compose, error) {
	dockerCLI, err := command.NewDockerCli(command.WithOutputStream(c.Out), command.WithErrorStream(c.Out))
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if err := dockerCLI.Initialize(flags.NewClientOptions()); err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	// Never auto-confirm compose's prompts (a "yes" could recreate volumes).
	refuse := func(message string, _ bool) (bool, error) {
		return false, fmt.Errorf("compose asked %q; refusing to confirm", strings.TrimSpace(message))
	}
	return compose.NewComposeService(dockerCLI,
		compose.WithOutputStream(c.Out), compose.WithErrorStream(c.Out),
		compose.WithPrompt(refuse), compose.WithEventProcessor(&lineEvents{out: c.Out}))
}

// load reads the compose file of p, with p.Env offered to interpolation,
// and applies StackHub's rules: container names, labels, named volumes only.
func load(ctx context.Context, svc api.Compose, p Plan) (*types.Project, error) {
	env := make([]string, 0, len(p.Env))
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		env = append(env, k+"="+p.Env[k])
	}
	project, err := svc.LoadProject(ctx, api.ProjectLoadOptions{
		ProjectName:       p.Project,
		ConfigPaths:       []string{p.ComposeFile},
		WorkingDir:        filepath.Dir(p.ComposeFile),
		Offline:           true,
		ProjectOptionsFns: []cli.ProjectOptionsFn{cli.WithEnv(env)},
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", filepath.Base(p.ComposeFile), err)
	}
	if err := Check(project, p.Main); err != nil {
		return nil, err
	}
	labels := map[string]string{naming.LabelApp: p.App}
	if p.RunID != "" {
		labels[naming.LabelRun] = p.RunID
	}
	for name, s := range project.Services {
		s.ContainerName = naming.Container(p.App, name, name == p.Main)
		if s.CustomLabels == nil {
			s.CustomLabels = types.Labels{}
		}
		maps.Copy(s.CustomLabels, labels)
		s.CustomLabels[naming.LabelService] = name
		project.Services[name] = s
	}
	for name, n := range project.Networks {
		if n.CustomLabels == nil {
			n.CustomLabels = types.Labels{}
		}
		maps.Copy(n.CustomLabels, labels)
		project.Networks[name] = n
	}
	for name, v := range project.Volumes {
		if v.CustomLabels == nil {
			v.CustomLabels = types.Labels{}
		}
		maps.Copy(v.CustomLabels, labels)
		project.Volumes[name] = v
	}
	return project, nil
}

// Check enforces the websoft9 rules on a loaded project: main names a
// service, and services mount named volumes only (no host bind mounts, no
// anonymous volumes) and set no container_name of their own.
func Check(project *types.Project, main string) error {
	if main != "" {
		if _, ok := project.Services[main]; !ok {
			return fmt.Errorf("main service %q is not a service of the compose file (services: %s)", main, strings.Join(project.ServiceNames(), ", "))
		}
	}
	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s := project.Services[name]
		if s.ContainerName != "" {
			return fmt.Errorf("service %s sets container_name %q: StackHub names containers itself; remove it", name, s.ContainerName)
		}
		for _, v := range s.Volumes {
			switch {
			case v.Type == types.VolumeTypeBind:
				return fmt.Errorf("service %s mounts host path %q at %s: host bind mounts are refused, use a named volume", name, v.Source, v.Target)
			case v.Type == types.VolumeTypeVolume && v.Source == "":
				return fmt.Errorf("service %s has an anonymous volume at %s: declare a named volume", name, v.Target)
			case v.Type != types.VolumeTypeVolume && v.Type != types.VolumeTypeTmpfs:
				return fmt.Errorf("service %s mounts %s at %s: only named volumes and tmpfs are allowed", name, v.Type, v.Target)
			}
		}
	}
	return nil
}

// Up implements Composer.
func (c *SDK) Up(ctx context.Context, p Plan) error {
	svc, err := c.service()
	if err != nil {
		return err
	}
	project, err := load(ctx, svc, p)
	if err != nil {
		return err
	}
	return svc.Up(ctx, project, api.UpOptions{
		Create: api.CreateOptions{Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged, RemoveOrphans: true},
		Start:  api.StartOptions{Project: project, Wait: true, WaitTimeout: p.Wait},
	})
}

// Down implements Composer.
func (c *SDK) Down(ctx context.Context, p Plan) error {
	svc, err := c.service()
	if err != nil {
		return err
	}
	opts := api.DownOptions{RemoveOrphans: true, Volumes: p.Purge}
	if p.ComposeFile != "" {
		project, err := load(ctx, svc, p)
		if err != nil {
			return err
		}
		opts.Project = project
	}
	return svc.Down(ctx, p.Project, opts)
}

// lineEvents prints compose's progress events as plain log lines, once
// per change. Compose calls On from many goroutines.
type lineEvents struct {
	out  io.Writer
	mu   sync.Mutex
	last map[string]string
}

func (e *lineEvents) Start(context.Context, string) {}
func (e *lineEvents) Done(string, bool)             {}
func (e *lineEvents) On(events ...api.Resource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]string{}
	}
	for _, ev := range events {
		if ev.Status == api.Working && ev.Percent > 0 {
			continue // pull progress ticks
		}
		line := strings.TrimSpace(fmt.Sprintf("%s %s %s", ev.ID, ev.Text, ev.Details))
		if e.last[ev.ID] == line {
			continue
		}
		e.last[ev.ID] = line
		fmt.Fprintf(e.out, "%s: %s\n", Name, line)
	}
}
