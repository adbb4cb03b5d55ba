package manifest

import (
	"fmt"
	"math"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Codes of the checks that hold a bundle to what Porter's runtime does
// where StackHub's own code would accept more. porter-mixin/README.md
// lists them with the websoft9 mixin's codes.
const (
	// CodeCrossStepAlias: an alias in a step names an anchor outside that
	// step. Porter's runtime encodes each step alone, and the step fails
	// with "unknown anchor" before its mixin runs (Porter issue #2281).
	CodeCrossStepAlias = "stackhub-100"
	// CodeStepReencoded: the step reads back differently once encoded
	// alone, so the mixin gets other values than the file shows (yaml.v3
	// writes an empty value in a flow mapping as '', a null key as '').
	CodeStepReencoded = "stackhub-101"
	// CodeStackHubOnly: the step uses something StackHub's runtime gives
	// and Porter's does not.
	CodeStackHubOnly = "stackhub-102"
)

func (d *decoder) addCode(level Level, line int, field, code, format string, args ...any) {
	d.findings = append(d.findings, Finding{Level: level, Line: line, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// checkStepsAlone does for every step what Porter's runtime does before it
// renders one (pkg/runtime getStepTemplate): encode the step's node alone
// and read it back. An alias whose anchor is elsewhere is an error at the
// alias; a step that reads back with other values is a warning naming the
// first field that changed.
func (d *decoder) checkStepsAlone(m *Manifest) {
	for _, action := range m.ActionNames() {
		for i, s := range m.Actions[action] {
			if s.node == nil {
				continue
			}
			field := index(action, i)
			if aliases := foreignAliases(s.node, field); len(aliases) > 0 {
				for _, a := range aliases {
					d.addCode(LevelError, a.node.Line, a.field, CodeCrossStepAlias,
						"alias *%s names the anchor &%s on line %d, outside this step: Porter's runtime renders each step alone and fails with \"unknown anchor '%s' referenced\"; write the values out in this step",
						a.node.Value, a.node.Value, a.node.Alias.Line, a.node.Value)
				}
				continue
			}
			text, err := s.template()
			if err != nil {
				d.errorAt(s.Line, field, "encode step: %v", err)
				continue
			}
			var doc any
			if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
				d.addCode(LevelError, s.Line, field, CodeStepReencoded, "Porter's runtime cannot read this step back once encoded alone: %v", err)
				continue
			}
			top, _ := JSONValue(doc).(map[string]any)
			if path, was, now, changed := firstChange(top[s.Mixin], s.Data, join(field, s.Mixin)); changed {
				d.addCode(LevelWarning, s.Line, path, CodeStepReencoded,
					"Porter's runtime encodes this step alone and reads %s back as %s: write the value so that it survives (e.g. null instead of an empty value)", was, now)
			}
		}
	}
}

type aliasAt struct {
	node  *yaml.Node
	field string
}

// foreignAliases returns the aliases under n whose anchor is not under n,
// in file order, with their field paths.
func foreignAliases(n *yaml.Node, field string) []aliasAt {
	inside := map[*yaml.Node]bool{}
	var all []aliasAt
	var walk func(n *yaml.Node, field string)
	walk = func(n *yaml.Node, field string) {
		if n == nil {
			return
		}
		inside[n] = true
		switch n.Kind {
		case yaml.AliasNode:
			all = append(all, aliasAt{n, field})
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				walk(k, field)
				walk(n.Content[i+1], join(field, k.Value))
			}
		default:
			for i, c := range n.Content {
				walk(c, index(field, i))
			}
		}
	}
	walk(n, field)
	var out []aliasAt
	for _, a := range all {
		if !inside[a.node.Alias] {
			out = append(out, a)
		}
	}
	return out
}

// firstChange compares a step's fields as read back (got) with the fields
// as decoded from the file (want) and returns the first field that differs.
func firstChange(got, want any, field string) (path, was, now string, changed bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				return join(field, k), describe(w[k]), "missing", true
			}
			if p, a, b, c := firstChange(gv, w[k], join(field, k)); c {
				return p, a, b, c
			}
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				return join(field, k), "missing", describe(g[k]), true
			}
		}
		return "", "", "", false
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			if p, a, b, c := firstChange(g[i], w[i], index(field, i)); c {
				return p, a, b, c
			}
		}
		return "", "", "", false
	default:
		if sameValue(got, want) {
			return "", "", "", false
		}
	}
	return field, describe(want), describe(got), true
}

// sameValue is reflect.DeepEqual for decoded YAML, except that numbers
// compare by value, NaN included.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if x, ok := number(a); ok {
		// YAML writes a whole float as an integer (0.0 as 0): the value,
		// not the Go type, must survive.
		y, ok := number(b)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return reflect.DeepEqual(a, b)
}

// number returns the value of a decoded YAML number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
