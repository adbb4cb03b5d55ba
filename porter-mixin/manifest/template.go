package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Delims are the opening and closing delimiters of template tags.
type Delims struct {
	Open, Close string
}

var (
	// DollarDelims are the delimiters of schemaVersion 1.0.0 and later:
	// Porter prepends {{=${ }=}} to every template it renders.
	DollarDelims = Delims{Open: "${", Close: "}"}
	// MustacheDelims are mustache's defaults, used by schemaVersion
	// 1.0.0-alpha.1 manifests.
	MustacheDelims = Delims{Open: "{{", Close: "}}"}
)

// MissingVariableError reports a template variable that has no value.
type MissingVariableError struct {
	Variable string
}

func (e *MissingVariableError) Error() string {
	return fmt.Sprintf("missing template variable %q", e.Variable)
}

// TemplateSyntaxError reports a template that cannot be parsed, such as an
// unclosed tag or section.
type TemplateSyntaxError struct {
	// Line is the 1-based line of the template where the problem is.
	Line    int
	Message string
}

func (e *TemplateSyntaxError) Error() string {
	return fmt.Sprintf("template line %d: %s", e.Line, e.Message)
}

// Template is a parsed mustache template, as Porter renders step templates
// with github.com/cbroglie/mustache in raw mode. It supports what that
// library does except partials:
//
//   - variables ${ a.b } (also ${{ a.b }} and ${& a.b }): never HTML-escaped;
//     strings as they are, numbers and booleans in plain form, maps and
//     lists as JSON; a null value renders as "". A variable without a value
//     is a *MissingVariableError, also inside sections.
//   - sections ${#x}…${/x}: skipped when x is missing, null, false, an empty
//     list or a blank string; repeated for each item of a list; rendered
//     once with x as the innermost context for anything else (maps included,
//     even empty ones, and 0).
//   - inverted sections ${^x}…${/x}: rendered once when x would skip a section.
//   - comments ${! … } and set-delimiter tags ${=<% %>=}.
//   - a section, inverted, closing, comment or set-delimiter tag alone on
//     its line removes the whole line, as mustache's standalone rule says.
//
// Names are looked up as mustache does: the first dotted part in the
// innermost context that has it, the remaining parts inside that value;
// "." is the innermost context. Partials (${> name}) are refused: Porter
// would read them from files in the bundle's working directory.
type Template struct {
	nodes []tnode
}

type tnode interface{}

type textNode string

type varNode struct {
	name string
	line int
}

type sectionNode struct {
	name     string
	inverted bool
	line     int
	nodes    []tnode
}

// ParseTemplate parses text with d as the initial delimiters. It returns a
// *TemplateSyntaxError for an unclosed tag, an empty tag, an unclosed,
// unmatched or interleaved section, a bad set-delimiter tag or a partial.
func ParseTemplate(text string, d Delims) (*Template, error) {
	p := &tparser{data: text, open: d.Open, close: d.Close}
	nodes, err := p.parse(nil)
	if err != nil {
		return nil, err
	}
	return &Template{nodes: nodes}, nil
}

type tparser struct {
	data        string
	open, close string
	pos         int
}

func (p *tparser) lineAt(pos int) int {
	return strings.Count(p.data[:min(pos, len(p.data))], "\n") + 1
}

func (p *tparser) errorf(pos int, format string, args ...any) error {
	return &TemplateSyntaxError{Line: p.lineAt(pos), Message: fmt.Sprintf(format, args...)}
}

// standaloneTags are the tag kinds that vanish with their line when alone on it.
const standaloneTags = "#^/<>=!"

