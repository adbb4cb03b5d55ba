package manifest

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// templateSeeds are the templates of template_test.go.
var templateSeeds = []string{
	"app: ${ installation.name }", "app: ${installation.name}", "${ bundle.parameters.html }",
	"${{ bundle.parameters.html }}", "${& bundle.parameters.html }", "${ bundle.parameters.obj }",
	"${ bundle.parameters.obj.b }", "${ bundle.parameters.on } ${ bundle.parameters.zero }", "[${ bundle.null }]",
	"${ bundle.images.web.labels.tier }", "${ installation.name }:${ bundle.parameters.port }", "[${ installation.namespace }]",
	"cost: $5 ${ bundle.parameters.port }",
	"${#bundle.parameters.on}yes${/bundle.parameters.on}", "${#bundle.parameters.off}yes${/bundle.parameters.off}",
	"${#bundle.parameters.nope}yes${/bundle.parameters.nope}", "${#bundle.parameters.blank}yes${/bundle.parameters.blank}",
	"${#bundle.parameters.zero}yes${/bundle.parameters.zero}", "${#bundle.parameters.empty}yes${/bundle.parameters.empty}",
	"${#bundle.none}yes${/bundle.none}", "${#bundle.list}<${ name }>${/bundle.list}", "${#bundle.words}${ . },${/bundle.words}",
	"${#bundle.parameters.obj}${ b }-${ installation.name }${/bundle.parameters.obj}",
	"${#bundle.list}${#bundle.parameters.on}${ name }${/bundle.parameters.on}${/bundle.list}",
	"${^bundle.parameters.off}no${/bundle.parameters.off}", "${^bundle.nope}no${/bundle.nope}",
	"${^bundle.parameters.on}no${/bundle.parameters.on}", "a${! ignored ${ text }b",
	"${=<% %>=}<% installation.name %> ${ x }",
	"a:\n  ${#bundle.parameters.on}\n  b: 1\n  ${/bundle.parameters.on}\nc: 2\n", "a: 1\n${! note }\nb: 2\n",
	"a: ${#bundle.parameters.on}1${/bundle.parameters.on}\n", "  ${ installation.name }\n",
	"${ bundle.parameters.nope }", "${ installation.name.x }", "${#bundle.parameters.on}${ nope }${/bundle.parameters.on}",
	"echo ${HOME}", "a\nb: ${ x", "${ }", "\n${#a}\nx", "${#a}${/b}", "${/a}", "${> header}", "${=<%=}", "${{ x }",
	"app: {{ installation.name }} ${HOME} {{#bundle.list}}{{name}}{{/bundle.list}}",
	"${ a } ${#s}${ inner }${/s} ${ b.c } ${ a } ${! c }",
}

// FuzzRenderTemplate renders arbitrary text with the data of
// template_test.go, with ${ } or {{ }} delimiters. No panic; text without
// the opening delimiter renders to itself; a syntax error names a line of
// the text; a missing variable is named as written in the text; a step
// holding the text renders or fails naming the step.
func FuzzRenderTemplate(f *testing.F) {
	for _, s := range templateSeeds {
		f.Add(s, false)
		f.Add(strings.NewReplacer("${", "{{", "}", "}}").Replace(s), true)
	}
	f.Fuzz(func(t *testing.T, text string, alpha bool) {
		if len(text) > 16<<10 {
			t.Skip()
		}
		d := DollarDelims
		if alpha {
			d = MustacheDelims
		}
		tmpl, perr := ParseTemplate(text, d)
		got, err := RenderDelims(text, templateData(), d)
		switch {
		case perr != nil && (err == nil || err.Error() != perr.Error()):
			t.Fatalf("ParseTemplate says %v, RenderDelims says %v", perr, err)
		case perr == nil && isSyntaxError(err):
			t.Fatalf("ParseTemplate accepts the text, RenderDelims says %v", err)
		}
		if !strings.Contains(text, d.Open) {
			if err != nil || got != text {
				t.Fatalf("text without %s renders to %q, %v", d.Open, got, err)
			}
			if vars := tmpl.Variables(); len(vars) != 0 {
				t.Fatalf("text without %s has variables %q", d.Open, vars)
			}
		}
		if err != nil {
			checkTemplateError(t, text, err)
		}
		if tmpl != nil {
			for _, v := range tmpl.Variables() {
				if v == "" || !strings.Contains(text, v) {
					t.Fatalf("variable %q is not in the text", v)
				}
			}
		}

		s := Step{Mixin: "websoft9", Data: map[string]any{"description": "fuzz", "v": text}}
		if _, err := renderStep(s, templateData(), d); err != nil {
			if !strings.Contains(err.Error(), `render step "fuzz" (websoft9)`) && !strings.Contains(err.Error(), `encode step "fuzz" (websoft9)`) {
				t.Fatalf("RenderStep error does not name the step: %v", err)
			}
			var mv *MissingVariableError
			var se *TemplateSyntaxError
			if !errors.As(err, &mv) && !errors.As(err, &se) && !strings.Contains(err.Error(), "not valid YAML") {
				t.Fatalf("RenderStep error is neither a template nor a YAML error: %v", err)
			}
		}
	})
}

