package portermixin

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/porter-mixin/naming"
	"github.com/websoft9/stackhub/porter-mixin/swarmspec"
)

// SDK is the Composer backed by the docker/compose v5 SDK, talking to the
// engine named by DOCKER_HOST (the mounted /var/run/docker.sock by default).
// It writes compose's progress to Out as log lines and event lines.
type SDK struct {
	Out io.Writer
}

var _ Composer = (*SDK)(nil)

func (c *SDK) service() (api.Compose, command.Cli, error) {
	dockerCLI, err := command.NewDockerCli(command.WithOutputStream(c.Out), command.WithErrorStream(c.Out))
	if err != nil {
		return nil, nil, fmt.Errorf("docker client: %w", err)
	}
	if err := dockerCLI.Initialize(flags.NewClientOptions()); err != nil {
		return nil, nil, fmt.Errorf("docker client: %w", err)
	}
	// Never auto-confirm compose's prompts (a "yes" could recreate volumes).
	refuse := func(message string, _ bool) (bool, error) {
		return false, fmt.Errorf("compose asked %q; refusing to confirm", strings.TrimSpace(message))
	}
	svc, err := compose.NewComposeService(dockerCLI,
		compose.WithOutputStream(c.Out), compose.WithErrorStream(c.Out),
		compose.WithPrompt(refuse), compose.WithEventProcessor(&progress{out: c.Out}))
	if err != nil {
		return nil, nil, err
	}
	return svc, dockerCLI, nil
}

// load builds the project of p from its compose file (interpolated with
// p.Env) or its inline services (not interpolated), narrowed to p.Start,
// and applies StackHub's rules: container names, labels, named volumes
// only.
func load(ctx context.Context, svc api.Compose, p Plan) (*types.Project, error) {
	opts := api.ProjectLoadOptions{ProjectName: p.Project, Offline: true, Services: p.Start}
	switch {
	case p.ComposeFile != "":
		env := make([]string, 0, len(p.Env))
		for _, k := range slices.Sorted(maps.Keys(p.Env)) {
			env = append(env, k+"="+p.Env[k])
		}
		opts.ConfigPaths = []string{p.ComposeFile}
		opts.WorkingDir = filepath.Dir(p.ComposeFile)
		opts.ProjectOptionsFns = []cli.ProjectOptionsFn{cli.WithEnv(env)}
	case len(p.Services) > 0:
		doc, err := inlineDocument(p.Services)
		if err != nil {
			return nil, err
		}
		// The loader reads files only; the file lives for the load.
		f, err := os.CreateTemp("", Name+"-services-*.yaml")
		if err != nil {
			return nil, fmt.Errorf("inline services: %w", err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(doc)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("inline services: %w", err)
		}
		opts.ConfigPaths = []string{f.Name()}
		opts.WorkingDir = p.WorkDir
		opts.ProjectOptionsFns = []cli.ProjectOptionsFn{cli.WithInterpolation(false)}
	default:
		return nil, fmt.Errorf("no compose model: %w", errNoModel)
	}
	project, err := svc.LoadProject(ctx, opts)
	if err != nil {
		if p.ComposeFile != "" {
			return nil, fmt.Errorf("load %s: %w", filepath.Base(p.ComposeFile), err)
		}
		return nil, fmt.Errorf("load inline services: %w", err)
	}
	if err := Check(project, p.Main); err != nil {
		return nil, err
	}
	if err := inlineFileObjects(project, opts.WorkingDir); err != nil {
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
// service (selected or not), and services mount named volumes only (no
// host bind mounts, no anonymous volumes) and set no container_name of
// their own.
func Check(project *types.Project, main string) error {
	if main != "" {
		_, enabled := project.Services[main]
		_, disabled := project.DisabledServices[main]
		if !enabled && !disabled {
			return fmt.Errorf("main service %q is not a service of the compose model (services: %s)", main, strings.Join(project.ServiceNames(), ", "))
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
	svc, dockerCLI, err := c.service()
	if err != nil {
		return err
	}
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return err
		}
		plan, project, err := d.plan(ctx, svc, p)
		if err != nil {
			return err
		}
		if err := checkExecServices(project, p.Exec); err != nil {
			return err
		}
		return d.up(ctx, plan, p.Wait, len(p.Start) == 0)
	}
	project, err := load(ctx, svc, p)
	if err != nil {
		return err
	}
	if err := checkExecServices(project, p.Exec); err != nil {
		return err
	}
	err = svc.Up(ctx, project, api.UpOptions{
		Create: api.CreateOptions{Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged, RemoveOrphans: true},
		Start:  api.StartOptions{Project: project, Wait: true, WaitTimeout: p.Wait},
	})
	if err != nil {
		if why := whyNotUp(context.WithoutCancel(ctx), dockerCLI.Client(), p.Project); why != "" {
			return fmt.Errorf("%w; %s", err, why)
		}
	}
	return err
}

// whyNotUp says, after a failed up, what the health checks of the
// project's unhealthy containers last answered: compose says only that a
// container is unhealthy (it says itself with which code one exited), and
// the check's output is what tells an operator why. Empty when no
// container is unhealthy.
func whyNotUp(ctx context.Context, dc client.APIClient, project string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "com.docker.compose.project="+project).Add("label", "com.docker.compose.oneoff=False")})
	if err != nil {
		return ""
	}
	var out []string
	for _, x := range list.Items {
		in, err := dc.ContainerInspect(ctx, x.ID, client.ContainerInspectOptions{})
		if err != nil || in.Container.State == nil {
			continue
		}
		h := in.Container.State.Health
		if h == nil || h.Status != container.Unhealthy || len(h.Log) == 0 {
			continue
		}
		last := h.Log[len(h.Log)-1]
		out = append(out, fmt.Sprintf("the health check of %s failed %d times in a row, last with exit code %d: %s",
			strings.TrimPrefix(in.Container.Name, "/"), h.FailingStreak, last.ExitCode, oneLine(last.Output, 300)))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// oneLine is s on one line, at most n bytes (cut at a rune).
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Down implements Composer.
func (c *SDK) Down(ctx context.Context, p Plan) error {
	svc, _, err := c.service()
	if err != nil {
		return err
	}
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return err
		}
		var volumes []string
		if p.HasModel() && p.Node != d.local && p.Purge {
			// To name the volumes a purge leaves on another node: those
			// of the model (an uninstall step names no main service, so
			// this is no conversion).
			p.Start = nil
			if project, err := load(ctx, svc, p); err == nil {
				for _, key := range slices.Sorted(maps.Keys(project.Volumes)) {
					if !project.Volumes[key].External {
						volumes = append(volumes, swarmspec.ObjectName(project, key))
					}
				}
			} else {
				d.logf("the model does not load, its volumes are not named: %v", err)
			}
		}
		return d.down(ctx, p, volumes)
	}
	opts := api.DownOptions{RemoveOrphans: true, Volumes: p.Purge}
	if p.HasModel() {
		// The whole model: down removes every service, whatever start says.
		p.Start = nil
		project, err := load(ctx, svc, p)
		if err != nil {
			return err
		}
		opts.Project = project
	}
	return svc.Down(ctx, p.Project, opts)
}