// parse reads nodes up to the end of the text, or up to the closing tag of
// section when it is not nil.
func (p *tparser) parse(section *sectionNode) ([]tnode, error) {
	var nodes []tnode
	for {
		i := strings.Index(p.data[p.pos:], p.open)
		if i < 0 {
			if section != nil {
				return nil, &TemplateSyntaxError{Line: section.line, Message: fmt.Sprintf("section %q has no closing tag", section.name)}
			}
			if p.pos < len(p.data) {
				nodes = append(nodes, textNode(p.data[p.pos:]))
			}
			p.pos = len(p.data)
			return nodes, nil
		}
		tagStart := p.pos + i
		// The tag may stand alone if only blanks precede it on its line.
		lineStart := tagStart
		for lineStart > p.pos && (p.data[lineStart-1] == ' ' || p.data[lineStart-1] == '\t') {
			lineStart--
		}
		mayStandalone := lineStart == 0 || p.data[lineStart-1] == '\n'
		text, padding := p.data[p.pos:tagStart], ""
		if mayStandalone {
			text, padding = p.data[p.pos:lineStart], p.data[lineStart:tagStart]
		}

		inner := tagStart + len(p.open)
		closing := p.close
		if inner < len(p.data) && p.data[inner] == '{' {
			closing = "}" + p.close
		}
		j := strings.Index(p.data[inner:], closing)
		if j < 0 {
			return nil, p.errorf(tagStart, "unclosed tag %q", abbreviate(p.data[tagStart:]))
		}
		// A triple tag keeps its inner closing brace: ${{ x }} reads "{ x }".
		tag := strings.TrimSpace(p.data[inner : inner+j+len(closing)-len(p.close)])
		p.pos = inner + j + len(closing)
		if tag == "" {
			return nil, p.errorf(tagStart, "empty tag")
		}

		standalone := false
		if mayStandalone && strings.ContainsRune(standaloneTags, rune(tag[0])) {
			eol := p.pos
			for eol < len(p.data) && (p.data[eol] == ' ' || p.data[eol] == '\t') {
				eol++
			}
			switch {
			case eol == len(p.data):
				standalone, p.pos = true, eol
			case p.data[eol] == '\n':
				standalone, p.pos = true, eol+1
			case strings.HasPrefix(p.data[eol:], "\r\n"):
				standalone, p.pos = true, eol+2
			}
		}
		if text != "" {
			nodes = append(nodes, textNode(text))
		}
		if !standalone && padding != "" {
			nodes = append(nodes, textNode(padding))
		}

		line := p.lineAt(tagStart)
		switch tag[0] {
		case '!':
		case '#', '^':
			s := &sectionNode{name: strings.TrimSpace(tag[1:]), inverted: tag[0] == '^', line: line}
			if s.name == "" {
				return nil, p.errorf(tagStart, "section tag without a name")
			}
			children, err := p.parse(s)
			if err != nil {
				return nil, err
			}
			s.nodes = children
			nodes = append(nodes, s)
		case '/':
			name := strings.TrimSpace(tag[1:])
			switch {
			case section == nil:
				return nil, p.errorf(tagStart, "closing tag %q closes no section", name)
			case name != section.name:
				return nil, p.errorf(tagStart, "closing tag %q does not match section %q (line %d)", name, section.name, section.line)
			}
			return nodes, nil
		case '>':
			return nil, p.errorf(tagStart, "partial %q is not supported", strings.TrimSpace(tag[1:]))
		case '=':
			fields := strings.Fields(strings.TrimSuffix(tag[1:], "="))
			if len(tag) < 2 || tag[len(tag)-1] != '=' || len(fields) != 2 {
				return nil, p.errorf(tagStart, "invalid set-delimiter tag %q", tag)
			}
			p.open, p.close = fields[0], fields[1]
		case '{', '&':
			name := strings.TrimSpace(tag[1:])
			if tag[0] == '{' {
				if len(tag) < 2 || tag[len(tag)-1] != '}' {
					return nil, p.errorf(tagStart, "invalid tag %q", tag)
				}
				name = strings.TrimSpace(tag[1 : len(tag)-1])
			}
			if name == "" {
				return nil, p.errorf(tagStart, "tag %q names no variable", tag)
			}
			nodes = append(nodes, varNode{name: name, line: line})
		default:
			nodes = append(nodes, varNode{name: tag, line: line})
		}
	}
}

