package manifest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// check runs the checks that need the whole manifest: required fields,
// names, references between sections, and templates.
func (d *decoder) check(m *Manifest) {
	d.checkMetadata(m)
	d.checkSteps(m)
	d.checkParameters(m)
	d.checkOutputs(m)
	d.checkCredentials(m)
	d.checkState(m)
	d.checkCustomActions(m)
	d.checkStepsAlone(m)
	d.checkTemplates(m)
}

// repoPathRE is an OCI repository path (distribution/reference's grammar):
// components of lowercase letters and digits, joined by one '.', one or
// two '_' or any number of '-', separated by '/'.
var repoPathRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// semverRE is the loose semver Porter accepts for version (Masterminds
// semver NewVersion): an optional v, minor and patch may be left out.
var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// normalizeVersion returns version as Porter stores it, e.g. v1.2 → 1.2.0.
func normalizeVersion(v string) (string, bool) {
	sub := semverRE.FindStringSubmatch(v)
	if sub == nil {
		return "", false
	}
	for i := 2; i <= 3; i++ {
		if sub[i] == "" {
			sub[i] = "0"
		}
	}
	return sub[1] + "." + sub[2] + "." + sub[3] + sub[4] + sub[5], true
}

func (d *decoder) checkMetadata(m *Manifest) {
	line := func(key string) int { return d.lines[key] }
	switch {
	case m.SchemaVersion == "":
		d.errorAt(line("schemaVersion"), "schemaVersion", "is required (write schemaVersion: 1.0.1)")
	case !slices.Contains(SupportedSchemaVersions, m.SchemaVersion):
		hint := ""
		if strings.HasPrefix(m.SchemaVersion, "1.1.") || strings.HasPrefix(m.SchemaVersion, "1.2.") || strings.HasPrefix(m.SchemaVersion, "1.3.") {
			hint = "; it needs Porter's experimental features"
		}
		d.errorAt(line("schemaVersion"), "schemaVersion", "%q is not supported (supported: %s)%s", m.SchemaVersion, strings.Join(SupportedSchemaVersions, ", "), hint)
	}
	if m.SchemaType != "" && !strings.EqualFold(m.SchemaType, "Bundle") {
		d.errorAt(line("schemaType"), "schemaType", "%q is not supported (only Bundle)", m.SchemaType)
	}
	switch {
	case m.Name == "":
		d.errorAt(line("name"), "name", "is required")
	case m.Reference == "" && !repoPathRE.MatchString(m.Name):
		// Porter's build makes the reference <registry>/<name>:v<version>
		// and refuses one that does not parse (pkg/manifest SetDefaults).
		d.errorAt(line("name"), "name", "%q cannot name a repository: Porter makes the bundle reference <registry>/<name>:v<version> from it, and a repository name is lowercase letters and digits separated by '.', '_', '__' or '-'", m.Name)
	}
	if m.Version == "" {
		d.errorAt(line("version"), "version", "is required")
	} else if v, ok := normalizeVersion(m.Version); ok {
		m.Version = v
	} else {
		d.errorAt(line("version"), "version", "%q is not a semantic version such as 1.2.3", m.Version)
	}
	switch {
	case m.Registry == "" && m.Reference == "":
		d.errorAt(0, "registry", "registry or reference is required")
	case m.Registry != "" && m.Reference != "":
		d.warnAt(line("registry"), "registry", "both registry and reference are set; the reference %s wins", m.Reference)
	}
	if strings.Contains(m.Reference, "@") {
		d.errorAt(line("reference"), "reference", "%q: a bundle reference takes a tag, not a digest", m.Reference)
	}
	if len(m.Mixins) == 0 {
		d.errorAt(line("mixins"), "mixins", "at least one mixin is required")
	}
	for _, a := range []string{ActionInstall, ActionUninstall} {
		if m.Actions[a] == nil {
			d.errorAt(line(a), a, "%s is required", a)
		}
	}
}