func isSyntaxError(err error) bool {
	_, ok := errors.AsType[*TemplateSyntaxError](err)
	return ok
}

// checkTemplateError checks that a render error is typed and names what
// went wrong.
func checkTemplateError(t *testing.T, text string, err error) {
	t.Helper()
	if se, ok := errors.AsType[*TemplateSyntaxError](err); ok {
		if lines := strings.Count(text, "\n") + 1; se.Line < 1 || se.Line > lines {
			t.Fatalf("syntax error at line %d of a %d-line text: %v", se.Line, lines, err)
		}
		if strings.TrimSpace(se.Message) == "" {
			t.Fatalf("syntax error without a message at line %d", se.Line)
		}
		return
	}
	if mv, ok := errors.AsType[*MissingVariableError](err); ok {
		if mv.Variable == "" || !strings.Contains(text, mv.Variable) || !strings.Contains(err.Error(), strconv.Quote(mv.Variable)) {
			t.Fatalf("missing variable %q is not named as in the text: %v", mv.Variable, err)
		}
		return
	}
	t.Fatalf("render error is neither a syntax error nor a missing variable: %v", err)
}

// Generated templates: genTemplate builds a well-formed template from a
// fuzzed program, the data holding every name it references, and the
// output a mustache renderer must produce.

// Variable and section names: no name is a dotted prefix of another, so
// every one can have a value at once.
var (
	genVars     = []string{"a", "b.c", "b.d", "e.f.g", "installation.name", "h_1", "i-j"}
	genSections = []string{"s", "t.u", "v"}
)

type genState struct {
	prog  []byte
	pos   int
	b     strings.Builder
	d     Delims
	data  map[string]any
	vars  []string // variables outside sections, in order, once each
	depth int
}

func (g *genState) next() byte {
	if g.pos >= len(g.prog) {
		return 0
	}
	c := g.prog[g.pos]
	g.pos++
	return c
}

func (g *genState) done() bool { return g.pos >= len(g.prog) }

