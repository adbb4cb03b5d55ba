package bundlerun

import (
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// data builds the template variables of porter-compat.md §2, as Porter's
// buildSourceData does, fresh before each step so earlier step outputs
// are visible.
func (r *runner) data() map[string]any {
	params := map[string]any{}
	for _, p := range r.m.Parameters {
		if p.AppliesTo(r.action) {
			params[p.Name] = r.paramValue(p)
		}
	}
	creds := map[string]any{}
	for _, c := range r.m.Credentials {
		if c.Env != "" {
			creds[c.Name] = r.o.Getenv(c.Env)
		} else {
			creds[c.Name] = c.Path
		}
	}
	outputs := map[string]any{}
	for _, o := range r.m.Outputs {
		if v := r.o.Getenv(outputEnv(o.Name)); v != "" {
			outputs[o.Name] = v
		}
	}
	for k, v := range r.stepOutputs {
		outputs[k] = v
	}
	env := map[string]any{}
	for _, kv := range r.o.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	custom := r.m.Custom
	if custom == nil {
		custom = map[string]any{}
	}
	return map[string]any{
		"installation": map[string]any{
			"name":      r.inst,
			"namespace": r.o.Getenv("PORTER_INSTALLATION_NAMESPACE"),
			"id":        r.o.Getenv("PORTER_INSTALLATION_ID"),
		},
		"bundle": map[string]any{
			"name":           r.m.Name,
			"version":        r.m.Version,
			"description":    r.m.Description,
			"installerImage": r.installerImage,
			"custom":         custom,
			"parameters":     params,
			"credentials":    creds,
			"outputs":        outputs,
			"images":         r.images,
			"dependencies":   map[string]any{},
		},
		"env": env,
	}
}

// outputEnv is the variable of Porter's porter-<o>-output parameter, which
// carries the last value of bundle output o.
func outputEnv(o string) string {
	return manifest.EnvVarName("porter-" + o + "-output")
}

// paramValue is a parameter's template value: its environment variable
// (an object parsed from JSON, so its fields are addressable), or the
// path of a path-only parameter.
func (r *runner) paramValue(p manifest.Parameter) any {
	env := p.EnvName()
	if env == "" {
		return p.Path
	}
	v := r.o.Getenv(env)
	if p.Type() == "object" {
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) == nil {
			return obj
		}
	}
	return v
}

// secrets lists the values masked in mixin output, as Porter does:
// sensitive parameters (and the leaves of sensitive objects), credentials,
// and every step output unless a bundle output of that name is not
// sensitive. Longer values come first so they are masked whole.
func (r *runner) secrets() []string {
	var out []string
	add := func(v string) {
		if strings.TrimSpace(v) != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, p := range r.m.Parameters {
		if !p.Sensitive || p.EnvName() == "" {
			continue
		}
		v := r.o.Getenv(p.EnvName())
		add(v)
		var obj any
		if p.Type() == "object" && json.Unmarshal([]byte(v), &obj) == nil {
			walkLeaves(obj, add)
		}
	}
	for _, c := range r.m.Credentials {
		if c.Env != "" {
			add(r.o.Getenv(c.Env))
		}
	}
	for _, o := range r.m.Outputs {
		if o.Sensitive {
			add(r.o.Getenv(outputEnv(o.Name)))
		}
	}
	for name, v := range r.stepOutputs {
		if o, ok := r.m.Output(name); ok && !o.Sensitive {
			continue
		}
		add(v)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return out
}

func walkLeaves(v any, f func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			walkLeaves(e, f)
		}
	case []any:
		for _, e := range x {
			walkLeaves(e, f)
		}
	case string:
		f(x)
	}
}

// maskWriter replaces secret values with ******* in what passes through.
// A secret split across two writes is not masked; mixins write lines.
type maskWriter struct {
	w       io.Writer
	secrets []string
}

func (m *maskWriter) Write(p []byte) (int, error) {
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	s := string(p)
	for _, sec := range m.secrets {
		s = strings.ReplaceAll(s, sec, "*******")
	}
	if _, err := io.WriteString(m.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