// Start implements Composer. On a Swarm it scales the app's services
// (p.Start: only those) back to one task and waits up to p.Wait.
func (c *SDK) Start(ctx context.Context, p Plan) error {
	svc, _, err := c.service()
	if err != nil {
		return err
	}
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return err
		}
		return d.started(ctx, p, func(ctx context.Context) ([]swarm.Service, error) { return d.scale(ctx, p, 1, p.Start) })
	}
	opts := api.StartOptions{Wait: true, WaitTimeout: p.Wait, AttachTo: p.Start}
	if p.HasModel() {
		if opts.Project, err = load(ctx, svc, p); err != nil {
			return err
		}
	}
	return svc.Start(ctx, p.Project, opts)
}

// Stop implements Composer. On a Swarm it scales the app's services
// (p.Start: only those) to 0: Swarm has no stopped task to start again.
func (c *SDK) Stop(ctx context.Context, p Plan) error {
	svc, _, err := c.service()
	if err != nil {
		return err
	}
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, p.Wait)
		defer cancel()
		list, err := d.scale(ctx, p, 0, p.Start)
		if err != nil {
			return err
		}
		return d.waitStopped(ctx, list)
	}
	opts := api.StopOptions{Services: p.Start}
	if p.HasModel() {
		p.Start = nil // Services above selects; the model stays whole for the dependency order
		if opts.Project, err = load(ctx, svc, p); err != nil {
			return err
		}
	}
	return svc.Stop(ctx, p.Project, opts)
}

// Restart implements Composer. On a Swarm it replaces the services'
// tasks (p.Start: only those) and waits up to p.Wait.
func (c *SDK) Restart(ctx context.Context, p Plan) error {
	svc, _, err := c.service()
	if err != nil {
		return err
	}
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return err
		}
		return d.started(ctx, p, func(ctx context.Context) ([]swarm.Service, error) { return d.restart(ctx, p, p.Start) })
	}
	opts := api.RestartOptions{Services: p.Start}
	if p.HasModel() {
		p.Start = nil
		if opts.Project, err = load(ctx, svc, p); err != nil {
			return err
		}
	}
	return svc.Restart(ctx, p.Project, opts)
}

