package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/bundles"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest/standin"
	portermixin "github.com/websoft9/stackhub/porter-mixin"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
	"github.com/websoft9/stackhub/web/wire"
)

// The catalog's stand-ins: the install test (catalog_standin_integration_test.go)
// runs every catalog bundle on local images of the same shape as the ones
// it names, which cannot be pulled here. This file works out that shape from
// the bundle files alone; no Docker.

// catalogDir is the built-in catalog on disk: the files bundles.FS()
// embeds in the stackhub binary.
const catalogDir = "../../bundles"

// standInRepository is where the stand-in images are tagged.
const standInRepository = "stackhub-standin/"

// standInBinary is the test app's path in every stand-in image; every
// program a bundle starts is a symlink to it.
const standInBinary = "/usr/local/bin/stackhub-testapp"

// standInPath is the stand-ins' PATH: where a program a bundle names
// without a directory is linked (the first entry) and found.
const standInPath = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

// impliedPorts are the ports of images whose services a bundle usually
// leaves unpublished (databases, caches), by a word of the repository's last
// element: the port the image's clients use. A stand-in of such an image
// listens on them, so its port-probing health check (pg_isready,
// healthcheck.sh, redis-cli ping, ...) means something. A client's
// settings naming the service with a port (postgres:5432 in a URL) add to
// this; a new kind of unpublished service needs a line here only when
// neither says.
var impliedPorts = map[string][]standin.Port{
	"postgres":   {{Number: 5432, Proto: "tcp"}}, // postgres, pgvecto-rs and other postgres builds
	"pgvecto":    {{Number: 5432, Proto: "tcp"}},
	"mariadb":    {{Number: 3306, Proto: "tcp"}},
	"mysql":      {{Number: 3306, Proto: "tcp"}},
	"redis":      {{Number: 6379, Proto: "tcp"}},
	"valkey":     {{Number: 6379, Proto: "tcp"}},
	"mongo":      {{Number: 27017, Proto: "tcp"}},
	"clickhouse": {{Number: 8123, Proto: "tcp"}, {Number: 9000, Proto: "tcp"}},
	"memcached":  {{Number: 11211, Proto: "tcp"}},
}

// standInImage is the stand-in of one catalog image reference, shared by
// every service of every bundle that runs it.
type standInImage struct {
	// Ref is the catalog's reference (repository:tag), the relocation
	// mapping's key.
	Ref string
	// Tag is the stand-in's, e.g. stackhub-standin/mariadb:10.11.10.
	Tag string
	// Ports are what the stand-in listens on, each with why (which
	// service publishes it, checks it, or implies it).
	Ports map[standin.Port][]string
	// Programs are the absolute paths linked to the test app, each with
	// why: what health checks, entrypoints and exec commands start.
	Programs map[string][]string
	// Users and Groups are the names containers and exec commands run as
	// (an image without them in /etc/passwd cannot run as them).
	Users, Groups map[string]bool
}

// PortList returns the image's ports, sorted.
func (img *standInImage) PortList() []standin.Port {
	return standin.SortPorts(slices.Collect(maps.Keys(img.Ports)))
}

func (img *standInImage) addPort(p standin.Port, why string) {
	if !slices.Contains(img.Ports[p], why) {
		img.Ports[p] = append(img.Ports[p], why)
	}
}

func (img *standInImage) addProgram(prog, dir, why string) {
	switch {
	case prog == "" || strings.ContainsAny(prog, " \t\n$=;|&<>()'\"`"):
		return
	case path.IsAbs(prog):
	case strings.Contains(prog, "/"): // ./bin/check, from the working directory
		if dir == "" {
			dir = "/"
		}
		prog = path.Join(dir, prog)
	default:
		prog = path.Join(strings.Split(standInPath, ":")[0], prog)
	}
	prog = path.Clean(prog)
	if prog == standInBinary {
		return
	}
	if !slices.Contains(img.Programs[prog], why) {
		img.Programs[prog] = append(img.Programs[prog], why)
	}
}

