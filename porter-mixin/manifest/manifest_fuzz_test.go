package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// maxFuzzManifest bounds the fuzzed porter.yaml: real ones are a few KiB.
const maxFuzzManifest = 64 << 10

// addManifestSeeds adds every porter.yaml of the repository (bundles/ and
// the testdata of the porter-mixin packages) to f's seed corpus.
func addManifestSeeds(f *testing.F) {
	f.Helper()
	n := 0
	for _, root := range []string{"../../bundles", "testdata", "../bundlerun/testdata"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(d.Name() == "porter.yaml" || strings.HasSuffix(d.Name(), ".porter.yaml")) {
				return nil
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(raw)
			n++
			return nil
		})
		if err != nil {
			f.Fatalf("seed corpus: %v", err)
		}
	}
	if n < 10 {
		f.Fatalf("seed corpus: found only %d porter.yaml files", n)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "backup:\n  - websoft9: &step\n      description: shared\n      app: ${ installation.name }\n  - websoft9:\n      <<: *step\n      description: second\n"))
	f.Add([]byte(minimal + "images:\n  web: {repository: nginx, tag: \"1.27\", digest: \"sha256:abc\"}\nparameters:\n  - {name: p, type: integer, default: 1, minimum: 0}\n"))
	f.Add([]byte("schemaVersion: 1.0.0-alpha.1\nname: x\nversion: 1\nregistry: r\nmixins: [exec]\ninstall:\n  - exec: {description: \"{{ installation.name }}\"}\nuninstall:\n  - exec: {}\n"))
	f.Add(aliasBomb(3))
	f.Add(aliasBomb(7)) // took minutes before steps stopped expanding undecodable fields
}

// aliasBomb returns a porter.yaml of a few hundred bytes whose install step
// expands, through nested aliases, to 10^(depth+1) scalars.
func aliasBomb(depth int) []byte {
	var b strings.Builder
	b.WriteString(minimal + "upgrade:\n  - websoft9:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "      a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

// documentMessages start the messages of findings about the document as a
// whole, the only ones without a field.
var documentMessages = []string{"invalid YAML", "the document must be a mapping", "template:", "keys must be strings", "a << merge key needs a mapping"}

// strictSemver is the normalized version Parse must store: X.Y.Z with an
// optional pre-release and build.
var strictSemver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// FuzzParseManifest feeds arbitrary porter.yaml to Lint and Parse. Whatever
// the input: no panic; every finding is located (a line within the file, a
// field unless it is about the document) and has a level and a message;
// Parse agrees with Lint (which runs again inside it, so findings must
// also come out the same each time); each step round-trips
// through MarshalStep and, when it holds no template tag, through
// RenderStep; an accepted manifest holds what the builder and the runtime
// rely on.
func FuzzParseManifest(f *testing.F) {
	addManifestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzManifest {
			t.Skip()
		}
		m, findings := Lint(data)
		checkFindings(t, data, findings)

		parsed, err := Parse(data)
		var errs, warns []Finding
		for _, f := range findings {
			if f.Level == LevelError {
				errs = append(errs, f)
			} else {
				warns = append(warns, f)
			}
		}
		switch {
		case len(errs) > 0:
			pe, ok := errors.AsType[*ParseError](err)
			if !ok || parsed != nil {
				t.Fatalf("Lint found errors %s, but Parse returned (%v, %v)", short(errs), parsed != nil, err)
			}
			if !reflect.DeepEqual(pe.Findings, errs) {
				t.Fatalf("Parse error findings %s, want Lint's errors %s", short(pe.Findings), short(errs))
			}
			if strings.TrimSpace(pe.Error()) == "" {
				t.Fatalf("Parse error has an empty message")
			}
		case err != nil || parsed == nil:
			t.Fatalf("Lint found no error, but Parse returned (%v, %v)", parsed != nil, err)
		default:
			if !reflect.DeepEqual(parsed.Warnings, warns) {
				t.Fatalf("Parse warnings %s, want Lint's warnings %s", short(parsed.Warnings), short(warns))
			}
			checkAccepted(t, parsed)
		}

		if m != nil {
			checkStepRoundTrips(t, m, findings)
		}
	})
}

// yamlLines is the number of lines of data as YAML counts them (\n, \r\n,
// \r and the Unicode line breaks), plus one for a final unterminated line.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	n := 1
	for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += strings.Count(s, br)
	}
	return n
}

func checkFindings(t *testing.T, data []byte, findings []Finding) {
	t.Helper()
	maxLine := yamlLines(data) + 1 // a parser may point just past the end
	for _, f := range findings {
		if f.Level != LevelError && f.Level != LevelWarning {
			t.Fatalf("finding %q has level %q", f, f.Level)
		}
		if f.Line < 0 || f.Line > maxLine || f.Column < 0 {
			t.Fatalf("finding %q at line %d column %d, outside a file of %d lines", f, f.Line, f.Column, maxLine-1)
		}
		if strings.TrimSpace(f.Message) == "" {
			t.Fatalf("finding at line %d, field %q has no message", f.Line, f.Field)
		}
		if f.Field == "" && !slices.ContainsFunc(documentMessages, func(p string) bool { return strings.HasPrefix(f.Message, p) }) {
			t.Fatalf("finding %q (line %d) names no field", f, f.Line)
		}
	}
}

