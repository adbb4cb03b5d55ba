package portermixin

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/websoft9/stackhub/porter-mixin/naming"
	"gopkg.in/yaml.v3"
)

// DefaultWait is how long install waits for services to become healthy when
// the step sets no wait.
const DefaultWait = 180 * time.Second

// Step is the websoft9 step as a bundle author writes it.
type Step struct {
	Description string `yaml:"description"`
	// App is the installation name: containers are websoft9-<app> and
	// websoft9-<app>-<service>. Write ${ installation.name }.
	App string `yaml:"app"`
	// Compose is a compose file among the bundle files, relative to /cnab/app.
	// It is never template-rendered; its ${VAR} come from Env.
	Compose string `yaml:"compose"`
	// Main is the service whose container is websoft9-<app>.
	Main string `yaml:"main"`
	// Env holds the values offered to compose interpolation.
	Env map[string]any `yaml:"env"`
	// Wait bounds how long install waits for every service to be healthy or
	// running (a Go duration such as 180s).
	Wait string `yaml:"wait"`
	// Purge makes uninstall remove the project's named volumes too.
	Purge any `yaml:"purge"`
	// Outputs lists what to write to /cnab/app/porter/outputs after the step.
	Outputs []OutputSpec `yaml:"outputs"`
}

// OutputSpec is one step output; exactly one source field is set.
type OutputSpec struct {
	Name string `yaml:"name"`
	// Container writes the container name of the named service.
	Container string `yaml:"container"`
	// Env writes the value of an env entry of the step.
	Env string `yaml:"env"`
	// Value writes a literal (usually a rendered template).
	Value *string `yaml:"value"`
}

// Plan is a step resolved for the compose backend.
type Plan struct {
	App         string
	Project     string
	RunID       string
	ComposeFile string
	Main        string
	Env         map[string]string
	Wait        time.Duration
	Purge       bool
}

// readStep decodes Porter's runtime input {<action>: [{websoft9: {...}}]}.
func readStep(r io.Reader) (string, Step, error) {
	var in map[string][]map[string]yaml.Node
	dec := yaml.NewDecoder(r)
	if err := dec.Decode(&in); err != nil {
		return "", Step{}, fmt.Errorf("read step from stdin: %w", err)
	}
	if len(in) != 1 {
		return "", Step{}, fmt.Errorf("read step: want exactly one action, got %d", len(in))
	}
	for action, steps := range in {
		if len(steps) != 1 {
			return "", Step{}, fmt.Errorf("read step: action %s: want exactly one step, got %d", action, len(steps))
		}
		node, ok := steps[0][Name]
		if !ok {
			return "", Step{}, fmt.Errorf("read step: action %s: the step is not a %s step", action, Name)
		}
		var s Step
		if err := node.Decode(&s); err != nil {
			return "", Step{}, fmt.Errorf("read step: %w", err)
		}
		return action, s, nil
	}
	panic("unreachable")
}

func (s Step) plan(getenv func(string) string) (Plan, error) {
	if err := naming.ValidateApp(s.App); err != nil {
		return Plan{}, fmt.Errorf("step %q: app: %w", s.Description, err)
	}
	p := Plan{App: s.App, Project: naming.Project(s.App), ComposeFile: s.Compose, Main: s.Main, Env: map[string]string{}, Wait: DefaultWait}
	p.RunID = getenv("CNAB_REVISION")
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := s.Env[k].(type) {
		case nil:
			p.Env[k] = ""
		case string:
			p.Env[k] = v
		case int:
			p.Env[k] = strconv.Itoa(v)
		case bool:
			p.Env[k] = strconv.FormatBool(v)
		case float64:
			p.Env[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return Plan{}, fmt.Errorf("step %q: env %s must be a scalar, got %T", s.Description, k, v)
		}
	}
	if s.Wait != "" {
		d, err := time.ParseDuration(s.Wait)
		if err != nil || d <= 0 {
			return Plan{}, fmt.Errorf("step %q: wait %q is not a positive duration such as 180s", s.Description, s.Wait)
		}
		p.Wait = d
	}
	switch v := s.Purge.(type) {
	case nil:
	case bool:
		p.Purge = v
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Plan{}, fmt.Errorf("step %q: purge %q is not a boolean", s.Description, v)
		}
		p.Purge = b
	default:
		return Plan{}, fmt.Errorf("step %q: purge must be a boolean", s.Description)
	}
	return p, nil
}

var errNoCompose = errors.New("compose is required: the compose file among the bundle files")