func (img *standInImage) addUser(spec string) {
	user, group, _ := strings.Cut(spec, ":")
	if user != "" && !numeric(user) {
		img.Users[user] = true
	}
	if group != "" && !numeric(group) {
		img.Groups[group] = true
	}
}

func numeric(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// standInTag is the stand-in's tag for catalog reference repo:tag: the
// repository without docker.io/ and library/, its slashes as dashes.
func standInTag(repo, tag string) string {
	name := strings.TrimPrefix(repo, "docker.io/")
	name = strings.TrimPrefix(name, "library/")
	return standInRepository + strings.ReplaceAll(name, "/", "-") + ":" + tag
}

// publishedPort is one compose port mapping a port parameter gives its
// host port to.
type publishedPort struct {
	Service string
	Target  int
	Proto   string
}

func (p publishedPort) String() string {
	if p.Target == 0 {
		return p.Service + " on the host's network"
	}
	return fmt.Sprintf("%s:%d/%s", p.Service, p.Target, p.Proto)
}

// standInApp is what the install test needs to know of one catalog bundle.
type standInApp struct {
	Name string
	// Main is the main service; Services maps each service to its image
	// (the catalog reference).
	Main     string
	Services map[string]string
	// Published maps each port parameter to the mappings it publishes
	// (for a service on the host's network, Target 0: the host port
	// itself).
	Published map[string][]publishedPort
	// Web is the parameter of the web port: custom.sh.websoft9.web.port,
	// else port.
	Web string
	// HostNetwork are the services on the host's network (network_mode:
	// host), Devices the host devices the services use.
	HostNetwork []string
	Devices     []string
	// Ulimits are the largest ulimits the services ask for, by name
	// (nofile, ...): an engine whose own limits are lower cannot start them.
	Ulimits map[string]types.UlimitsConfig
	// HostFixed says, for each service on the host's network, which host
	// port it listens on that is not one StackHub chose (a fixed one).
	HostFixed []string
	// Unpublished are the ports a service's health check asks that the
	// service neither publishes nor exposes although it publishes others,
	// each said in a sentence: the app listens on one port, so either the
	// check or the published port is wrong (or the bundle should say
	// expose: for a port the app keeps to itself). The stand-in listens
	// on them anyway so that the rest of the install can be checked.
	Unpublished []string
	// InvocationImage is the tag the server loads the bundle's invocation
	// image under when it builds it for an install.
	InvocationImage string
}

// standInPlan is every catalog app and the stand-in of every image they
// run.
type standInPlan struct {
	Apps []standInApp
	// Images are by catalog reference.
	Images map[string]*standInImage
}

// Relocation is the relocation mapping serve --relocation-mapping reads:
// each catalog reference to its stand-in.
func (p *standInPlan) Relocation() map[string]string {
	out := map[string]string{}
	for ref, img := range p.Images {
		out[ref] = img.Tag
	}
	return out
}

// String lists each stand-in with its ports, programs and users, and
// why each is there.
func (p *standInPlan) String() string {
	var b strings.Builder
	for _, ref := range slices.Sorted(maps.Keys(p.Images)) {
		img := p.Images[ref]
		fmt.Fprintf(&b, "%s → %s\n", ref, img.Tag)
		for _, port := range img.PortList() {
			fmt.Fprintf(&b, "  port %s: %s\n", port, strings.Join(slices.Sorted(slices.Values(img.Ports[port])), "; "))
		}
		for _, prog := range slices.Sorted(maps.Keys(img.Programs)) {
			fmt.Fprintf(&b, "  program %s: %s\n", prog, strings.Join(slices.Sorted(slices.Values(img.Programs[prog])), "; "))
		}
		if len(img.Users)+len(img.Groups) > 0 {
			fmt.Fprintf(&b, "  users %v, groups %v\n", slices.Sorted(maps.Keys(img.Users)), slices.Sorted(maps.Keys(img.Groups)))
		}
	}
	return b.String()
}

// catalogAppNames returns the built-in catalog's apps, as the server lists
// them: the directories of bundles.FS() but testdata.
func catalogAppNames(t testing.TB) []string {
	t.Helper()
	entries, err := fs.ReadDir(bundles.FS(), ".")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			names = append(names, e.Name())
		}
	}
	return names
}

