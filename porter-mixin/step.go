package portermixin

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// DefaultWait is how long install, upgrade and invoke start wait for
// services to become healthy when the step sets no wait.
const DefaultWait = 180 * time.Second

// Step is the websoft9 step as a bundle author writes it under
// `- websoft9:`. schema/schema.json describes the same fields (a test keeps
// them in step); README.md documents them.
type Step struct {
	Description string `yaml:"description"`
	// App is the installation name: the project is websoft9-<app>, the
	// containers websoft9-<app> (main) and websoft9-<app>-<service>. Write
	// ${ installation.name }.
	App string `yaml:"app"`
	// Compose is a compose file among the bundle files, relative to
	// /cnab/app. It is never template-rendered; its ${VAR} come from Env.
	Compose string `yaml:"compose"`
	// Services is a compose `services:` map written inline in the step,
	// instead of Compose. Porter renders it like the rest of the step, so it
	// takes ${ bundle.parameters.x } templates and no compose interpolation:
	// compose sees the rendered values verbatim (a "$" stays a "$"). Named
	// volumes and networks the services use are declared for them.
	Services map[string]any `yaml:"services"`
	// Main is the service whose container is websoft9-<app>.
	Main string `yaml:"main"`
	// Start limits the step to these services and their dependencies (all
	// services when empty): install and upgrade bring only them up, invoke
	// start/stop/restart act only on them.
	Start []string `yaml:"start"`
	// Env holds the values offered to compose interpolation of the compose
	// file (scalars), and the values of `env` outputs.
	Env map[string]any `yaml:"env"`
	// PassEnv names variables of the invocation image's environment (where
	// CNAB puts parameters and credentials: a parameter db_password is
	// DB_PASSWORD) offered to compose interpolation and env outputs as
	// they are. Their values are never rendered into the step's YAML, so
	// quotes, colons, ${, # and newlines reach compose byte for byte; use
	// it for passwords and any text a person types.
	PassEnv []string `yaml:"passEnv"`
	// Wait bounds how long to wait for every service to be healthy or
	// running (a Go duration such as 180s).
	Wait string `yaml:"wait"`
	// Purge makes uninstall remove the project's named volumes too; they
	// are kept otherwise. A boolean, or a string holding one (rendered
	// parameters are strings).
	Purge any `yaml:"purge"`
	// Exec lists commands run, in order, inside service containers once
	// install or upgrade has brought every service up and healthy (apply
	// first-install settings with the app's own CLI). Other actions ignore
	// it.
	Exec []ExecSpec `yaml:"exec"`
	// Outputs lists what to write to /cnab/app/porter/outputs after the step.
	Outputs []OutputSpec `yaml:"outputs"`
}

// OutputSpec is one step output. Exactly one source is set: Value, Env,
// Port, Container alone, or JSONPath together with Container.
type OutputSpec struct {
	Name string `yaml:"name"`
	// Container names a service: alone, the output is that service's
	// container name; with JSONPath, the container to inspect.
	Container string `yaml:"container"`
	// Port selects a published host port.
	Port *PortSelector `yaml:"port"`
	// Env writes the value of an env entry of the step.
	Env string `yaml:"env"`
	// JSONPath selects a value from `docker inspect` of Container's
	// container: $.a.b[0].c, with ["key"] for keys holding dots.
	JSONPath string `yaml:"jsonPath"`
	// Value writes a literal (usually a rendered template).
	Value *string `yaml:"value"`
}

// PortSelector names a container port of a service; the output is the host
// port it is published on.
type PortSelector struct {
	Service string `yaml:"service"`
	// Target is the container port, an integer (or a string holding one).
	Target any `yaml:"target"`
	// Protocol is tcp (the default) or udp.
	Protocol string `yaml:"protocol"`
}

// sources returns the names of the sources o sets, in a fixed order.
func (o OutputSpec) sources() []string {
	var s []string
	if o.Value != nil {
		s = append(s, "value")
	}
	if o.Env != "" {
		s = append(s, "env")
	}
	if o.Port != nil {
		s = append(s, "port")
	}
	switch {
	case o.JSONPath != "":
		s = append(s, "jsonPath")
	case o.Container != "":
		s = append(s, "container")
	}
	return s
}

