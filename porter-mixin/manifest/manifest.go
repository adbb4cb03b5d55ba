package manifest

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SupportedSchemaVersions lists the porter.yaml schemaVersion values
// accepted: Porter's constraint 1.0.0-alpha.1 || 1.0.0 - 1.0.1. Manifests
// of 1.0.0-alpha.1 write templates with mustache's {{ }} delimiters, later
// ones with ${ }.
var SupportedSchemaVersions = []string{"1.0.0-alpha.1", "1.0.0", "1.0.1"}

// SchemaVersionAlpha1 is the one schema version whose templates use {{ }}.
const SchemaVersionAlpha1 = "1.0.0-alpha.1"

// Built-in CNAB actions every manifest may declare.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionUninstall = "uninstall"
)

// ParameterTypes are the parameter and output types Porter accepts; file is
// Porter's own and becomes a base64 string in bundle.json.
var ParameterTypes = []string{"string", "integer", "number", "boolean", "object", "array", "file"}

// ReservedActions cannot be custom actions: Porter would send them to the
// mixin as its own commands (build, lint, schema, version).
var ReservedActions = []string{"build", "lint", "schema", "version"}

// Manifest is a parsed porter.yaml (getporter/porter pkg/manifest, schema
// versions 1.0.0-alpha.1 to 1.0.1). Parse fills every field; a Manifest
// is not modified afterwards and is safe for concurrent reads.
type Manifest struct {
	SchemaType    string
	SchemaVersion string
	Name          string
	// Version is the bundle version as Porter normalizes it: semver without
	// a leading v, missing minor and patch filled in (1.2 → 1.2.0).
	Version     string
	Description string
	Maintainers []Maintainer
	Registry    string
	Reference   string
	// Mixins names the declared mixins in order. MixinConfig holds the config
	// of those declared as "- name: {config}"; MixinConstraints the version
	// constraint of those declared as "- name@constraint".
	Mixins           []string
	MixinConfig      map[string]any
	MixinConstraints map[string]string
	Parameters       []Parameter
	Outputs          []Output
	Credentials      []Credential
	// State lists the state variables carried between runs in porter-state.
	State []StateVar
	// Images maps an alias to an image the bundle uses.
	Images map[string]Image
	// Required lists the required extensions by their manifest key (only
	// docker is accepted); RequiredConfig holds the config given as
	// "- docker: {privileged: true}".
	Required       []string
	RequiredConfig map[string]map[string]any
	// Custom is the manifest's custom section with JSON-compatible values
	// (map keys are strings), copied into bundle.json.
	Custom map[string]any
	// CustomActions holds the customActions metadata by action name.
	CustomActions map[string]CustomAction
	// Actions maps every action (install, upgrade, uninstall, custom ones) to
	// its steps.
	Actions map[string][]Step
	// Dockerfile is the dockerfile field, which StackHub ignores.
	Dockerfile string
	// TemplateVariables are the variables of the ${ } tags outside sections
	// anywhere in the file, in order, as Porter's build scans them.
	TemplateVariables []string
	// Warnings are the warning-level findings of Parse.
	Warnings []Finding
	// Raw is the file as read.
	Raw []byte
}

// Maintainer is one entry of maintainers.
type Maintainer struct {
	Name, Email, URL string
}

// CustomAction is one entry of customActions: the bundle.json action
// metadata of a custom action.
type CustomAction struct {
	Description string
	// Modifies says the action changes the installation's resources.
	Modifies bool
	// Stateless says the action needs no installation or credentials.
	Stateless bool
}

// Step is one step of an action: exactly one mixin and the mixin's fields.
type Step struct {
	Mixin string
	// Data holds the mixin's fields, description included, as decoded YAML.
	Data map[string]any
	// Line is the step's line in porter.yaml; 0 for a step built in code.
	Line int

	// node is the step's fields as written, rendered by RenderStep.
	node *yaml.Node
}

// Description returns the step's description, or "".
func (s Step) Description() string {
	d, _ := s.Data["description"].(string)
	return d
}

// Parameter is one entry of the parameters section.
type Parameter struct {
	Name        string
	Description string
	Env         string
	Path        string
	Sensitive   bool
	ApplyTo     []string
	// Source names the output whose last value the parameter takes.
	Source ParameterSource
	// Schema holds the JSON-schema keywords (type, default, minimum, ...).
	Schema map[string]any
	// Line is the entry's line in porter.yaml.
	Line int
}

// ParameterSource is a parameter's source section.
type ParameterSource struct {
	// Output is an output of this bundle.
	Output string
	// Dependency is always "": dependencies are refused.
	Dependency string
}

// Type returns the parameter's type (Porter's default: file when a path is
// set, string otherwise).
func (p Parameter) Type() string {
	return schemaType(p.Schema, p.Path)
}

func schemaType(schema map[string]any, path string) string {
	if t, ok := schema["type"].(string); ok {
		return t
	}
	if path != "" {
		return "file"
	}
	return "string"
}

// Default returns the default value and whether one is set; a null
// default is no default.
func (p Parameter) Default() (any, bool) {
	v, ok := p.Schema["default"]
	return v, ok && v != nil
}

// EnvName returns the environment variable the parameter is delivered in:
// env when set, else UPPER(name) with '-' and '.' as '_' (Porter's rule),
// or "" for a path-only parameter.
func (p Parameter) EnvName() string {
	if p.Env != "" {
		return p.Env
	}
	if p.Path != "" {
		return ""
	}
	return EnvVarName(p.Name)
}

// AppliesTo reports whether the parameter applies to action.
func (p Parameter) AppliesTo(action string) bool {
	return len(p.ApplyTo) == 0 || slices.Contains(p.ApplyTo, action)
}