// planStandIns reads every catalog bundle (porter.yaml and the compose
// model its install step brings up, loaded as the mixin loads it) and
// works out the stand-ins.
func planStandIns(t testing.TB) *standInPlan {
	t.Helper()
	plan := &standInPlan{Images: map[string]*standInImage{}}
	for _, name := range catalogAppNames(t) {
		plan.Apps = append(plan.Apps, planApp(t, plan, name))
	}
	return plan
}

// execSpecs returns the exec entries of a step.
func execSpecs(t testing.TB, s manifest.Step) []portermixin.ExecSpec {
	t.Helper()
	raw, ok := s.Data["exec"]
	if !ok {
		return nil
	}
	data, err := yaml.Marshal(raw)
	require.NoError(t, err)
	var out []portermixin.ExecSpec
	require.NoError(t, yaml.Unmarshal(data, &out))
	return out
}

// clientPortRE finds "<service>:<port>" in a client's settings (a host and
// port, or a URL such as postgres://u:p@postgres:5432/db); %s is the
// service's name, quoted.
const clientPortRE = `(?:^|[^A-Za-z0-9_.-])%s:([0-9]{2,5})(?:[^0-9]|$)`

func planApp(t testing.TB, plan *standInPlan, name string) standInApp {
	t.Helper()
	dir := filepath.Join(catalogDir, name)
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	m, err := manifest.Parse(raw)
	require.NoError(t, err, "%s/porter.yaml", name)
	var install *manifest.Step
	for _, s := range m.Actions[manifest.ActionInstall] {
		if s.Mixin == portermixin.Name {
			install = &s
		}
	}
	require.NotNil(t, install, "%s: a websoft9 install step", name)
	app := standInApp{Name: name, Services: map[string]string{}, Published: map[string][]publishedPort{}, Web: "port"}
	app.Main, _ = install.Data["main"].(string)
	ref, err := build.Reference(m)
	require.NoError(t, err, "%s: bundle reference", name)
	app.InvocationImage, err = build.InvocationImage(ref)
	require.NoError(t, err, "%s: invocation image", name)
	meta, _ := m.Custom["sh.websoft9"].(map[string]any)
	if web, ok := meta["web"].(map[string]any); ok {
		if p, ok := web["port"].(string); ok {
			app.Web = p
		}
	}

	// The parameters' sample values: each port parameter a host port of
	// its own (so that a published port says which parameter it is), the
	// others their default, or a sample string.
	values := map[string]any{}
	byPort := map[string]string{}
	for _, p := range m.Parameters {
		def, hasDef := p.Default()
		switch {
		case p.Type() == "integer" && !hasDef:
			lo, _ := p.IntBound("minimum")
			for byPort[strconv.Itoa(lo)] != "" {
				lo++
			}
			values[p.Name] = lo
			byPort[strconv.Itoa(lo)] = p.Name
		case hasDef:
			values[p.Name] = def
		default:
			values[p.Name] = "Sample0" + strings.Repeat("x", 25)
		}
	}
	images := map[string]any{}
	for alias, img := range m.Images {
		images[alias] = map[string]any{"repository": img.Repository, "tag": img.Tag, "digest": img.Digest}
	}
	data := map[string]any{
		"installation": map[string]any{"name": "standin"},
		"bundle":       map[string]any{"name": m.Name, "parameters": values, "images": images},
	}
	step, err := m.RenderStep(*install, data)
	require.NoError(t, err, "%s: render the install step", name)
	env := map[string]string{}
	stepEnv, _ := step.Data["env"].(map[string]any)
	for k, v := range stepEnv {
		env[k] = fmt.Sprint(v)
	}
	passEnv, _ := step.Data["passEnv"].([]any)
	for _, v := range passEnv {
		for _, p := range m.Parameters {
			if p.EnvName() == fmt.Sprint(v) {
				env[p.EnvName()] = fmt.Sprint(values[p.Name])
			}
		}
	}
	var envList []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, k+"="+env[k])
	}
	composeFile, _ := step.Data["compose"].(string)
	opts, err := composecli.NewProjectOptions([]string{filepath.Join(dir, composeFile)},
		composecli.WithName("websoft9-standin"), composecli.WithWorkingDirectory(dir), composecli.WithEnv(envList))
	require.NoError(t, err)
	project, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "%s: load the compose model", name)

	catalogRefs := map[string]bool{}
	for _, img := range m.Images {
		catalogRefs[img.Repository+":"+img.Tag] = true
	}
	imageOf := func(s types.ServiceConfig) *standInImage {
		require.True(t, catalogRefs[s.Image], "%s: service %s runs %s, which is not a declared image", name, s.Name, s.Image)
		img, ok := plan.Images[s.Image]
		if !ok {
			repo, tag := splitRef(s.Image)
			img = &standInImage{Ref: s.Image, Tag: standInTag(repo, tag), Ports: map[standin.Port][]string{},
				Programs: map[string][]string{}, Users: map[string]bool{}, Groups: map[string]bool{}}
			plan.Images[s.Image] = img
		}
		return img
	}

	for _, sname := range slices.Sorted(maps.Keys(project.Services)) {
		s := project.Services[sname]
		img := imageOf(s)
		app.Services[sname] = s.Image
		who := name + "/" + sname
		hostNet := s.NetworkMode == "host"
		if hostNet {
			// On the host's network the app listens on host ports: the
			// ones StackHub chose reach it as variables of its environment
			// (a port parameter's value), which the stand-in reads at start.
			app.HostNetwork = append(app.HostNetwork, sname)
			for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
				if v := s.Environment[k]; v != nil && byPort[*v] != "" {
					img.addPort(standin.Port{Var: k, Proto: "tcp"}, fmt.Sprintf("host port %s, which %s gets in $%s (network_mode: host)", byPort[*v], who, k))
					app.Published[byPort[*v]] = append(app.Published[byPort[*v]], publishedPort{Service: sname, Proto: "tcp"})
				}
			}
		}
		for _, d := range s.Devices {
			app.Devices = append(app.Devices, d.Source)
		}
		for k, u := range s.Ulimits {
			if app.Ulimits == nil {
				app.Ulimits = map[string]types.UlimitsConfig{}
			}
			cur := app.Ulimits[k]
			app.Ulimits[k] = types.UlimitsConfig{Soft: max(cur.Soft, u.Soft, u.Single), Hard: max(cur.Hard, u.Hard, u.Single)}
		}
		img.addUser(s.User)

		// What it listens on: what it publishes and exposes.
		for _, p := range s.Ports {
			proto := cmpOr(p.Protocol, "tcp")
			img.addPort(standin.Port{Number: int(p.Target), Proto: proto}, "published by "+who)
			if param := byPort[p.Published]; param != "" {
				app.Published[param] = append(app.Published[param], publishedPort{Service: sname, Target: int(p.Target), Proto: proto})
			}
		}
		for _, e := range s.Expose {
			num, proto, _ := strings.Cut(e, "/")
			if n, err := strconv.Atoi(num); err == nil {
				img.addPort(standin.Port{Number: n, Proto: cmpOr(proto, "tcp")}, "exposed by "+who)
			}
		}

		// What it starts: the health check's program, and the port its URLs
		// name.
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 {
			var argv []string
			switch hc.Test[0] {
			case "CMD":
				argv = hc.Test[1:]
				img.addProgram(argv[0], s.WorkingDir, "health check of "+who)
			case "CMD-SHELL":
				argv = []string{"/bin/sh", "-c", hc.Test[1]}
				img.addProgram("/bin/sh", "", "health check of "+who)
				if f := strings.Fields(hc.Test[1]); len(f) > 0 {
					img.addProgram(f[0], s.WorkingDir, "health check of "+who)
				}
			}
			getenv := func(k string) string {
				if v, ok := s.Environment[k]; ok && v != nil {
					return *v
				}
				return ""
			}
			for _, target := range standin.Targets(argv, getenv) {
				p := standin.Port{Number: target.Port, Proto: "tcp"}
				if hostNet {
					if byPort[strconv.Itoa(target.Port)] == "" {
						app.HostFixed = append(app.HostFixed, fmt.Sprintf("service %s's health check asks %s, a host port no parameter gives", sname, target.URL))
					}
					continue // the variable's port, added above
				}
				if len(s.Ports) > 0 && !listens(s, p) {
					var own []string
					for _, sp := range s.Ports {
						own = append(own, fmt.Sprintf("%d/%s", sp.Target, cmpOr(sp.Protocol, "tcp")))
					}
					app.Unpublished = append(app.Unpublished, fmt.Sprintf("service %s's health check asks %s, port %s, which the service "+
						"neither publishes (it publishes %s) nor exposes; if the app listens there too, say expose: [\"%d\"]",
						sname, target.URL, p, strings.Join(own, ", "), p.Number))
				}
				img.addPort(p, "health check of "+who+" asks "+target.URL)
			}
		}
		// An entrypoint runs as the container's process: its program must
		// be there. An empty one leaves the command to start.
		switch {
		case len(s.Entrypoint) > 0:
			img.addProgram(s.Entrypoint[0], s.WorkingDir, "entrypoint of "+who)
		case s.Entrypoint != nil && len(s.Command) > 0:
			img.addProgram(s.Command[0], s.WorkingDir, "command of "+who)
		}

		// What its clients say it listens on.
		re := regexp.MustCompile(fmt.Sprintf(clientPortRE, regexp.QuoteMeta(sname)))
		for _, other := range project.Services {
			if other.Name == sname {
				continue
			}
			texts := slices.Concat([]string(other.Command), []string(other.Entrypoint))
			for _, v := range other.Environment {
				if v != nil {
					texts = append(texts, *v)
				}
			}
			for _, text := range texts {
				for _, m := range re.FindAllStringSubmatch(text, -1) {
					if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 65536 {
						img.addPort(standin.Port{Number: n, Proto: "tcp"}, "the settings of "+name+"/"+other.Name+" name "+sname+":"+m[1])
					}
				}
			}
		}
		repo, _ := splitRef(s.Image)
		base := path.Base(repo)
		for _, word := range slices.Sorted(maps.Keys(impliedPorts)) {
			if strings.Contains(base, word) {
				for _, p := range impliedPorts[word] {
					img.addPort(p, "the port clients of "+base+" use (impliedPorts)")
				}
			}
		}
	}

	// What the install's exec commands start, and as whom.
	for _, e := range execSpecs(t, *install) {
		s, ok := project.Services[e.Service]
		require.True(t, ok, "%s: exec in service %s, which the compose file does not have", name, e.Service)
		img := imageOf(s)
		if len(e.Command) > 0 {
			img.addProgram(e.Command[0], s.WorkingDir, "exec command of "+name+"/"+e.Service)
		}
		img.addUser(e.User)
	}
	return app
}

