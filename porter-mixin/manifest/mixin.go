package manifest

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// BuildInput returns what Porter writes to a mixin's stdin for `build` and
// `lint` (getporter/porter pkg/mixin/query/manifest_generator.go): the
// mixin's config, if it was declared with one, and for install, upgrade,
// uninstall (always present, [] when empty) and each custom action the
// steps of that mixin, as written (not rendered).
func BuildInput(m *Manifest, mixin string) ([]byte, error) {
	actions := map[string]any{}
	for _, a := range []string{ActionInstall, ActionUpgrade, ActionUninstall} {
		actions[a] = []any{}
	}
	for action, steps := range m.Actions {
		list := []any{}
		for _, s := range steps {
			if s.Mixin == mixin {
				list = append(list, map[string]any{s.Mixin: s.Data})
			}
		}
		actions[action] = list
	}
	input := map[string]any{"actions": actions}
	if cfg, ok := m.MixinConfig[mixin]; ok && cfg != nil {
		input["config"] = cfg
	}
	out, err := yaml.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("build input for mixin %s: %w", mixin, err)
	}
	return out, nil
}

// mixinLintResult is one entry of a mixin's `lint` output, Porter's
// pkg/linter Result, which has no JSON tags: keys are its Go field names,
// decoded case-insensitively as Porter does.
type mixinLintResult struct {
	Level    int
	Location struct {
		Action          string
		Mixin           string
		StepNumber      int
		StepDescription string
	}
	Code    string
	Title   string
	Message string
	URL     string
}

// MixinLintFindings turns the JSON array a mixin's `lint` command prints
// into findings located in m: a result's action and 1-based step number
// (counted among that mixin's steps, as in BuildInput) give the step's line
// and field. Level 0 is an error, anything else a warning, as in Porter.
// It returns an error when data is not such an array.
func MixinLintFindings(m *Manifest, mixin string, data []byte) ([]Finding, error) {
	var results []mixinLintResult
	if err := json.Unmarshal(data, &results); err != nil {
		return nil, fmt.Errorf("mixin %s lint: the output is not a JSON array of results: %w", mixin, err)
	}
	findings := make([]Finding, 0, len(results))
	for _, r := range results {
		f := Finding{Level: LevelWarning, Source: mixin, Code: r.Code}
		if r.Level == 0 {
			f.Level = LevelError
		}
		var msg []string
		for _, s := range []string{r.Title, r.Message} {
			if s != "" && !strings.Contains(strings.Join(msg, " "), s) {
				msg = append(msg, s)
			}
		}
		f.Message = strings.Join(msg, ": ")
		if r.URL != "" {
			f.Message += " (" + r.URL + ")"
		}
		if r.Location.Action != "" {
			f.Field = r.Location.Action
			n := 0
			for i, s := range m.Actions[r.Location.Action] {
				if s.Mixin != mixin {
					continue
				}
				n++
				if n == r.Location.StepNumber {
					f.Line, f.Field = s.Line, join(index(r.Location.Action, i), mixin)
					break
				}
			}
		}
		findings = append(findings, f)
	}
	return findings, nil
}