// IntBound returns the integer value of the JSON-schema keyword key, if set.
func (p Parameter) IntBound(key string) (int, bool) {
	switch v := p.Schema[key].(type) {
	case int:
		return v, true
	case float64:
		return int(v), true
	}
	return 0, false
}

// Output is one entry of the outputs section.
type Output struct {
	Name        string
	Description string
	// Path is a file in the image copied to the output at the end of the
	// action when no step produced it.
	Path      string
	Sensitive bool
	ApplyTo   []string
	// Schema holds the JSON-schema keywords (type, default, ...).
	Schema map[string]any
	Line   int
}

// Type returns the output's type (file when a path is set, else string).
func (o Output) Type() string {
	return schemaType(o.Schema, o.Path)
}

// Default returns the default value and whether one is set.
func (o Output) Default() (any, bool) {
	v, ok := o.Schema["default"]
	return v, ok && v != nil
}

// AppliesTo reports whether the output applies to action.
func (o Output) AppliesTo(action string) bool {
	return len(o.ApplyTo) == 0 || slices.Contains(o.ApplyTo, action)
}

// Credential is one entry of the credentials section.
type Credential struct {
	Name        string
	Description string
	Env         string
	Path        string
	// Required defaults to true, as in Porter.
	Required bool
	ApplyTo  []string
	Line     int
}

// AppliesTo reports whether the credential applies to action.
func (c Credential) AppliesTo(action string) bool {
	return len(c.ApplyTo) == 0 || slices.Contains(c.ApplyTo, action)
}

// StateVar is one entry of the state section: a file kept between runs in
// the porter-state output.
type StateVar struct {
	Name string
	// Path is the file in the image, relative to /cnab/app unless absolute.
	Path        string
	Description string
	// Mixin is the mixin that manages the file, informational.
	Mixin string
	Line  int
}

// Image is one entry of the images section.
type Image struct {
	Repository  string
	Digest      string
	Tag         string
	ImageType   string
	Description string
	Size        uint64
	MediaType   string
	Labels      map[string]string
	Line        int
}

// Reference returns the image as bundle.json's images entry names it:
// repository@digest, else repository:tag, else repository:latest.
func (i Image) Reference() string {
	switch {
	case i.Digest != "":
		return i.Repository + "@" + i.Digest
	case i.Tag != "":
		return i.Repository + ":" + i.Tag
	}
	return i.Repository + ":latest"
}

// EnvVarName turns a parameter name into Porter's default variable name.
func EnvVarName(name string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
}

// Parse reads a porter.yaml. It reports every problem at once: the error
// is a *ParseError holding each error-level finding with its line and
// field. Warnings (ignored or deprecated fields, outputs that every action
// must produce) do not fail Parse and are kept in Manifest.Warnings.
func Parse(data []byte) (*Manifest, error) {
	return parse(data, nil)
}

// ParseForRun is Parse for the bundle runtime in an invocation image. It
// accepts what Porter's runtime accepts until the step it cannot render:
// an alias to another step's anchor (CodeCrossStepAlias) is no error here,
// and the step holding it fails when it is rendered, as under Porter,
// while the other actions run.
func ParseForRun(data []byte) (*Manifest, error) {
	return parse(data, func(f Finding) bool { return f.Code == CodeCrossStepAlias })
}

func parse(data []byte, allow func(Finding) bool) (*Manifest, error) {
	m, findings := Lint(data)
	var errs []Finding
	for _, f := range findings {
		if f.Level == LevelError && allow != nil && allow(f) {
			continue
		}
		if f.Level == LevelError {
			errs = append(errs, f)
		} else if m != nil {
			m.Warnings = append(m.Warnings, f)
		}
	}
	if len(errs) > 0 {
		return nil, &ParseError{Findings: errs}
	}
	return m, nil
}

// Lint parses a porter.yaml and returns the manifest with every finding,
// errors and warnings, in file order. The manifest is nil when the file is
// not a YAML mapping; otherwise it holds what could be read, which is not
// fit to build or run when a finding is an error.
func Lint(data []byte) (*Manifest, []Finding) {
	d := &decoder{}
	m := d.document(data)
	if m != nil {
		d.check(m)
	}
	sort.SliceStable(d.findings, func(i, j int) bool { return d.findings[i].Line < d.findings[j].Line })
	return m, d.findings
}

// Delims returns the template delimiters of the manifest's schema
// version: {{ }} for 1.0.0-alpha.1, ${ } otherwise.
func (m *Manifest) Delims() Delims {
	if m.SchemaVersion == SchemaVersionAlpha1 {
		return MustacheDelims
	}
	return DollarDelims
}

// ActionNames returns the declared actions, sorted.
func (m *Manifest) ActionNames() []string {
	names := make([]string, 0, len(m.Actions))
	for a := range m.Actions {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// CustomActionNames returns the declared actions other than install,
// upgrade and uninstall, sorted.
func (m *Manifest) CustomActionNames() []string {
	var names []string
	for _, a := range m.ActionNames() {
		if !isBuiltinAction(a) {
			names = append(names, a)
		}
	}
	return names
}

func isBuiltinAction(a string) bool {
	return a == ActionInstall || a == ActionUpgrade || a == ActionUninstall
}

// Parameter returns the parameter called name.
func (m *Manifest) Parameter(name string) (Parameter, bool) {
	for _, p := range m.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

// Output returns the output called name.
func (m *Manifest) Output(name string) (Output, bool) {
	for _, o := range m.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Output{}, false
}

// MarshalStep encodes one step as Porter's runtime sends it to a mixin:
// {<action>: [{<mixin>: {...}}]}.
func MarshalStep(action string, s Step) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{action: []any{map[string]any{s.Mixin: s.Data}}}); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