// set stores v under the dotted name in g.data.
func (g *genState) set(name string, v any) {
	m := g.data
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

func (g *genState) get(name string) (any, bool) {
	return lookupPath(g.data, name)
}

// text appends a run of plain text: no delimiter characters, so it can
// never form a tag with what surrounds it.
func (g *genState) text() string {
	n := int(g.next() % 8)
	var t strings.Builder
	for range n {
		c := g.next()
		switch {
		case strings.IndexByte("${}<%>=", c) >= 0:
			c = 'x'
		case c == '\r':
			c = '\n'
		case c < ' ' && c != '\n' && c != '\t' || c > '~':
			c = 'a' + c%26
		}
		t.WriteByte(c)
	}
	return t.String()
}

// block appends nodes until the program ends or, inside a section, a close
// op, and returns what rendering them must give (a section's block renders
// alike each time: its contexts hold no names).
func (g *genState) block() string {
	var want strings.Builder
	for !g.done() {
		op := g.next() % 8
		switch op {
		case 0, 1:
			s := g.text()
			g.b.WriteString(s)
			want.WriteString(s)
		case 2: // variable
			name := genVars[int(g.next())%len(genVars)]
			v, ok := g.get(name)
			if !ok {
				switch g.next() % 4 {
				case 0:
					v = g.text()
				case 1:
					v = int(g.next()) - 128
				case 2:
					v = g.next()%2 == 0
				case 3:
					v = nil
				}
				g.set(name, v)
			}
			if g.depth == 0 && !slices.Contains(g.vars, name) {
				g.vars = append(g.vars, name)
			}
			sp := strings.Repeat(" ", int(g.next()%2))
			switch g.next() % 3 {
			case 0:
				g.b.WriteString(g.d.Open + sp + name + sp + g.d.Close)
			case 1:
				g.b.WriteString(g.d.Open + "{" + sp + name + sp + "}" + g.d.Close)
			case 2:
				g.b.WriteString(g.d.Open + "&" + sp + name + sp + g.d.Close)
			}
			s, _ := format(v)
			want.WriteString(s)
		case 3, 4: // section or inverted section
			if g.depth >= 6 { // lists repeat their block: keep the output small
				continue
			}
			name := genSections[int(g.next())%len(genSections)]
			v, ok := g.get(name)
			if !ok {
				switch g.next() % 4 {
				case 0:
					v = false
				case 1:
					v = true
				default: // a list of empty contexts: lookups fall through to the root
					items := make([]any, g.next()%3)
					for i := range items {
						items[i] = map[string]any{}
					}
					v = items
				}
				g.set(name, v)
			}
			inverted := op == 4
			g.b.WriteString("x" + g.d.Open) // never standalone
			if inverted {
				g.b.WriteString("^")
			} else {
				g.b.WriteString("#")
			}
			g.b.WriteString(name + g.d.Close)
			want.WriteString("x")
			g.depth++
			inner := g.block()
			g.depth--
			g.b.WriteString("x" + g.d.Open + "/" + name + g.d.Close)
			times := 1
			switch x := v.(type) {
			case bool:
				times = map[bool]int{true: 1, false: 0}[x]
			case []any:
				times = len(x)
			}
			if inverted {
				times = map[bool]int{true: 1, false: 0}[times == 0]
			}
			want.WriteString(strings.Repeat(inner+"x", times))
		case 5: // end of the current section
			if g.depth > 0 {
				return want.String()
			}
		case 6: // comment
			g.b.WriteString("x" + g.d.Open + "!" + g.text() + g.d.Close)
			want.WriteString("x")
		case 7: // set delimiters
			nd := Delims{Open: "<%", Close: "%>"}
			if g.d == nd {
				nd = DollarDelims
			}
			g.b.WriteString("x" + g.d.Open + "=" + nd.Open + " " + nd.Close + "=" + g.d.Close)
			want.WriteString("x")
			g.d = nd
		}
	}
	return want.String()
}

// FuzzRenderGeneratedTemplate renders well-formed templates built from the
// fuzzed program, with data holding every name they use: rendering never
// fails and gives what mustache gives; Variables lists exactly the
// variables outside sections.
func FuzzRenderGeneratedTemplate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 5, 'h', 'e', 'l', 'l', 'o', 2, 0, 0, 3, 1, 0})
	f.Add([]byte{3, 0, 2, 2, 1, 0, 0, 1, 2, 'a', 'b', 5, 4, 1, 0, 2, 3, 1, 1, 1, 5})
	f.Add([]byte{7, 2, 4, 1, 1, 1, 7, 3, 2, 1, 3, 2, 5, 6, 3, 'a', 'b', 'c', 2, 6, 2, 0, 0})
	f.Add([]byte("\x03\x01\x02\x02\x03\x01\x00\x02\x05\x00\x05\x00\x03\x00\x04\x04\x03\x02\x06\x00\x05\x05"))
	f.Add(bytes.Repeat([]byte{3, 0, 3, 2}, 64)) // nested lists: output doubles per level without a depth cap
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 4<<10 {
			t.Skip()
		}
		d := DollarDelims
		if len(prog) > 0 && prog[0]&0x80 != 0 {
			d = MustacheDelims
		}
		g := &genState{prog: prog, d: d, data: map[string]any{}}
		var want strings.Builder
		for !g.done() {
			want.WriteString(g.block()) // a stray close op ends nothing at the top
		}
		text := g.b.String()
		tmpl, err := ParseTemplate(text, d)
		if err != nil {
			t.Fatalf("well-formed template %q: %v", text, err)
		}
		got, err := tmpl.Render(g.data)
		if err != nil {
			t.Fatalf("render %q with every name set (%v): %v", text, g.data, err)
		}
		if got != want.String() {
			t.Fatalf("render %q with %v:\ngot  %q\nwant %q", text, g.data, got, want.String())
		}
		if vars := tmpl.Variables(); !slices.Equal(vars, g.vars) {
			t.Fatalf("Variables of %q = %q, want %q", text, vars, g.vars)
		}
	})
}