// checkAccepted checks what a manifest Parse accepted promises.
func checkAccepted(t *testing.T, m *Manifest) {
	t.Helper()
	if !slices.Contains(SupportedSchemaVersions, m.SchemaVersion) {
		t.Fatalf("accepted schemaVersion %q", m.SchemaVersion)
	}
	if m.Name == "" {
		t.Fatalf("accepted a manifest without a name")
	}
	if !strictSemver.MatchString(m.Version) {
		t.Fatalf("accepted version is stored as %q, not X.Y.Z", m.Version)
	}
	if m.Registry == "" && m.Reference == "" || strings.Contains(m.Reference, "@") {
		t.Fatalf("accepted registry %q, reference %q", m.Registry, m.Reference)
	}
	if len(m.Mixins) == 0 {
		t.Fatalf("accepted a manifest without mixins")
	}
	for i, mx := range m.Mixins {
		if mx == "" || slices.Contains(m.Mixins[:i], mx) {
			t.Fatalf("accepted mixins %q", m.Mixins)
		}
	}
	for _, a := range []string{ActionInstall, ActionUninstall} {
		if m.Actions[a] == nil {
			t.Fatalf("accepted a manifest without %s", a)
		}
	}
	for action, steps := range m.Actions {
		for i, s := range steps {
			if !slices.Contains(m.Mixins, s.Mixin) || s.Line <= 0 || s.Data == nil {
				t.Fatalf("accepted %s[%d]: mixin %q (declared %q), line %d, data %v", action, i, s.Mixin, m.Mixins, s.Line, s.Data)
			}
		}
	}
	names := map[string]bool{}
	for _, p := range m.Parameters {
		if p.Name == "" || names[p.Name] || reservedName(p.Name) {
			t.Fatalf("accepted parameter name %q (twice: %t)", p.Name, names[p.Name])
		}
		names[p.Name] = true
		if p.Type() == "file" && p.Path == "" {
			t.Fatalf("accepted file parameter %q without a path", p.Name)
		}
		if def, ok := p.Default(); ok && !typeMatches(p.Type(), def) {
			t.Fatalf("accepted parameter %q of type %s with default %#v", p.Name, p.Type(), def)
		}
	}
	outputs := map[string]bool{}
	for _, o := range m.Outputs {
		if o.Name == "" || outputs[o.Name] || reservedName(o.Name) {
			t.Fatalf("accepted output name %q (twice: %t)", o.Name, outputs[o.Name])
		}
		outputs[o.Name] = true
	}
	for alias, img := range m.Images {
		ref, err := ParseImageReference(img.Reference())
		if err != nil {
			t.Fatalf("accepted image %s: its reference %q does not parse: %v", alias, img.Reference(), err)
		}
		wantTag := img.Tag
		switch {
		case img.Digest != "":
			wantTag = ""
		case img.Tag == "":
			wantTag = "latest"
		}
		if ref.Tag != wantTag || ref.Digest != img.Digest {
			t.Fatalf("accepted image %s (tag %q, digest %q): its reference %q reads back as %+v", alias, img.Tag, img.Digest, img.Reference(), ref)
		}
	}
}

// stepCodes returns the codes of the findings about the step at field.
func stepCodes(findings []Finding, field string) map[string]bool {
	codes := map[string]bool{}
	for _, f := range findings {
		if f.Code != "" && (f.Field == field || strings.HasPrefix(f.Field, field+".")) {
			codes[f.Code] = true
		}
	}
	return codes
}

// checkStepRoundTrips checks that each step's fields survive MarshalStep
// (what the runtime sends a mixin) and, when the step holds no template
// tag, RenderStep (which encodes the step as written and parses it again).
func checkStepRoundTrips(t *testing.T, m *Manifest, findings []Finding) {
	t.Helper()
	for _, action := range m.ActionNames() {
		for i, s := range m.Actions[action] {
			out, err := MarshalStep(action, s)
			if err != nil {
				t.Fatalf("MarshalStep %s[%d]: %v", action, i, err)
			}
			var back map[string][]map[string]any
			if err := yaml.Unmarshal(out, &back); err != nil {
				t.Fatalf("MarshalStep %s[%d] wrote YAML that does not parse: %v\n%s", action, i, err, short(string(out)))
			}
			if len(back[action]) != 1 {
				t.Fatalf("MarshalStep %s[%d] wrote %d steps:\n%s", action, i, len(back[action]), short(string(out)))
			}
			if got := JSONValue(back[action][0][s.Mixin]); !sameValue(got, s.Data) {
				t.Fatalf("MarshalStep %s[%d] round trip:\ngot  %s\nwant %s", action, i, short(got), short(s.Data))
			}

			text, err := s.template()
			if err != nil {
				t.Fatalf("encode %s[%d]: %v", action, i, err)
			}
			if strings.Contains(text, m.Delims().Open) {
				continue
			}
			// Porter's runtime renders the step alone: a step whose alias
			// names another step's anchor must fail as it does there, and
			// one that reads back changed was warned about.
			codes := stepCodes(findings, index(action, i))
			got, err := m.RenderStep(s, map[string]any{})
			if codes[CodeCrossStepAlias] {
				if err == nil || !strings.Contains(err.Error(), "unknown anchor") {
					t.Fatalf("RenderStep %s[%d] has an alias to another step's anchor but rendered (err %v)\n%s", action, i, err, short(text))
				}
				continue
			}
			if codes[CodeStepReencoded] {
				continue
			}
			if err != nil {
				t.Fatalf("RenderStep %s[%d] without template tags: %v\n%s", action, i, err, short(text))
			}
			if !sameValue(JSONValue(got.Data), s.Data) {
				t.Fatalf("RenderStep %s[%d] changed a step without template tags:\ngot  %s\nwant %s\nstep as encoded:\n%s", action, i, short(got.Data), short(s.Data), short(text))
			}
		}
	}
}

// short formats v for a failure message, cut to 500 bytes.
func short(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprintf("%#v", v)
	}
	if len(s) > 500 {
		s = s[:500] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}