// checkSource reports why o does not have exactly one source, or nil.
func (o OutputSpec) checkSource() error {
	switch src := o.sources(); {
	case o.JSONPath != "" && o.Container == "":
		return errors.New("jsonPath needs container: the service whose container is inspected")
	case len(src) == 0:
		return errors.New("no source: set one of value, env, port, container, or container with jsonPath")
	case len(src) > 1:
		return fmt.Errorf("several sources (%s): set exactly one", strings.Join(src, ", "))
	}
	return nil
}

// Fields each struct decodes, from the yaml tags: the unknown-field check
// and the schema test use them.
var (
	stepFields   = yamlFields(reflect.TypeFor[Step]())
	outputFields = yamlFields(reflect.TypeFor[OutputSpec]())
	execFields   = yamlFields(reflect.TypeFor[ExecSpec]())
	portFields   = yamlFields(reflect.TypeFor[PortSelector]())
)

func yamlFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// unknownFields lists the keys of a step node that Step does not decode,
// as paths such as "servcies", "outputs[2].jsonpath" or "exec[1].cmd".
// Keys inside services and env belong to compose and the author and are
// not checked.
func unknownFields(step *yaml.Node) []string {
	var out []string
	check := func(n *yaml.Node, known []string, at string, each func(key string, v *yaml.Node)) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if !slices.Contains(known, key) {
				out = append(out, at+key)
				continue
			}
			if each != nil {
				each(key, n.Content[i+1])
			}
		}
	}
	check(step, stepFields, "", func(key string, v *yaml.Node) {
		if v.Kind != yaml.SequenceNode {
			return
		}
		if key == "exec" {
			for i, e := range v.Content {
				check(e, execFields, fmt.Sprintf("exec[%d].", i+1), nil)
			}
			return
		}
		if key != "outputs" {
			return
		}
		for i, o := range v.Content {
			at := fmt.Sprintf("outputs[%d].", i+1)
			check(o, outputFields, at, func(key string, v *yaml.Node) {
				if key == "port" {
					check(v, portFields, at+"port.", nil)
				}
			})
		}
	})
	return out
}

// stepInput is one step as Porter hands it to a runtime verb.
type stepInput struct {
	Action string
	Step   Step
	// Unknown lists fields the step sets that Step does not decode; the
	// runtime ignores them with a warning.
	Unknown []string
}

// readStep decodes Porter's runtime input {<action>: [{websoft9: {...}}]}
// and checks that action is want (the verb, or invoke's --action).
func readStep(r io.Reader, want string) (stepInput, error) {
	var in map[string][]map[string]yaml.Node
	if err := yaml.NewDecoder(r).Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return stepInput{}, fmt.Errorf("read %s step: no input on stdin", want)
		}
		return stepInput{}, fmt.Errorf("read %s step: %w", want, err)
	}
	if len(in) != 1 {
		return stepInput{}, fmt.Errorf("read %s step: want exactly one action, got %d", want, len(in))
	}
	for action, steps := range in {
		if action != want {
			return stepInput{}, fmt.Errorf("read %s step: the input holds a %s step", want, action)
		}
		if len(steps) != 1 {
			return stepInput{}, fmt.Errorf("read %s step: want exactly one step, got %d", action, len(steps))
		}
		node, ok := steps[0][Name]
		if !ok {
			return stepInput{}, fmt.Errorf("read %s step: the step is not a %s step", action, Name)
		}
		var s Step
		if err := node.Decode(&s); err != nil {
			return stepInput{}, fmt.Errorf("read %s step: %w", action, err)
		}
		return stepInput{Action: action, Step: s, Unknown: unknownFields(&node)}, nil
	}
	panic("unreachable")
}

// Plan is a step resolved for the compose backend.
type Plan struct {
	// Action is the verb or custom action the plan serves.
	Action  string
	App     string
	Project string
	// RunID is CNAB_REVISION, put on every object as naming.LabelRun.
	RunID string
	// ComposeFile is the absolute path of the compose file; empty when the
	// step has inline Services, or (uninstall, invoke) neither.
	ComposeFile string
	// Services is the step's inline compose services map.
	Services map[string]any
	// WorkDir is the project directory (/cnab/app).
	WorkDir string
	Main    string
	// Start limits the services acted on (empty: all).
	Start []string
	Env   map[string]string
	Wait  time.Duration
	Purge bool
	// Exec are the commands install and upgrade run once the services are
	// healthy (empty for other actions).
	Exec []ExecCommand
	// Node is the Swarm node StackHub placed the app on
	// (naming.EnvSwarmNode), "" for the single host: on a Swarm manager
	// the app is deployed as services on that node (swarm.go).
	Node string
}