func (d *decoder) checkSteps(m *Manifest) {
	for _, action := range m.ActionNames() {
		for i, s := range m.Actions[action] {
			if !slices.Contains(m.Mixins, s.Mixin) {
				d.errorAt(s.Line, index(action, i), "%s step %d uses mixin %q, which is not declared in mixins", action, i+1, s.Mixin)
			}
		}
	}
}

// checkApplyTo reports applyTo entries naming no action of the bundle.
func (d *decoder) checkApplyTo(m *Manifest, line int, field string, applyTo []string) {
	for _, a := range applyTo {
		if !isBuiltinAction(a) && m.Actions[a] == nil {
			d.errorAt(line, join(field, "applyTo"), "%q is not an action of this bundle", a)
		}
	}
}

func reservedName(name string) bool {
	return strings.HasPrefix(name, "porter-") || strings.HasPrefix(name, "porter_")
}

func (d *decoder) checkParameters(m *Manifest) {
	seen := map[string]bool{}
	for i, p := range m.Parameters {
		field := index("parameters", i)
		switch {
		case p.Name == "":
			d.errorAt(p.Line, join(field, "name"), "is required")
		case seen[p.Name]:
			d.errorAt(p.Line, join(field, "name"), "parameter %q is declared twice", p.Name)
		case reservedName(p.Name):
			d.errorAt(p.Line, join(field, "name"), "parameter %q: names starting with porter- or porter_ are reserved", p.Name)
		}
		seen[p.Name] = true
		d.checkApplyTo(m, p.Line, field, p.ApplyTo)
		if isUnderOutputs(p.Path) {
			d.errorAt(p.Line, join(field, "path"), "%q is under /cnab/app/outputs, which holds the bundle's outputs", p.Path)
		}
		t := p.Type()
		if t == "file" && p.Path == "" {
			d.errorAt(p.Line, join(field, "path"), "a file parameter needs a path")
		}
		if def, ok := p.Default(); ok {
			d.checkDefault(p.Line, field, t, def)
		}
		if p.Source.Output != "" {
			if _, ok := m.Output(p.Source.Output); !ok {
				d.errorAt(p.Line, join(field, "source.output"), "%q is not an output of this bundle", p.Source.Output)
			}
		}
	}
}

// isUnderOutputs reports whether a manifest path lands in /cnab/app/outputs.
func isUnderOutputs(p string) bool {
	if p == "" {
		return false
	}
	if !path.IsAbs(p) {
		p = path.Join("/cnab/app", p)
	}
	p = path.Clean(p)
	return p == "/cnab/app/outputs" || strings.HasPrefix(p, "/cnab/app/outputs/")
}

func (d *decoder) checkDefault(line int, field, t string, v any) {
	f := join(field, "default")
	if !typeMatches(t, v) {
		d.errorAt(line, f, "%s is not of type %s", describe(v), t)
		return
	}
	if s, ok := v.(string); ok && t == "file" && s != "" {
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			d.errorAt(line, f, "a file default must be '' or base64: %v", err)
		}
	}
}