func abbreviate(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// Variables returns the names of the variable tags outside sections, in
// order and without duplicates. These are the variables Porter's build
// scans porter.yaml for (to wire bundle outputs back in, §3.2); names inside
// sections may be relative to the section and are left out, as Porter does.
func (t *Template) Variables() []string {
	var names []string
	for _, n := range t.nodes {
		if v, ok := n.(varNode); ok && !slices.Contains(names, v.name) {
			names = append(names, v.name)
		}
	}
	return names
}

// Render renders the template with data as the outermost context.
func (t *Template) Render(data map[string]any) (string, error) {
	var buf bytes.Buffer
	if err := renderNodes(&buf, t.nodes, []any{data}); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func renderNodes(buf *bytes.Buffer, nodes []tnode, chain []any) error {
	for _, n := range nodes {
		switch n := n.(type) {
		case textNode:
			buf.WriteString(string(n))
		case varNode:
			v, ok := lookupChain(chain, n.name)
			if !ok {
				return &MissingVariableError{Variable: n.name}
			}
			s, err := format(v)
			if err != nil {
				return fmt.Errorf("template variable %q: %w", n.name, err)
			}
			buf.WriteString(s)
		case *sectionNode:
			v, ok := lookupChain(chain, n.name)
			empty := !ok || isEmpty(v)
			if n.inverted {
				if empty {
					if err := renderNodes(buf, n.nodes, chain); err != nil {
						return err
					}
				}
				continue
			}
			if empty {
				continue
			}
			items := []any{v}
			if list, ok := asList(v); ok {
				items = list
			}
			for _, item := range items {
				if err := renderNodes(buf, n.nodes, append(slices.Clip(chain), item)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lookupChain resolves name as mustache does: "." is the innermost
// context; the first dotted part is searched from the innermost context
// outwards, the rest only inside the value found.
func lookupChain(chain []any, name string) (any, bool) {
	if name == "." {
		return chain[len(chain)-1], true
	}
	first, rest, dotted := strings.Cut(name, ".")
	for i := len(chain) - 1; i >= 0; i-- {
		v, ok := field(chain[i], first)
		if !ok {
			continue
		}
		if !dotted {
			return v, true
		}
		return lookupPath(v, rest)
	}
	return nil, false
}

func lookupPath(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		var ok bool
		if v, ok = field(v, part); !ok {
			return nil, false
		}
	}
	return v, true
}

func field(v any, name string) (any, bool) {
	switch m := v.(type) {
	case map[string]any:
		x, ok := m[name]
		return x, ok
	case map[string]string:
		x, ok := m[name]
		return x, ok
	}
	return nil, false
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// isEmpty is mustache's falsiness: null, false, an empty list or a blank string.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return strings.TrimSpace(x) == ""
	}
	if l, ok := asList(v); ok {
		return len(l) == 0
	}
	return false
}

func format(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case json.Number:
		return x.String(), nil
	default:
		b, err := json.Marshal(x)
		return string(b), err
	}
}

// Render renders text with Porter's ${ } delimiters; see [Template] for
// what it supports. A variable without a value returns a
// *MissingVariableError, a malformed template a *TemplateSyntaxError.
func Render(text string, data map[string]any) (string, error) {
	return RenderDelims(text, data, DollarDelims)
}

// RenderDelims is [Render] with the given delimiters.
func RenderDelims(text string, data map[string]any, d Delims) (string, error) {
	t, err := ParseTemplate(text, d)
	if err != nil {
		return "", err
	}
	return t.Render(data)
}

// RenderStep renders a step with Porter's ${ } delimiters; see
// [Manifest.RenderStep].
func RenderStep(s Step, data map[string]any) (Step, error) {
	return renderStep(s, data, DollarDelims)
}

// RenderStep renders a step as Porter's runtime does (pkg/runtime
// ResolveStep and getStepTemplate): the step's YAML node as written in
// porter.yaml ({<mixin>: {...}}, quoting, comments, anchors and aliases
// kept) is encoded alone, rendered with the manifest's delimiters and
// missing variables as errors, and parsed again. So an unquoted
// ${ bundle.parameters.port } becomes an integer and a quoted one stays a
// string, and an alias whose anchor is in another step fails with YAML's
// "unknown anchor" as it does under Porter. The error names the step and
// wraps a *MissingVariableError, a *TemplateSyntaxError or the YAML error.
func (m *Manifest) RenderStep(s Step, data map[string]any) (Step, error) {
	return renderStep(s, data, m.Delims())
}

func renderStep(s Step, data map[string]any, d Delims) (Step, error) {
	text, err := s.template()
	if err != nil {
		return Step{}, fmt.Errorf("encode step %q (%s): %w", s.Description(), s.Mixin, err)
	}
	rendered, err := RenderDelims(text, data, d)
	if err != nil {
		return Step{}, fmt.Errorf("render step %q (%s): %w", s.Description(), s.Mixin, err)
	}
	// Decoded as Parse decodes a step's fields (JSONValue), so that a step
	// without tags renders to its Data, whatever its keys.
	var doc any
	err = yaml.Unmarshal([]byte(rendered), &doc)
	if err != nil {
		hint := "quote values that may contain ': ' or '#'"
		if strings.Contains(err.Error(), "unknown anchor") {
			hint = "an alias names an anchor outside this step, and Porter's runtime renders each step alone: write the values out in the step"
		}
		return Step{}, fmt.Errorf("render step %q (%s): the rendered step is not valid YAML (%s): %w", s.Description(), s.Mixin, hint, err)
	}
	top, isMap := JSONValue(doc).(map[string]any)
	body, ok := top[s.Mixin]
	if !isMap || len(top) != 1 || !ok {
		return Step{}, fmt.Errorf("render step %q (%s): the rendered step is not a mapping with the one key %s", s.Description(), s.Mixin, s.Mixin)
	}
	out, isMap := body.(map[string]any)
	if !isMap && body != nil {
		return Step{}, fmt.Errorf("render step %q (%s): the rendered step's fields are not a mapping but %T", s.Description(), s.Mixin, body)
	}
	if out == nil {
		out = map[string]any{}
	}
	return Step{Mixin: s.Mixin, Data: out, Line: s.Line}, nil
}

// template returns the step as YAML, {<mixin>: {...}}: the node as written
// in porter.yaml when the step was parsed, encoded as Porter's runtime
// encodes it (yaml.v3's default encoder), else Data encoded.
func (s Step) template() (string, error) {
	if s.node == nil {
		b, err := yaml.Marshal(map[string]any{s.Mixin: s.Data})
		return string(b), err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(s.node); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}