// checkExecServices refuses, before anything is created, an exec command
// whose service the project does not bring up.
func checkExecServices(project *types.Project, execs []ExecCommand) error {
	for i, c := range execs {
		if _, ok := project.Services[c.Service]; ok {
			continue
		}
		if _, ok := project.DisabledServices[c.Service]; ok {
			return fmt.Errorf("exec %d: service %q is not brought up by this step (start limits it to %s)", i+1, c.Service, strings.Join(project.ServiceNames(), ", "))
		}
		names := project.ServiceNames()
		sort.Strings(names)
		return fmt.Errorf("exec %d: service %q is not a service of the compose model (services: %s)", i+1, c.Service, strings.Join(names, ", "))
	}
	return nil
}

// serviceContainer returns the ID of the container of service in project,
// found by compose's project and service labels.
func serviceContainer(ctx context.Context, dc client.APIClient, project, service string) (string, error) {
	f := client.Filters{}.
		Add("label", "com.docker.compose.project="+project).
		Add("label", "com.docker.compose.service="+service).
		Add("label", "com.docker.compose.oneoff=False")
	list, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return "", fmt.Errorf("list containers of %s: %w", service, err)
	}
	if len(list.Items) == 0 {
		return "", fmt.Errorf("service %s of project %s has no container", service, project)
	}
	ids := make([]string, 0, len(list.Items))
	for _, x := range list.Items {
		ids = append(ids, x.ID)
	}
	sort.Strings(ids) // one container per service; pick deterministically if scaled
	return ids[0], nil
}

// Inspect implements Composer: it finds the service's container by
// compose's project and service labels.
func (c *SDK) Inspect(ctx context.Context, p Plan, service string) (json.RawMessage, error) {
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return d.inspect(ctx, p, service)
	}
	_, dockerCLI, err := c.service()
	if err != nil {
		return nil, err
	}
	dc := dockerCLI.Client()
	id, err := serviceContainer(ctx, dc, p.Project, service)
	if err != nil {
		return nil, err
	}
	res, err := dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container of %s: %w", service, err)
	}
	return res.Raw, nil
}

var _ Execer = (*SDK)(nil)