// HasModel reports whether the plan carries a compose model (a file or
// inline services) rather than only a project name.
func (p Plan) HasModel() bool { return p.ComposeFile != "" || len(p.Services) > 0 }

// envName is a variable name compose interpolation reads.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// plan resolves s for action. workDir is where a relative compose path
// resolves; getenv reads CNAB_REVISION.
func (s Step) plan(action, workDir string, getenv func(string) string) (Plan, error) {
	fail := func(format string, a ...any) (Plan, error) {
		return Plan{}, fmt.Errorf("%s step %q: %s", action, s.Description, fmt.Sprintf(format, a...))
	}
	if err := naming.ValidateApp(s.App); err != nil {
		return Plan{}, fmt.Errorf("%s step %q: app: %w", action, s.Description, err)
	}
	if s.Compose != "" && s.Services != nil {
		return fail("compose and services are exclusive: name a compose file or write the services inline")
	}
	p := Plan{
		Action: action, App: s.App, Project: naming.Project(s.App), RunID: getenv("CNAB_REVISION"),
		Services: s.Services, WorkDir: workDir, Main: s.Main, Start: s.Start,
		Env: map[string]string{}, Wait: DefaultWait, Node: getenv(naming.EnvSwarmNode),
	}
	if s.Compose != "" {
		p.ComposeFile = s.Compose
		if !filepath.IsAbs(p.ComposeFile) {
			p.ComposeFile = filepath.Join(workDir, p.ComposeFile)
		}
	}
	for name, svc := range s.Services {
		if _, ok := svc.(map[string]any); !ok {
			return fail("services.%s must be a map (a compose service), got %T", name, svc)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		v, err := scalarString(s.Env[k])
		if err != nil {
			return fail("env %s: %v", k, err)
		}
		p.Env[k] = v
	}
	for _, k := range s.PassEnv {
		switch _, dup := s.Env[k]; {
		case !envName.MatchString(k):
			return fail("passEnv %q is not an environment variable name", k)
		case dup:
			return fail("passEnv %s is also in env: give it one source", k)
		}
		p.Env[k] = getenv(k)
	}
	if s.Wait != "" {
		d, err := time.ParseDuration(s.Wait)
		if err != nil || d <= 0 {
			return fail("wait %q is not a positive duration such as 180s", s.Wait)
		}
		p.Wait = d
	}
	purge, err := parseBool(s.Purge)
	if err != nil {
		return fail("purge: %v", err)
	}
	p.Purge = purge
	if slices.Contains(execActions, action) {
		for i, e := range s.Exec {
			c, err := e.resolve(getenv)
			if err != nil {
				return fail("exec %d: %v", i+1, err)
			}
			p.Exec = append(p.Exec, c)
		}
	}
	for i, o := range s.Outputs {
		if o.Name == "" {
			return fail("output %d has no name", i+1)
		}
		if err := o.checkSource(); err != nil {
			return fail("output %s: %v", o.Name, err)
		}
	}
	return p, nil
}

// requireModel checks what install and upgrade need beyond plan: a compose
// model and a main service.
func (s Step) requireModel(action string) error {
	if s.Compose == "" && len(s.Services) == 0 {
		return fmt.Errorf("%s step %q: %w", action, s.Description, errNoModel)
	}
	if s.Main == "" {
		return fmt.Errorf("%s step %q: main is required: the service whose container is %s", action, s.Description, naming.MainContainer(s.App))
	}
	return nil
}

var errNoModel = errors.New("compose or services is required: a compose file among the bundle files, or the services inline")

// scalarString renders a YAML scalar as compose interpolation expects it.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("must be a scalar, got %T", v)
	}
}

// parseBool accepts nothing (false), a boolean, or a string holding one.
func parseBool(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", v)
		}
		return b, nil
	default:
		return false, fmt.Errorf("must be a boolean, got %T", v)
	}
}

// portNumber accepts a container port as an integer or a string holding one.
func portNumber(v any) (uint16, error) {
	var n int
	switch v := v.(type) {
	case int:
		n = v
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("target %q is not a port number", v)
		}
		n = i
	case nil:
		return 0, errors.New("target is required: the container port")
	default:
		return 0, fmt.Errorf("target must be a port number, got %T", v)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("target %d is not a port number (1-65535)", n)
	}
	return uint16(n), nil
}