func typeMatches(t string, v any) bool {
	switch t {
	case "string", "file":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		switch x := v.(type) {
		case int, int64, uint64:
			return true
		case float64:
			return x == math.Trunc(x)
		}
		return false
	case "number":
		switch v.(type) {
		case int, int64, uint64, float64:
			return true
		}
		return false
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return true
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func (d *decoder) checkOutputs(m *Manifest) {
	seen := map[string]bool{}
	for i, o := range m.Outputs {
		field := index("outputs", i)
		switch {
		case o.Name == "":
			d.errorAt(o.Line, join(field, "name"), "is required")
		case seen[o.Name]:
			d.errorAt(o.Line, join(field, "name"), "output %q is declared twice", o.Name)
		case reservedName(o.Name):
			d.errorAt(o.Line, join(field, "name"), "output %q: names starting with porter- or porter_ are reserved", o.Name)
		}
		seen[o.Name] = true
		d.checkApplyTo(m, o.Line, field, o.ApplyTo)
		t := o.Type()
		if t == "file" && o.Path == "" {
			d.errorAt(o.Line, join(field, "path"), "a file output needs a path")
		}
		def, hasDefault := o.Default()
		if hasDefault {
			d.checkDefault(o.Line, field, t, def)
		}
		if len(o.ApplyTo) == 0 && !hasDefault && o.Name != "" {
			d.warnAt(o.Line, field, "output %q has neither applyTo nor default: every action, uninstall included, must produce it or the run fails", o.Name)
		}
	}
}

func (d *decoder) checkCredentials(m *Manifest) {
	seen := map[string]bool{}
	for i, c := range m.Credentials {
		field := index("credentials", i)
		switch {
		case c.Name == "":
			d.errorAt(c.Line, join(field, "name"), "is required")
		case seen[c.Name]:
			d.errorAt(c.Line, join(field, "name"), "credential %q is declared twice", c.Name)
		}
		seen[c.Name] = true
		if c.Env == "" && c.Path == "" {
			d.errorAt(c.Line, field, "credential %q needs env or path", c.Name)
		}
		if isUnderOutputs(c.Path) {
			d.errorAt(c.Line, join(field, "path"), "%q is under /cnab/app/outputs, which holds the bundle's outputs", c.Path)
		}
		d.checkApplyTo(m, c.Line, field, c.ApplyTo)
	}
}

func (d *decoder) checkState(m *Manifest) {
	seen := map[string]bool{}
	for i, s := range m.State {
		field := index("state", i)
		switch {
		case s.Name == "":
			d.errorAt(s.Line, join(field, "name"), "is required")
		case seen[s.Name]:
			d.errorAt(s.Line, join(field, "name"), "state variable %q is declared twice", s.Name)
		case strings.ContainsAny(s.Name, `/\`):
			d.errorAt(s.Line, join(field, "name"), "state variable %q: a name cannot contain a slash", s.Name)
		}
		seen[s.Name] = true
		if s.Path == "" {
			d.errorAt(s.Line, join(field, "path"), "is required")
		}
		if s.Mixin != "" && !slices.Contains(m.Mixins, s.Mixin) {
			d.warnAt(s.Line, join(field, "mixin"), "mixin %q is not declared in mixins", s.Mixin)
		}
	}
}

func (d *decoder) checkCustomActions(m *Manifest) {
	for _, name := range sortedKeys(m.CustomActions) {
		field := join("customActions", name)
		switch {
		case slices.Contains(ReservedActions, name):
			d.errorAt(d.lines["customActions"], field, "custom action %q is reserved: Porter would run it as the mixin's own %q command", name, name)
		case isBuiltinAction(name):
			d.errorAt(d.lines["customActions"], field, "%q is a built-in action, not a custom one", name)
		case m.Actions[name] == nil:
			d.errorAt(d.lines["customActions"], field, "custom action %q has no steps (declare them as a top-level %s: list)", name, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkTemplates parses the whole file as Porter's build does (a template
// error anywhere fails `porter build`), records the variables used, and
// checks each step's variables against what the bundle declares: a
// variable without a value fails the step at run time.
func (d *decoder) checkTemplates(m *Manifest) {
	delims := m.Delims()
	t, err := ParseTemplate(string(m.Raw), delims)
	if err != nil {
		if se, ok := errors.AsType[*TemplateSyntaxError](err); ok {
			d.errorAt(se.Line, "", "template: %s", se.Message)
		} else {
			d.errorAt(0, "", "template: %v", err)
		}
		return
	}
	m.TemplateVariables = t.Variables()
	for _, action := range m.ActionNames() {
		for i, s := range m.Actions[action] {
			field := join(index(action, i), s.Mixin)
			text, err := s.template()
			if err != nil {
				d.errorAt(s.Line, field, "encode step: %v", err)
				continue
			}
			st, err := ParseTemplate(text, delims)
			if err != nil {
				d.errorAt(s.Line, field, "template: %v", err)
				continue
			}
			for _, name := range st.Variables() {
				if msg := checkVariable(m, action, name); msg != "" {
					d.errorAt(variableLine(s, name), field, "template variable %q: %s", name, msg)
				} else if msg := stackHubOnly(name); msg != "" {
					d.addCode(LevelWarning, variableLine(s, name), field, CodeStackHubOnly, "template variable %q: %s", name, msg)
				}
			}
		}
	}
}

// variableLine returns the line of the first scalar of the step that
// mentions the variable, or the step's line.
func variableLine(s Step, name string) int {
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n == nil {
			return 0
		}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, name) {
			return n.Line
		}
		for _, c := range n.Content {
			if l := find(c); l > 0 {
				return l
			}
		}
		return 0
	}
	if l := find(s.node); l > 0 {
		return l
	}
	return s.Line
}

// stackHubOnly says why a variable that StackHub's runtime fills has no
// usable value under Porter's, or "". Porter's runtime fills
// bundle.images.<a>.* with reflect's String of each field, which for size
// (uint64) and labels (a map) is a type name such as "<uint64 Value>".
func stackHubOnly(name string) string {
	rest, ok := strings.CutPrefix(name, "bundle.images.")
	if !ok {
		return ""
	}
	_, f, _ := strings.Cut(rest, ".")
	if f == "size" || f == "labels" || strings.HasPrefix(f, "labels.") {
		return "StackHub-only: Porter's runtime renders an image's size and labels as a Go type name (\"<uint64 Value>\"), not their values"
	}
	return ""
}

var imageFields = []string{"repository", "digest", "tag", "imageType", "mediaType", "description", "size", "labels"}

// checkVariable returns why the variable name has no value in a step of
// action, or "" when it has one (or can only be known at run time: step
// outputs and env).
func checkVariable(m *Manifest, action, name string) string {
	root, rest, _ := strings.Cut(name, ".")
	switch root {
	case ".", "env":
		return ""
	case "installation":
		if !slices.Contains([]string{"name", "namespace", "id"}, rest) {
			return "installation has name, namespace and id"
		}
		return ""
	case "bundle":
	default:
		return "not a template variable: templates read installation.*, bundle.* and env.* (keep shell or compose ${VAR} in bundle files, or write ${ env.VAR })"
	}
	sub, tail, _ := strings.Cut(rest, ".")
	switch sub {
	case "name", "version", "description", "installerImage":
		if tail != "" {
			return fmt.Sprintf("bundle.%s is a string", sub)
		}
	case "custom":
		if tail != "" {
			if _, ok := lookupPath(m.Custom, tail); !ok {
				return fmt.Sprintf("custom has no %s", tail)
			}
		}
	case "parameters":
		pname, ptail, _ := strings.Cut(tail, ".")
		p, ok := m.Parameter(pname)
		switch {
		case !ok:
			return fmt.Sprintf("no parameter %q is declared", pname)
		case !p.AppliesTo(action):
			return fmt.Sprintf("parameter %q does not apply to %s (applyTo: %s)", pname, action, strings.Join(p.ApplyTo, ", "))
		case ptail != "" && p.Type() != "object":
			return fmt.Sprintf("parameter %q is of type %s and has no fields", pname, p.Type())
		}
	case "credentials":
		cname, ctail, _ := strings.Cut(tail, ".")
		if !slices.ContainsFunc(m.Credentials, func(c Credential) bool { return c.Name == cname }) {
			return fmt.Sprintf("no credential %q is declared", cname)
		}
		if ctail != "" {
			return fmt.Sprintf("credential %q is a string", cname)
		}
	case "outputs":
		// Step outputs are known only at run time.
	case "images":
		alias, f, _ := strings.Cut(tail, ".")
		if _, ok := m.Images[alias]; !ok {
			return fmt.Sprintf("no image %q is declared", alias)
		}
		if f != "" && !slices.Contains(imageFields, f) && !strings.HasPrefix(f, "labels.") {
			return fmt.Sprintf("images have %s", strings.Join(imageFields, ", "))
		}
	case "dependencies":
		return "dependencies are not supported"
	default:
		return "bundle has name, version, description, installerImage, custom, parameters, credentials, outputs and images"
	}
	return ""
}