// Exec implements Execer through the Docker API: exec create on the
// service's container (found as Inspect finds it), attach, then inspect
// for the exit code. It never asks for a privileged exec (StackHub's
// policed socket refuses one) nor a TTY; stdout and stderr are
// demultiplexed into out.
func (c *SDK) Exec(ctx context.Context, p Plan, x ExecCommand, out io.Writer) (int, error) {
	_, dockerCLI, err := c.service()
	if err != nil {
		return 0, err
	}
	dc := dockerCLI.Client()
	var id string
	if d, ok, err := c.swarmFor(ctx, p); err != nil || ok {
		if err != nil {
			return 0, err
		}
		tid, local, err := d.taskContainer(ctx, p, x.Service)
		if err != nil {
			return 0, err
		}
		if !local {
			return 0, fmt.Errorf("exec in service %s: the app runs on Swarm node %s, and a container is reached only through its node's engine, not the manager's", x.Service, p.Node)
		}
		id = tid
	} else if id, err = serviceContainer(ctx, dc, p.Project, x.Service); err != nil {
		return 0, err
	}
	created, err := dc.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: x.User, Env: x.Env, Cmd: x.Command, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("create the exec: %w", err)
	}
	att, err := dc.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("start the exec: %w", err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close) // a cancelled run stops reading
	defer stop()
	if _, err := stdcopy.StdCopy(out, out, att.Reader); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("read the output: %w", err)
	}
	// The stream ends when the process does; Docker records the exit code
	// a moment later.
	for {
		res, err := dc.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("inspect the exec: %w", err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// progress turns compose's progress callbacks into log lines
// ("websoft9: Container websoft9-blog Started") and event lines (see
// Event), once per change. Compose calls On from many goroutines.
type progress struct {
	out   io.Writer
	mu    sync.Mutex
	last  map[string]string
	pulls map[string]*pull
}

// pull sums the layers of one image being pulled.
type pull struct {
	layers map[string]*layer
	// sent is the last (current, total) reported, to report changes only.
	sentPercent int64
	sentTotal   int64
}

type layer struct{ current, total int64 }

func (e *progress) Start(context.Context, string) {}
func (e *progress) Done(string, bool)             {}

func (e *progress) On(evs ...api.Resource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last, e.pulls = map[string]string{}, map[string]*pull{}
	}
	for _, ev := range evs {
		if image, ok := strings.CutPrefix(ev.ParentID, "Image "); ok {
			e.layer(image, ev)
			continue
		}
		line := strings.TrimSpace(fmt.Sprintf("%s %s %s", ev.ID, ev.Text, ev.Details))
		if e.last[ev.ID] == line {
			continue
		}
		e.last[ev.ID] = line
		fmt.Fprintf(e.out, "%s: %s\n", Name, line)
		if x, ok := resourceEvent(ev); ok {
			_, _ = e.out.Write(events.Format(x))
		}
	}
}

// layer records one layer's pull progress and reports the image's total
// when its whole percentage or its known size changed.
func (e *progress) layer(image string, ev api.Resource) {
	pl := e.pulls[image]
	if pl == nil {
		pl = &pull{layers: map[string]*layer{}, sentPercent: -1}
		e.pulls[image] = pl
	}
	l := pl.layers[ev.ID]
	if l == nil {
		l = &layer{}
		pl.layers[ev.ID] = l
	}
	if ev.Total > 0 {
		l.total = ev.Total
	}
	switch {
	case ev.Status == api.Done:
		l.current = l.total
	case ev.Current > 0:
		l.current = ev.Current
	}
	var cur, total int64
	for _, x := range pl.layers {
		cur, total = cur+x.current, total+x.total
	}
	if total == 0 {
		return
	}
	percent := cur * 100 / total
	if percent == pl.sentPercent && total == pl.sentTotal {
		return
	}
	pl.sentPercent, pl.sentTotal = percent, total
	_, _ = e.out.Write(events.Format(events.Event{Stage: events.StagePulling, Image: image, Current: cur, Total: total}))
}

// resourceEvent maps one compose resource change to an event; compose
// words without a stage (Skipped, Warning…) have none.
func resourceEvent(ev api.Resource) (events.Event, bool) {
	if image, ok := strings.CutPrefix(ev.ID, "Image "); ok {
		switch {
		case ev.Status == api.Error:
			return events.Event{Stage: events.StageFailed, Image: image, Resource: ev.ID, Status: ev.Text, Message: ev.Details}, true
		case ev.Text == api.StatusPulling:
			return events.Event{Stage: events.StagePulling, Image: image}, true
		case ev.Text == api.StatusPulled:
			return events.Event{Stage: events.StagePulled, Image: image}, true
		}
		return events.Event{}, false
	}
	if ev.Status == api.Error {
		return events.Event{Stage: events.StageFailed, Resource: ev.ID, Status: ev.Text, Message: ev.Details}, true
	}
	var stage events.Stage
	switch ev.Text {
	case api.StatusCreating, api.StatusCreated, "Recreate", "Recreated":
		stage = events.StageCreating
	case api.StatusStarting, api.StatusStarted, api.StatusRunning, api.StatusRestarting, api.StatusRestarted:
		stage = events.StageStarting
	case api.StatusWaiting, api.StatusHealthy, api.StatusExited:
		stage = events.StageWaiting
	case api.StatusStopping, api.StatusStopped, api.StatusKilling, api.StatusKilled:
		stage = events.StageStopping
	case api.StatusRemoving, api.StatusRemoved:
		stage = events.StageRemoving
	default:
		return events.Event{}, false
	}
	return events.Event{Stage: stage, Resource: ev.ID, Status: ev.Text}, true
}

// inlineFileObjects gives each config and secret read from a file of the
// bundle (under dir) that file's content instead. Compose would bind-mount
// the file, a path inside the invocation image that the Docker host does
// not have (and the bundle policy refuses bind mounts); content is copied
// into the container through the API instead. A config carries it as
// content; a secret through the project's environment, since compose
// v5.5.1 still bind-mounts a secret given as content. A file outside dir
// is an error: the lint refuses it too.
func inlineFileObjects(project *types.Project, dir string) error {
	for name, c := range project.Configs {
		content, ok, err := bundleFile("config "+name, c.File, dir)
		if err != nil {
			return err
		}
		if ok {
			c.Content, c.File = content, ""
			project.Configs[name] = c
		}
	}
	for name, sc := range project.Secrets {
		content, ok, err := bundleFile("secret "+name, sc.File, dir)
		if err != nil {
			return err
		}
		if ok {
			if project.Environment == nil {
				project.Environment = types.Mapping{}
			}
			// Not a variable name a person could set: no collision.
			key := "websoft9.secret." + name
			project.Environment[key] = content
			sc.Environment, sc.File = key, ""
			project.Secrets[name] = sc
		}
	}
	return nil
}

// bundleFile reads file, which must be under dir; ok is false when file
// is empty (the object is not read from a file).
func bundleFile(what, file, dir string) (content string, ok bool, err error) {
	if file == "" {
		return "", false, nil
	}
	rel, err := filepath.Rel(dir, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false, fmt.Errorf("%s reads %s, outside the bundle", what, file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	return string(data), true, nil
}
