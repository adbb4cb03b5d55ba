package portermixin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pathStep is one step of a selector: an object key or an array index.
type pathStep struct {
	key     string
	index   int
	isIndex bool
}

func (s pathStep) String() string {
	if s.isIndex {
		return fmt.Sprintf("[%d]", s.index)
	}
	return "." + s.key
}

// parseSelector parses the small JSONPath subset jsonPath outputs take:
// an optional leading $, then any of .name, [n] and ["key"] (or ['key'],
// for keys holding dots such as labels). A name runs up to the next . or [.
// Examples: $.State.Health.Status, $.NetworkSettings.Ports["8080/tcp"][0].HostPort,
// $.Config.Labels["sh.websoft9.app"]. Filters, wildcards and slices are
// not supported.
func parseSelector(expr string) ([]pathStep, error) {
	rest := strings.TrimSpace(expr)
	if rest == "" {
		return nil, errors.New("empty selector")
	}
	if r, ok := strings.CutPrefix(rest, "$"); ok {
		rest = r
	} else {
		rest = "." + rest // State.Status is $.State.Status
	}
	var steps []pathStep
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("selector %q: empty name", expr)
			}
			steps = append(steps, pathStep{key: rest[:end]})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("selector %q: unclosed [", expr)
			}
			inner := rest[1:end]
			switch {
			case len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0]:
				steps = append(steps, pathStep{key: inner[1 : len(inner)-1]})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("selector %q: [%s] is neither an index nor a quoted key", expr, inner)
				}
				steps = append(steps, pathStep{index: n, isIndex: true})
			}
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("selector %q: want . or [ at %q", expr, rest)
		}
	}
	return steps, nil
}

// selectJSON evaluates expr (see parseSelector) against the JSON document
// doc. A string result is returned as is; any other value as compact JSON.
// It fails when the path does not exist.
func selectJSON(doc []byte, expr string) (string, error) {
	steps, err := parseSelector(expr)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("decode document: %w", err)
	}
	at := "$"
	for _, s := range steps {
		switch cur := v.(type) {
		case map[string]any:
			if s.isIndex {
				return "", fmt.Errorf("%s is an object, not an array", at)
			}
			next, ok := cur[s.key]
			if !ok {
				return "", fmt.Errorf("%s has no key %q", at, s.key)
			}
			v = next
		case []any:
			if !s.isIndex {
				return "", fmt.Errorf("%s is an array, not an object", at)
			}
			if s.index >= len(cur) {
				return "", fmt.Errorf("%s has %d elements, no index %d", at, len(cur), s.index)
			}
			v = cur[s.index]
		default:
			return "", fmt.Errorf("%s is a scalar (%v), cannot select %s", at, cur, s)
		}
		at += s.String()
	}
	if str, ok := v.(string); ok {
		return str, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", at, err)
	}
	return string(b), nil
}
