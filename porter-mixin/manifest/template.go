package manifest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// tagRE finds Porter's ${ name } template tags (mustache with ${ } delimiters).
var tagRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

// MissingVariableError reports a template variable that has no value.
type MissingVariableError struct {
	Variable string
}

func (e *MissingVariableError) Error() string {
	return fmt.Sprintf("missing template variable %q", e.Variable)
}

// Render replaces every ${ a.b.c } tag in text with the value at that path
// in data, without HTML escaping, as Porter does. Strings are inserted as
// they are, numbers and booleans in their plain form, maps and lists as JSON.
// A tag whose path has no value returns a *MissingVariableError.
func Render(text string, data map[string]any) (string, error) {
	var firstErr error
	out := tagRE.ReplaceAllStringFunc(text, func(tag string) string {
		if firstErr != nil {
			return tag
		}
		name := strings.TrimSpace(tag[2 : len(tag)-1])
		if name == "" || strings.ContainsAny(name[:1], "#^/!>&=") {
			firstErr = fmt.Errorf("template tag %q is not supported (only ${ variable } tags)", tag)
			return tag
		}
		v, ok := lookup(data, name)
		if !ok {
			firstErr = &MissingVariableError{Variable: name}
			return tag
		}
		s, err := format(v)
		if err != nil {
			firstErr = fmt.Errorf("template variable %q: %w", name, err)
			return tag
		}
		return s
	})
	return out, firstErr
}

func lookup(data map[string]any, path string) (any, bool) {
	var cur any = data
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

func format(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	default:
		b, err := json.Marshal(x)
		return string(b), err
	}
}

// RenderStep renders a step's fields as Porter does: the step is encoded as
// YAML, its tags are replaced, and the result is parsed again, so an unquoted
// ${ bundle.parameters.port } becomes an integer. The error names the
// missing variable and the step.
func RenderStep(s Step, data map[string]any) (Step, error) {
	raw, err := yaml.Marshal(s.Data)
	if err != nil {
		return Step{}, fmt.Errorf("encode step %q: %w", s.Description(), err)
	}
	text, err := Render(string(raw), data)
	if err != nil {
		return Step{}, fmt.Errorf("render step %q (%s): %w", s.Description(), s.Mixin, err)
	}
	var out map[string]any
	if err := yaml.Unmarshal([]byte(text), &out); err != nil {
		return Step{}, fmt.Errorf("render step %q (%s): the rendered step is not valid YAML (quote values that may contain ': ' or '#'): %w", s.Description(), s.Mixin, err)
	}
	return Step{Mixin: s.Mixin, Data: out}, nil
}
