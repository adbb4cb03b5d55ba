package build

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// passSample is the value a lint gives passEnv variables.
const passSample = "Sample0xxxxxxxxxxxxxxxxxxxxxxxxx"

// policyMixin is the mixin whose steps bring up compose models.
const policyMixin = "websoft9"

// PolicySource marks the findings of the bundle policy lint.
const PolicySource = "policy"

// LintPolicy applies StackHub's bundle policy to the bundle in dir (see
// lintPolicy) and returns its findings, all errors. It returns an error
// when porter.yaml cannot be read or parsed.
func LintPolicy(ctx context.Context, dir string) ([]manifest.Finding, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("policy lint: %w", err)
	}
	m, err := manifest.ParseForRun(raw)
	if err != nil {
		return nil, fmt.Errorf("policy lint: %w", err)
	}
	return lintPolicy(ctx, dir, m), nil
}

// lintPolicy loads the compose model of every websoft9 step as the mixin
// would at run time (the step rendered with sample values: each integer
// parameter at its minimum, every other one at its default or a sample
// string) and applies StackHub's bundle policy to it
// (dockerpolicy.CheckProject), so that an author sees every setting the
// policed Docker socket would refuse, with the compose file and line. The
// permissions the bundle declares in custom.sh.websoft9.permissions are
// allowed, as the operator's grant would allow them; a declaration that
// is not a list of permissions in orchestrator.ParsePermission's form is
// a finding of its own.
func lintPolicy(ctx context.Context, dir string, m *manifest.Manifest) []manifest.Finding {
	data, hostPorts := sampleData(m)
	granted, err := declaredPermissions(m)
	var out []manifest.Finding
	if err != nil {
		out = append(out, manifest.Finding{Level: manifest.LevelError, Source: PolicySource, Code: PermissionsCode,
			Field: "custom.sh.websoft9.permissions", Message: orchestrator.ErrorMessage(err)})
	}
	seen := map[string]bool{}
	for _, action := range m.ActionNames() {
		for _, s := range m.Actions[action] {
			if s.Mixin != policyMixin {
				continue
			}
			rendered, err := m.RenderStep(s, data)
			if err != nil {
				continue // the manifest's own checks report template errors
			}
			key, findings := lintStep(ctx, dir, rendered, hostPorts, granted)
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			for i := range findings {
				if findings[i].Line == 0 && findings[i].File == "" {
					findings[i].Line = s.Line
				}
			}
			out = append(out, findings...)
		}
	}
	return out
}

// lintStep checks one rendered step's compose model. key identifies the
// model (a file, or the inline services), so that a model several steps
// share is reported once.
func lintStep(ctx context.Context, dir string, s manifest.Step, hostPorts []int, granted []string) (string, []manifest.Finding) {
	var step struct {
		Compose  string            `yaml:"compose"`
		Services any               `yaml:"services"`
		Env      map[string]string `yaml:"env"`
		PassEnv  []string          `yaml:"passEnv"`
	}
	b, err := yaml.Marshal(s.Data)
	if err != nil || yaml.Unmarshal(b, &step) != nil {
		return "", nil // the mixin's lint reports a malformed step
	}
	if step.Env == nil {
		step.Env = map[string]string{}
	}
	for _, k := range step.PassEnv {
		// At run time the invocation environment's value: here a sample.
		step.Env[k] = passSample
	}
	var file, key string
	var raw []byte
	opts := []cli.ProjectOptionsFn{cli.WithName("websoft9-lint"), cli.WithWorkingDirectory(dir)}
	switch {
	case step.Compose != "":
		file = filepath.Join(dir, step.Compose)
		if raw, err = os.ReadFile(file); err != nil {
			return "", nil // websoft9-114 and the bundle file checks report it
		}
		key = "file:" + step.Compose + "\x00" + strings.Join(envList(step.Env), "\x00")
		opts = append(opts, cli.WithEnv(envList(step.Env)))
	case step.Services != nil:
		doc, err := yaml.Marshal(map[string]any{"services": step.Services})
		if err != nil {
			return "", nil
		}
		f, err := os.CreateTemp("", "stackhub-lint-*.yaml")
		if err != nil {
			return "", []manifest.Finding{{Level: manifest.LevelError, Source: PolicySource, Message: err.Error()}}
		}
		defer os.Remove(f.Name())
		_, err = f.Write(doc)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", []manifest.Finding{{Level: manifest.LevelError, Source: PolicySource, Message: err.Error()}}
		}
		file, key = f.Name(), "inline:"+string(doc)
		opts = append(opts, cli.WithInterpolation(false))
	default:
		return "", nil
	}
	po, err := cli.NewProjectOptions([]string{file}, opts...)
	if err != nil {
		return "", nil
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		where := step.Compose
		if where == "" {
			where = "inline services"
		}
		return key, []manifest.Finding{{Level: manifest.LevelError, Source: PolicySource, Message: fmt.Sprintf("%s does not load as compose would load it: %v", where, err)}}
	}
	var root yaml.Node
	if raw != nil {
		_ = yaml.Unmarshal(raw, &root)
	}
	var out []manifest.Finding
	for _, l := range dockerpolicy.CheckProject(project, hostPorts, dir, granted) {
		f := manifest.Finding{Level: manifest.LevelError, Source: PolicySource, Code: l.Rule, Field: l.Path, Message: l.Detail}
		if raw != nil {
			f.File = step.Compose
			f.Line = lineOf(&root, strings.Split(l.Path, "."))
		}
		out = append(out, f)
	}
	return key, out
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// lineOf returns the line of the deepest key of path found in a YAML
// document, or 0.
func lineOf(doc *yaml.Node, path []string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			break
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}