// listens tells whether s publishes or exposes p.
func listens(s types.ServiceConfig, p standin.Port) bool {
	for _, sp := range s.Ports {
		if int(sp.Target) == p.Number && cmpOr(sp.Protocol, "tcp") == p.Proto {
			return true
		}
	}
	for _, e := range s.Expose {
		num, proto, _ := strings.Cut(e, "/")
		if num == strconv.Itoa(p.Number) && cmpOr(proto, "tcp") == p.Proto {
			return true
		}
	}
	return false
}

// splitRef splits a catalog reference, repository:tag (the bundle test
// holds every catalog image to that form).
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < strings.LastIndex(ref, "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// TestStandInPlan checks the stand-ins' shape on bundles whose images are
// known: the catalog's Nextcloud with MariaDB, and what every bundle must
// have for its install test to mean something.
func TestStandInPlan(t *testing.T) {
	plan := planStandIns(t)
	require.NotEmpty(t, plan.Apps)
	t.Logf("the stand-ins of %d apps:\n%s", len(plan.Apps), plan)
	mariadb := plan.Images["docker.io/library/mariadb:10.11.10"]
	if assert.NotNil(t, mariadb, "the catalog's MariaDB") {
		assert.Equal(t, "stackhub-standin/mariadb:10.11.10", mariadb.Tag)
		assert.Equal(t, []standin.Port{{Number: 3306, Proto: "tcp"}}, mariadb.PortList())
		assert.Contains(t, mariadb.Programs, "/usr/local/bin/healthcheck.sh")
	}
	nextcloud := plan.Images["docker.io/library/nextcloud:29.0.7-apache"]
	if assert.NotNil(t, nextcloud, "the catalog's Nextcloud") {
		assert.Equal(t, []standin.Port{{Number: 80, Proto: "tcp"}}, nextcloud.PortList())
		assert.Contains(t, nextcloud.Programs, "/usr/local/bin/curl", "the health check's program")
	}
	for _, app := range plan.Apps {
		if app.Name == "nextcloud" {
			assert.Equal(t, []publishedPort{{Service: "nextcloud", Target: 80, Proto: "tcp"}}, app.Published["port"])
			assert.Equal(t, []publishedPort{{Service: "mariadb", Target: 3306, Proto: "tcp"}}, app.Published["db_port"])
		}
		if app.Name == "redmine" {
			redmine := plan.Images[app.Services["redmine"]]
			assert.True(t, redmine.Users["redmine"], "the exec command's user")
			assert.Contains(t, redmine.Programs, "/usr/local/bin/rails", "the exec command's program")
		}
		if len(app.HostNetwork) == 0 { // on the host's network, nothing is published
			assert.NotEmpty(t, app.Published[app.Web], "%s: its web port parameter %s is published", app.Name, app.Web)
		}
	}
	for ref, img := range plan.Images {
		for prog := range img.Programs {
			assert.True(t, path.IsAbs(prog), "%s: %s", ref, prog)
		}
	}
}

// standInParameterOverrides are install values, by "app.parameter", for
// the settings sampleParameter cannot fill as a person would. Empty while
// every required setting of the catalog fits its rules.
var standInParameterOverrides = map[string]any{}

// acceptanceRE names a boolean setting a person must turn on to use the
// app at all (a licence: Minecraft's EULA).
var acceptanceRE = regexp.MustCompile(`(?i)(^|_)(eula|accept|agree)`)

// standInParameters returns what a person installing app fills in the
// install form of its catalog entry: every required setting (the engine
// picks ports and generates secrets), and yes to a licence to accept.
func standInParameters(app string, params []wire.CatalogParameter) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range params {
		if v, ok := standInParameterOverrides[app+"."+p.Name]; ok {
			out[p.Name] = v
			continue
		}
		if p.Port || p.Generated || !slices.Contains(p.ApplyTo, "install") && len(p.ApplyTo) > 0 {
			continue
		}
		if p.Type == "boolean" && acceptanceRE.MatchString(p.Name) {
			out[p.Name] = true
			continue
		}
		if !p.Required {
			continue
		}
		v, err := sampleParameter(p)
		if err != nil {
			return nil, fmt.Errorf("%s: parameter %s: %w; add it to standInParameterOverrides", app, p.Name, err)
		}
		out[p.Name] = v
	}
	return out, nil
}

