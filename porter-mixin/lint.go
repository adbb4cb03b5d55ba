package portermixin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// LintLevel is the severity of a finding, with Porter's values
// (pkg/linter): an error blocks porter build, a warning does not.
type LintLevel int

const (
	LintError   LintLevel = 0
	LintWarning LintLevel = 2
)

// LintLocation places a finding: the action, the mixin, the step's
// position among the websoft9 steps of the action (from 1) and its
// description. Findings about the mixin's config have an empty location.
type LintLocation struct {
	Action          string `json:"Action"`
	Mixin           string `json:"Mixin"`
	StepNumber      int    `json:"StepNumber"`
	StepDescription string `json:"StepDescription"`
}

// LintResult is one finding, encoded with the field names of Porter's
// linter.Result (which has no json tags).
type LintResult struct {
	Level    LintLevel    `json:"Level"`
	Location LintLocation `json:"Location"`
	Code     string       `json:"Code"`
	Title    string       `json:"Title"`
	Message  string       `json:"Message"`
	URL      string       `json:"URL"`
}

// LintURL documents every lint code.
const LintURL = "https://github.com/websoft9/stackhub/blob/main/porter-mixin/README.md#lint-rules"

// Lint codes; README.md lists them with their level.
const (
	CodeAppRequired       = "websoft9-100"
	CodeAppInvalid        = "websoft9-101"
	CodeAppFixed          = "websoft9-102"
	CodeModelRequired     = "websoft9-110"
	CodeModelExclusive    = "websoft9-111"
	CodeMainRequired      = "websoft9-112"
	CodeUnknownService    = "websoft9-113"
	CodeComposePath       = "websoft9-114"
	CodeUnknownField      = "websoft9-120"
	CodeInvalidValue      = "websoft9-121"
	CodeBindMount         = "websoft9-130"
	CodeContainerName     = "websoft9-131"
	CodeInterpolation     = "websoft9-132"
	CodeBuild             = "websoft9-133"
	CodeAnonymousVolume   = "websoft9-134"
	CodeOutputName        = "websoft9-140"
	CodeOutputNoSource    = "websoft9-141"
	CodeOutputSources     = "websoft9-142"
	CodeOutputEnv         = "websoft9-143"
	CodeOutputSelector    = "websoft9-144"
	CodeActionUnsupported = "websoft9-150"
	CodeActionReserved    = "websoft9-151"
	CodePurgeIgnored      = "websoft9-160"
	CodeConfigIgnored     = "websoft9-161"
	CodeExecIgnored       = "websoft9-162"
	CodeExecService       = "websoft9-170"
	CodeExecCommand       = "websoft9-171"
)

// reservedActions are custom action names Porter would send to the mixin
// as its own client commands.
var reservedActions = []string{"build", "lint", "schema", "version"}

// buildInput is Porter's BuildInput (pkg/mixin/query): the mixin's config
// and, per action, the websoft9 steps as written (not rendered).
type buildInput struct {
	Config  yaml.Node                         `yaml:"config"`
	Actions map[string][]map[string]yaml.Node `yaml:"actions"`
}

// Lint answers Porter's lint verb: it reads BuildInput YAML from m.In and
// prints a JSON array of findings, [] when the steps are clean. Porter runs
// it in the bundle directory (m.WorkDir), where the steps' compose files
// are read. It fails (and prints nothing) only when the input is not
// BuildInput.
func (m *Mixin) Lint() error {
	results, err := LintInput(m.In, m.WorkDir)
	if err != nil {
		return err
	}
	return json.NewEncoder(m.Out).Encode(results)
}