// sampleData is template data a lint renders steps with, and the values
// it gave the integer parameters (the host ports a port parameter sets).
func sampleData(m *manifest.Manifest) (map[string]any, []int) {
	params := map[string]any{}
	var ports []int
	for _, p := range m.Parameters {
		def, hasDef := p.Default()
		switch {
		case p.Type() == "integer":
			v, ok := p.IntBound("minimum")
			if !ok {
				v = 1
				if d, isInt := def.(int); hasDef && isInt {
					v = d
				}
			}
			params[p.Name] = v
			ports = append(ports, v)
		case hasDef:
			params[p.Name] = def
		case p.EnvName() == "":
			params[p.Name] = p.Path
		default:
			params[p.Name] = "Sample0" + strings.Repeat("x", 25)
		}
	}
	images := map[string]any{}
	for alias, img := range m.Images {
		images[alias] = map[string]any{"repository": img.Repository, "tag": img.Tag, "digest": img.Digest}
	}
	return map[string]any{
		"installation": map[string]any{"name": "lint", "namespace": "", "id": "lint"},
		"bundle": map[string]any{"name": m.Name, "version": m.Version, "description": m.Description, "installerImage": "",
			"custom": m.Custom, "parameters": params, "images": images, "outputs": map[string]any{}, "credentials": map[string]any{}},
		"env": map[string]any{},
	}, ports
}

// PermissionsCode is the code of a finding about
// custom.sh.websoft9.permissions itself.
const PermissionsCode = "permissions"

// declaredPermissions reads custom.sh.websoft9.permissions: what the
// bundle says it needs beyond the default policy, in the canonical
// "<rule>[:<value>]" form the policed socket compares (the valid entries
// even when it returns an error for others).
func declaredPermissions(m *manifest.Manifest) ([]string, error) {
	meta, _ := m.Custom["sh.websoft9"].(map[string]any)
	raw, ok := meta["permissions"]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "must list permissions such as cap-add:NET_ADMIN (kinds: %s)",
			strings.Join(orchestrator.PermissionKinds(), ", "))
	}
	var out []string
	var errs []string
	for _, v := range list {
		s, _ := v.(string)
		p, err := orchestrator.ParsePermission(s)
		if err != nil {
			errs = append(errs, orchestrator.ErrorMessage(err))
			continue
		}
		out = append(out, string(p))
	}
	if len(errs) > 0 {
		return out, orchestrator.Errorf(orchestrator.EINVALID, "%s", strings.Join(errs, "; "))
	}
	return out, nil
}