// sampleStrings are the values a person would type, tried in order against
// a string setting's rules.
var sampleStrings = []string{
	"admin", "admin@example.com", "https://apps.example.com", "apps.example.com", "Europe/Berlin", "en",
	"StackHub sample", "Sample-Passw0rd-" + strings.Repeat("x", 16), "1",
}

// sampleParameter returns a value for a required setting that its rules
// accept: the first of an enum, true, the minimum, or a sample string that
// matches its pattern and length (else one made from the pattern).
func sampleParameter(p wire.CatalogParameter) (any, error) {
	if enum, ok := p.Rules["enum"].([]any); ok && len(enum) > 0 {
		return enum[0], nil
	}
	num := func(key string) (float64, bool) {
		f, ok := p.Rules[key].(float64)
		return f, ok
	}
	switch p.Type {
	case "boolean":
		return true, nil
	case "integer", "number":
		if lo, ok := num("minimum"); ok {
			return lo, nil
		}
		if hi, ok := num("maximum"); ok && hi < 1 {
			return hi, nil
		}
		return 1, nil
	case "string":
	default:
		return nil, fmt.Errorf("no sample of type %q", p.Type)
	}
	minLen, _ := num("minLength")
	maxLen, hasMax := num("maxLength")
	fits := func(s string) bool {
		n := float64(len([]rune(s)))
		return n >= minLen && (!hasMax || n <= maxLen)
	}
	pattern, _ := p.Rules["pattern"].(string)
	if pattern == "" { // free text
		s := "StackHub sample"
		for float64(len(s)) < minLen {
			s += " text"
		}
		if hasMax && float64(len(s)) > maxLen {
			s = s[:int(maxLen)]
		}
		return s, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	for _, s := range sampleStrings {
		if re.MatchString(s) && fits(s) {
			return s, nil
		}
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	if s := synthesize(parsed.Simplify()); re.MatchString(s) && fits(s) {
		return s, nil
	}
	return nil, fmt.Errorf("no sample string matches %q within its length", pattern)
}

// synthesize returns a short string a regular expression matches: the
// first branch of each alternation, the least repetition (one for +), the
// first character of each class (a letter or digit when it has one).
func synthesize(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune)
	case syntax.OpCharClass:
		for _, want := range "a0A" {
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if re.Rune[i] <= want && want <= re.Rune[i+1] {
					return string(want)
				}
			}
		}
		if len(re.Rune) > 0 {
			return string(re.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return "a"
	case syntax.OpCapture:
		return synthesize(re.Sub[0])
	case syntax.OpPlus:
		return synthesize(re.Sub[0])
	case syntax.OpRepeat:
		return strings.Repeat(synthesize(re.Sub[0]), re.Min)
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			b.WriteString(synthesize(sub))
		}
		return b.String()
	case syntax.OpAlternate:
		return synthesize(re.Sub[0])
	}
	return "" // star, quest, anchors, empty
}