// LintInput lints a BuildInput document. dir is the bundle directory: a
// step's compose file is read there to know its services (an exec entry
// naming another is a finding); with dir "", or a file that cannot be read
// or parsed, only inline services are known. Findings come in a fixed
// order: config, then install, upgrade, uninstall and the custom actions
// by name, each step in order. The result is never nil.
func LintInput(r io.Reader, dir string) ([]LintResult, error) {
	var in buildInput
	if err := yaml.NewDecoder(r).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("lint: read BuildInput: %w", err)
	}
	results := []LintResult{}
	if in.Config.Kind != 0 && !(in.Config.Kind == yaml.ScalarNode && in.Config.Tag == "!!null") {
		if in.Config.Kind != yaml.MappingNode || len(in.Config.Content) > 0 {
			results = append(results, LintResult{
				// No location: Porter prints a location only for steps.
				Level: LintWarning, Code: CodeConfigIgnored,
				Title:   "websoft9 takes no configuration",
				Message: "declare the mixin as `- websoft9`; its configuration is ignored", URL: LintURL,
			})
		}
	}
	actions := make([]string, 0, len(in.Actions))
	for a := range in.Actions {
		actions = append(actions, a)
	}
	builtin := []string{"install", "upgrade", "uninstall"}
	slices.SortFunc(actions, func(a, b string) int {
		ia, ib := slices.Index(builtin, a), slices.Index(builtin, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, action := range actions {
		for i, step := range in.Actions[action] {
			node, ok := step[Name]
			if !ok {
				continue // another mixin's step; Porter sends only ours
			}
			l := &stepLinter{action: action, dir: dir, loc: LintLocation{Action: action, Mixin: Name, StepNumber: i + 1}}
			l.lint(&node)
			results = append(results, l.results...)
		}
	}
	return results, nil
}

// stepLinter collects the findings of one step.
type stepLinter struct {
	action string
	// dir is the bundle directory compose files are read from ("": none).
	dir     string
	loc     LintLocation
	results []LintResult
}

func (l *stepLinter) add(level LintLevel, code, title, format string, a ...any) {
	l.results = append(l.results, LintResult{
		Level: level, Location: l.loc, Code: code, Title: title,
		Message: fmt.Sprintf(format, a...), URL: LintURL,
	})
}

// templated reports whether s holds a Porter template, whose value is
// known only at run time.
func templated(s string) bool { return strings.Contains(s, "${") }

func (l *stepLinter) lint(node *yaml.Node) {
	if node.Kind != yaml.MappingNode {
		l.add(LintError, CodeInvalidValue, "the step is not a map", "a websoft9 step is a map of fields, such as app and compose")
		return
	}
	var desc struct {
		Description any `yaml:"description"`
	}
	_ = node.Decode(&desc)
	if d, ok := desc.Description.(string); ok {
		l.loc.StepDescription = d
	} else if desc.Description != nil {
		l.add(LintError, CodeInvalidValue, "description must be a string", "description is %v", desc.Description)
	}
	for _, f := range unknownFields(node) {
		l.add(LintError, CodeUnknownField, "unknown field", "%s is not a websoft9 step field (fields: %s)", f, strings.Join(stepFields, ", "))
	}
	var s Step
	if err := node.Decode(&s); err != nil {
		l.add(LintError, CodeInvalidValue, "a field has the wrong type", "%v", err)
		return
	}
	l.actionRules()
	l.appRules(s)
	l.modelRules(s)
	l.valueRules(s)
	l.execRules(s)
	l.outputRules(s)
}

func (l *stepLinter) actionRules() {
	switch {
	case slices.Contains(reservedActions, l.action):
		l.add(LintError, CodeActionReserved, "reserved action name",
			"Porter sends a custom action named %s to the mixin as its own %s command; rename the action", l.action, l.action)
	case l.action == "install" || l.action == "upgrade" || l.action == "uninstall":
	case !slices.Contains(InvokeActions, l.action):
		l.add(LintError, CodeActionUnsupported, "websoft9 does not implement this action",
			"websoft9 does not implement action %s; it implements %s", l.action, strings.Join(InvokeActions, ", "))
	}
}

func (l *stepLinter) appRules(s Step) {
	switch {
	case s.App == "":
		l.add(LintError, CodeAppRequired, "app is required",
			"app names the installation (project websoft9-<app>); write app: ${ installation.name }")
	case templated(s.App):
	default:
		if err := naming.ValidateApp(s.App); err != nil {
			l.add(LintError, CodeAppInvalid, "app is not a valid name", "%v", err)
		}
		l.add(LintWarning, CodeAppFixed, "app is a fixed name",
			"app %q is the same for every installation of the bundle, so two installations would share containers; write app: ${ installation.name }", s.App)
	}
}

func (l *stepLinter) modelRules(s Step) {
	up := l.action == "install" || l.action == "upgrade"
	switch {
	case s.Compose != "" && s.Services != nil:
		l.add(LintError, CodeModelExclusive, "compose and services are exclusive",
			"name a compose file among the bundle files, or write the services inline, not both")
	case up && s.Compose == "" && len(s.Services) == 0:
		l.add(LintError, CodeModelRequired, "compose or services is required",
			"an %s step needs a compose file (compose: docker-compose.yml) or inline services", l.action)
	}
	if up && s.Main == "" {
		l.add(LintError, CodeMainRequired, "main is required",
			"main names the service whose container is websoft9-<app>")
	}
	if s.Compose != "" && !templated(s.Compose) {
		if clean := filepath.ToSlash(filepath.Clean(s.Compose)); filepath.IsAbs(s.Compose) || clean == ".." || strings.HasPrefix(clean, "../") {
			l.add(LintError, CodeComposePath, "compose must be a bundle file",
				"compose %q must be a path relative to the bundle directory, inside it", s.Compose)
		}
	}
	if s.Services == nil {
		return
	}
	names := slices.Sorted(maps.Keys(s.Services))
	if s.Main != "" && !templated(s.Main) && !slices.Contains(names, s.Main) {
		l.add(LintError, CodeUnknownService, "main is not an inline service", "main %q is not among services (%s)", s.Main, strings.Join(names, ", "))
	}
	for _, name := range s.Start {
		if !templated(name) && !slices.Contains(names, name) {
			l.add(LintError, CodeUnknownService, "start names an unknown service", "start %q is not among services (%s)", name, strings.Join(names, ", "))
		}
	}
	for _, name := range names {
		svc, ok := s.Services[name].(map[string]any)
		if !ok {
			l.add(LintError, CodeInvalidValue, "a service must be a map", "services.%s must be a compose service (a map)", name)
			continue
		}
		l.serviceRules(name, svc)
	}
}

func (l *stepLinter) serviceRules(name string, svc map[string]any) {
	if cn, ok := svc["container_name"]; ok {
		l.add(LintError, CodeContainerName, "container_name is not allowed",
			"services.%s sets container_name %v: StackHub names containers websoft9-<app>[-<service>]", name, cn)
	}
	if _, ok := svc["build"]; ok {
		l.add(LintError, CodeBuild, "build is not supported",
			"services.%s has build: the mixin never builds images; use an image", name)
	}
	if vs, ok := svc["volumes"].([]any); ok {
		for _, v := range vs {
			switch src, kind := volumeSource(v); {
			case kind == mountBind:
				l.add(LintError, CodeBindMount, "host bind mounts are not allowed",
					"services.%s mounts host path %q: use a named volume", name, src)
			case kind == mountVolume && src == "":
				l.add(LintError, CodeAnonymousVolume, "anonymous volumes are not allowed",
					"services.%s has an anonymous volume (%v): name it, e.g. data:/path", name, v)
			}
		}
	}
	walkStrings(svc, "services."+name, func(at, str string) {
		for _, tag := range composeInterpolations(str) {
			l.add(LintError, CodeInterpolation, "compose interpolation in inline services",
				"%s uses %s: Porter renders every ${…} in a step, so write a template such as ${ bundle.parameters.x }, or move the services to a compose file", at, tag)
		}
	})
}

func (l *stepLinter) valueRules(s Step) {
	if s.Wait != "" && !templated(s.Wait) {
		if d, err := time.ParseDuration(s.Wait); err != nil || d <= 0 {
			l.add(LintError, CodeInvalidValue, "wait is not a duration", "wait %q is not a positive duration such as 180s", s.Wait)
		}
	}
	if str, ok := s.Purge.(string); !ok || !templated(str) {
		if _, err := parseBool(s.Purge); err != nil {
			l.add(LintError, CodeInvalidValue, "purge is not a boolean", "purge: %v", err)
		}
	}
	if s.Purge != nil && l.action != "uninstall" {
		l.add(LintWarning, CodePurgeIgnored, "purge is ignored outside uninstall", "purge only applies to uninstall steps")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if _, err := scalarString(s.Env[k]); err != nil {
			l.add(LintError, CodeInvalidValue, "env values must be scalars", "env %s: %v", k, err)
		}
	}
	for _, k := range s.PassEnv {
		_, dup := s.Env[k]
		switch {
		case !envName.MatchString(k):
			l.add(LintError, CodeInvalidValue, "passEnv names variables", "passEnv %q is not an environment variable name", k)
		case dup:
			l.add(LintError, CodeInvalidValue, "passEnv and env overlap", "passEnv %s is also in env: give it one source", k)
		}
	}
}

// services returns the service names of the step's compose model, and
// whether they are known: inline services always are, a compose file when
// it can be read from l.dir and lists its services itself (no include).
func (l *stepLinter) services(s Step) ([]string, bool) {
	if s.Services != nil {
		return slices.Sorted(maps.Keys(s.Services)), true
	}
	if s.Compose == "" || templated(s.Compose) || l.dir == "" {
		return nil, false
	}
	raw, err := os.ReadFile(filepath.Join(l.dir, s.Compose))
	if err != nil {
		return nil, false // websoft9-114 and the bundle's file checks say why
	}
	var doc struct {
		Services map[string]any `yaml:"services"`
		Include  any            `yaml:"include"`
	}
	if yaml.Unmarshal(raw, &doc) != nil || doc.Include != nil || len(doc.Services) == 0 {
		return nil, false
	}
	return slices.Sorted(maps.Keys(doc.Services)), true
}

func (l *stepLinter) execRules(s Step) {
	if len(s.Exec) == 0 {
		return
	}
	if !slices.Contains(execActions, l.action) {
		l.add(LintWarning, CodeExecIgnored, "exec is ignored outside install and upgrade",
			"exec runs only in install and upgrade steps; %s ignores it", l.action)
	}
	names, known := l.services(s)
	for i, e := range s.Exec {
		at := fmt.Sprintf("exec[%d]", i+1)
		switch {
		case e.Service == "":
			l.add(LintError, CodeExecService, "exec needs service", "%s: service names the service whose container runs the command", at)
		case known && !templated(e.Service) && !slices.Contains(names, e.Service):
			l.add(LintError, CodeUnknownService, "exec names an unknown service", "%s: service %q is not among the services (%s)", at, e.Service, strings.Join(names, ", "))
		}
		switch {
		case len(e.Command) == 0:
			l.add(LintError, CodeExecCommand, "exec needs a command", "%s: command is the program and its arguments, such as [rails, runner, \"...\"]", at)
		case e.Command[0] == "":
			l.add(LintError, CodeExecCommand, "exec command has no program", "%s: the first entry of command is the program to run; it is empty", at)
		}
		for _, k := range slices.Sorted(maps.Keys(e.Env)) {
			if !envName.MatchString(k) {
				l.add(LintError, CodeInvalidValue, "exec env names variables", "%s: env %q is not an environment variable name", at, k)
			}
			if _, err := scalarString(e.Env[k]); err != nil {
				l.add(LintError, CodeInvalidValue, "env values must be scalars", "%s: env %s: %v", at, k, err)
			}
		}
		seen := map[string]string{}
		for _, k := range e.PassEnv {
			if err := checkPassEnv(k, e.Env, seen); err != nil {
				l.add(LintError, CodeInvalidValue, "invalid exec passEnv", "%s: %v", at, err)
			}
			seen[k] = ""
		}
	}
}

func (l *stepLinter) outputRules(s Step) {
	for i, o := range s.Outputs {
		name := o.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
			l.add(LintError, CodeOutputName, "output has no name", "output %s has no name", name)
		}
		switch src := o.sources(); {
		case o.JSONPath != "" && o.Container == "":
			l.add(LintError, CodeOutputNoSource, "jsonPath needs container", "output %s: jsonPath selects from the container of a service: add container", name)
		case len(src) == 0:
			l.add(LintError, CodeOutputNoSource, "output has no source", "output %s: set one of value, env, port, container, or container with jsonPath", name)
		case len(src) > 1:
			l.add(LintError, CodeOutputSources, "output has several sources", "output %s sets %s: set exactly one", name, strings.Join(src, ", "))
		}
		if o.Env != "" && !templated(o.Env) {
			if _, ok := s.Env[o.Env]; !ok && !slices.Contains(s.PassEnv, o.Env) {
				l.add(LintError, CodeOutputEnv, "output env is not in the step's env", "output %s: env %s is not an entry of the step's env or passEnv", name, o.Env)
			}
		}
		if o.JSONPath != "" && !templated(o.JSONPath) {
			if _, err := parseSelector(o.JSONPath); err != nil {
				l.add(LintError, CodeOutputSelector, "invalid jsonPath", "output %s: %v", name, err)
			}
		}
		if o.Port != nil {
			if o.Port.Service == "" {
				l.add(LintError, CodeOutputSelector, "port needs service", "output %s: port.service names the service", name)
			}
			if t, ok := o.Port.Target.(string); !ok || !templated(t) {
				if _, err := portNumber(o.Port.Target); err != nil {
					l.add(LintError, CodeOutputSelector, "invalid port target", "output %s: port.%v", name, err)
				}
			}
			if p := o.Port.Protocol; p != "" && p != "tcp" && p != "udp" && !templated(p) {
				l.add(LintError, CodeOutputSelector, "invalid port protocol", "output %s: port.protocol %q is neither tcp nor udp", name, p)
			}
		}
	}
}
