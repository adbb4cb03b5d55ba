package build

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// extras holds the porter.yaml fields bundle.json needs that the shared
// manifest parser does not keep: maintainers, customActions, each
// parameter's source and the config of required extensions. They are read
// from Manifest.Raw; a manifest built by hand without Raw has none.
type extras struct {
	Maintainers []struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
		URL   string `yaml:"url"`
	} `yaml:"maintainers"`
	CustomActions map[string]struct {
		Description string `yaml:"description"`
		Modifies    bool   `yaml:"modifies"`
		Stateless   bool   `yaml:"stateless"`
	} `yaml:"customActions"`
	Parameters []struct {
		Name   string `yaml:"name"`
		Source struct {
			Dependency string `yaml:"dependency"`
			Output     string `yaml:"output"`
		} `yaml:"source"`
	} `yaml:"parameters"`
	Required []any `yaml:"required"`
}

func readExtras(raw []byte) (extras, error) {
	var x extras
	if len(raw) == 0 {
		return x, nil
	}
	if err := yaml.Unmarshal(raw, &x); err != nil {
		return x, fmt.Errorf("porter.yaml: %w", err)
	}
	return x, nil
}

// sourceOutput returns the output a parameter is sourced from, or "".
func (x extras) sourceOutput(param string) (string, error) {
	for _, p := range x.Parameters {
		if p.Name != param {
			continue
		}
		if p.Source.Dependency != "" {
			return "", fmt.Errorf("parameter %q: source.dependency needs dependencies, which are not supported", param)
		}
		return p.Source.Output, nil
	}
	return "", nil
}

// requiredConfig returns the config given to a required extension
// ("- docker: {privileged: true}"), or nil for "- docker".
func (x extras) requiredConfig(name string) map[string]any {
	for _, r := range x.Required {
		if m, ok := r.(map[string]any); ok {
			if cfg, ok := m[name].(map[string]any); ok {
				return cfg
			}
		}
	}
	return nil
}