func TestStandInParameters(t *testing.T) {
	params := []wire.CatalogParameter{
		{Name: "port", Type: "integer", Port: true, Required: true},
		{Name: "admin_password", Type: "string", Generated: true, Sensitive: true},
		{Name: "purge", Type: "boolean", ApplyTo: []string{"uninstall"}},
		{Name: "site_title", Type: "string", Default: "StackHub"},
		{Name: "accept_eula", Type: "boolean", Default: false},
		{Name: "language", Type: "string", Required: true, Rules: map[string]any{"enum": []any{"de", "en"}}},
		{Name: "admin_email", Type: "string", Required: true, Rules: map[string]any{"pattern": `^[^@\s]+@[^@\s]+\.[a-z]{2,}$`}},
		{Name: "domain", Type: "string", Required: true, Rules: map[string]any{"pattern": `^[a-z0-9.-]+\.[a-z]{2,}$`}},
		{Name: "server_code", Type: "string", Required: true, Rules: map[string]any{"pattern": `^SRV-[0-9]{4}(-[A-Z]+)?$`}},
		{Name: "workers", Type: "integer", Required: true, Rules: map[string]any{"minimum": float64(2), "maximum": float64(8)}},
		{Name: "motd", Type: "string", Required: true, Rules: map[string]any{"minLength": float64(20)}},
		{Name: "tls", Type: "boolean", Required: true},
	}
	got, err := standInParameters("sample", params)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"accept_eula": true,
		"language":    "de",
		"admin_email": "admin@example.com",
		"domain":      "apps.example.com",
		"server_code": "SRV-0000",
		"workers":     float64(2),
		"motd":        "StackHub sample text",
		"tls":         true,
	}, got)

	_, err = standInParameters("sample", []wire.CatalogParameter{
		{Name: "key", Type: "string", Required: true, Rules: map[string]any{"pattern": `^[a-f0-9]{64}$`, "maxLength": float64(10)}},
	})
	assert.ErrorContains(t, err, "sample: parameter key: no sample string matches")
	standInParameterOverrides["sample.key"] = "abc"
	defer delete(standInParameterOverrides, "sample.key")
	got, err = standInParameters("sample", []wire.CatalogParameter{{Name: "key", Type: "string", Required: true}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"key": "abc"}, got)
}
