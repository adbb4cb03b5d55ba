package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SupportedSchemaVersions lists the porter.yaml schemaVersion values accepted
// (Porter's constraint 1.0.0-alpha.1 || 1.0.0 - 1.0.1; 1.0.0-alpha.1 uses
// {{ }} templates, which this renderer does not offer, so it is refused).
var SupportedSchemaVersions = []string{"1.0.0", "1.0.1"}

// Built-in CNAB actions every manifest may declare.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionUninstall = "uninstall"
)

// Manifest is a parsed porter.yaml.
type Manifest struct {
	SchemaType    string
	SchemaVersion string
	Name          string
	Version       string
	Description   string
	Registry      string
	Reference     string
	// Mixins names the declared mixins in order; MixinConfig holds the config
	// of those declared as "- name: {config}".
	Mixins      []string
	MixinConfig map[string]any
	Parameters  []Parameter
	Outputs     []Output
	Credentials []Credential
	// Images maps an alias to its reference fields (repository, tag, digest, ...).
	Images map[string]map[string]any
	// Required lists the required extensions by their manifest key (docker).
	Required []string
	// Custom is the manifest's custom section, copied into bundle.json.
	Custom map[string]any
	// Actions maps every action (install, upgrade, uninstall, custom ones) to its steps.
	Actions map[string][]Step
	// Raw is the file as read.
	Raw []byte
}

// Step is one step of an action: exactly one mixin and the mixin's fields.
type Step struct {
	Mixin string
	// Data holds the mixin's fields, description included, as decoded YAML.
	Data map[string]any
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
	// Schema holds the JSON-schema keywords (type, default, minimum, ...).
	Schema map[string]any
}

// Type returns the parameter's JSON type (Porter's default: file when a path
// is set, string otherwise).
func (p Parameter) Type() string {
	if t, ok := p.Schema["type"].(string); ok {
		return t
	}
	if p.Path != "" {
		return "file"
	}
	return "string"
}

// Default returns the default value and whether one is set.
func (p Parameter) Default() (any, bool) {
	v, ok := p.Schema["default"]
	return v, ok
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
	Path        string
	Sensitive   bool
	ApplyTo     []string
	Schema      map[string]any
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
	Required    bool
	ApplyTo     []string
}

// EnvVarName turns a parameter name into Porter's default variable name.
func EnvVarName(name string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
}

// reservedActions cannot be custom actions: Porter would send them to the
// mixin as its own commands.
var reservedActions = []string{"build", "lint", "schema", "version"}

var knownTopLevel = map[string]bool{
	"schemaType": true, "schemaVersion": true, "name": true, "version": true, "description": true,
	"maintainers": true, "registry": true, "reference": true, "mixins": true, "parameters": true,
	"credentials": true, "outputs": true, "images": true, "required": true, "custom": true,
	"customActions": true, "state": true, "dockerfile": true, "install": true, "upgrade": true,
	"uninstall": true, "invocationImage": true, "tag": true, "dependencies": true,
}

// Parse reads a porter.yaml. It returns an error naming the field and line
// for anything it cannot accept.
func Parse(data []byte) (*Manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("porter.yaml: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("porter.yaml: the document must be a mapping")
	}
	root := doc.Content[0]
	m := &Manifest{Actions: map[string][]Step{}, Raw: data, MixinConfig: map[string]any{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		var err error
		switch key {
		case "schemaType":
			err = val.Decode(&m.SchemaType)
		case "schemaVersion":
			err = val.Decode(&m.SchemaVersion)
		case "name":
			err = val.Decode(&m.Name)
		case "version":
			err = val.Decode(&m.Version)
		case "description":
			err = val.Decode(&m.Description)
		case "registry":
			err = val.Decode(&m.Registry)
		case "reference":
			err = val.Decode(&m.Reference)
		case "mixins":
			err = m.decodeMixins(val)
		case "parameters":
			err = m.decodeParameters(val)
		case "outputs":
			err = m.decodeOutputs(val)
		case "credentials":
			err = decodeCredentials(val, m)
		case "images":
			err = val.Decode(&m.Images)
		case "required":
			err = m.decodeRequired(val)
		case "custom":
			err = val.Decode(&m.Custom)
		case "dependencies":
			err = errors.New("dependencies are not supported yet")
		case "install", "upgrade", "uninstall":
			m.Actions[key], err = decodeSteps(val)
		default:
			if knownTopLevel[key] {
				continue
			}
			if val.Kind != yaml.SequenceNode {
				err = fmt.Errorf("unknown field (a custom action must be a list of steps)")
				break
			}
			if slices.Contains(reservedActions, key) {
				err = fmt.Errorf("custom action %q is reserved by Porter", key)
				break
			}
			m.Actions[key], err = decodeSteps(val)
		}
		if err != nil {
			return nil, fmt.Errorf("porter.yaml line %d: %s: %w", root.Content[i].Line, key, err)
		}
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("porter.yaml: %w", err)
	}
	return m, nil
}

func (m *Manifest) validate() error {
	switch {
	case m.SchemaVersion == "":
		return errors.New("schemaVersion is required")
	case !slices.Contains(SupportedSchemaVersions, m.SchemaVersion):
		return fmt.Errorf("schemaVersion %q is not supported (supported: %s)", m.SchemaVersion, strings.Join(SupportedSchemaVersions, ", "))
	case m.SchemaType != "" && !strings.EqualFold(m.SchemaType, "Bundle"):
		return fmt.Errorf("schemaType %q is not supported (only Bundle)", m.SchemaType)
	case m.Name == "":
		return errors.New("name is required")
	case m.Version == "":
		return errors.New("version is required")
	case len(m.Mixins) == 0:
		return errors.New("mixins: at least one mixin is required")
	case m.Actions[ActionInstall] == nil:
		return errors.New("install is required")
	case m.Actions[ActionUninstall] == nil:
		return errors.New("uninstall is required")
	}
	m.Version = strings.TrimPrefix(m.Version, "v")
	for action, steps := range m.Actions {
		for i, s := range steps {
			if !slices.Contains(m.Mixins, s.Mixin) {
				return fmt.Errorf("%s step %d uses mixin %q, which is not declared in mixins", action, i+1, s.Mixin)
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range m.Parameters {
		if p.Name == "" {
			return errors.New("parameters: an entry has no name")
		}
		if seen[p.Name] {
			return fmt.Errorf("parameters: %q is declared twice", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
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

// Parameter returns the parameter called name.
func (m *Manifest) Parameter(name string) (Parameter, bool) {
	for _, p := range m.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

func (m *Manifest) decodeMixins(val *yaml.Node) error {
	if val.Kind != yaml.SequenceNode {
		return errors.New("must be a list")
	}
	for _, item := range val.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			name, _, _ := strings.Cut(item.Value, "@")
			m.Mixins = append(m.Mixins, name)
		case yaml.MappingNode:
			if len(item.Content) != 2 {
				return fmt.Errorf("line %d: a mixin entry has exactly one key", item.Line)
			}
			name, _, _ := strings.Cut(item.Content[0].Value, "@")
			var cfg any
			if err := item.Content[1].Decode(&cfg); err != nil {
				return err
			}
			m.Mixins = append(m.Mixins, name)
			m.MixinConfig[name] = cfg
		default:
			return fmt.Errorf("line %d: a mixin entry is a name or a one-key map", item.Line)
		}
	}
	return nil
}

func (m *Manifest) decodeRequired(val *yaml.Node) error {
	var items []any
	if err := val.Decode(&items); err != nil {
		return err
	}
	for _, it := range items {
		name := ""
		switch v := it.(type) {
		case string:
			name = v
		case map[string]any:
			for k := range v {
				name = k
			}
		}
		if name != "docker" {
			return fmt.Errorf("required extension %q is not supported (only docker)", name)
		}
		m.Required = append(m.Required, name)
	}
	return nil
}

// decodeEntries decodes a list of maps.
func decodeEntries(val *yaml.Node) ([]map[string]any, error) {
	if val.Kind != yaml.SequenceNode {
		return nil, errors.New("must be a list")
	}
	var out []map[string]any
	for _, item := range val.Content {
		var e map[string]any
		if err := item.Decode(&e); err != nil {
			return nil, fmt.Errorf("line %d: %w", item.Line, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func str(e map[string]any, key string) (string, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", key)
	}
	return s, nil
}

func strList(e map[string]any, key string) ([]string, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of strings", key)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Manifest) decodeParameters(val *yaml.Node) error {
	entries, err := decodeEntries(val)
	if err != nil {
		return err
	}
	for i, e := range entries {
		var p Parameter
		var errs []error
		var err error
		p.Name, err = str(e, "name")
		errs = append(errs, err)
		p.Description, err = str(e, "description")
		errs = append(errs, err)
		p.Env, err = str(e, "env")
		errs = append(errs, err)
		p.Path, err = str(e, "path")
		errs = append(errs, err)
		p.ApplyTo, err = strList(e, "applyTo")
		errs = append(errs, err)
		if s, ok := e["sensitive"]; ok {
			b, ok := s.(bool)
			if !ok {
				errs = append(errs, errors.New("sensitive must be a boolean"))
			}
			p.Sensitive = b
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("line %d: %w", val.Content[i].Line, err)
		}
		for _, k := range []string{"name", "description", "env", "path", "applyTo", "sensitive", "source"} {
			delete(e, k)
		}
		p.Schema = e
		m.Parameters = append(m.Parameters, p)
	}
	return nil
}

func (m *Manifest) decodeOutputs(val *yaml.Node) error {
	entries, err := decodeEntries(val)
	if err != nil {
		return err
	}
	for i, e := range entries {
		var o Output
		var errs []error
		var err error
		o.Name, err = str(e, "name")
		errs = append(errs, err)
		o.Description, err = str(e, "description")
		errs = append(errs, err)
		o.Path, err = str(e, "path")
		errs = append(errs, err)
		o.ApplyTo, err = strList(e, "applyTo")
		errs = append(errs, err)
		if s, ok := e["sensitive"]; ok {
			b, ok := s.(bool)
			if !ok {
				errs = append(errs, errors.New("sensitive must be a boolean"))
			}
			o.Sensitive = b
		}
		if o.Name == "" {
			errs = append(errs, errors.New("an output has no name"))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("line %d: %w", val.Content[i].Line, err)
		}
		for _, k := range []string{"name", "description", "path", "applyTo", "sensitive"} {
			delete(e, k)
		}
		o.Schema = e
		m.Outputs = append(m.Outputs, o)
	}
	return nil
}

func decodeCredentials(val *yaml.Node, m *Manifest) error {
	entries, err := decodeEntries(val)
	if err != nil {
		return err
	}
	for i, e := range entries {
		var c Credential
		var errs []error
		var err error
		c.Name, err = str(e, "name")
		errs = append(errs, err)
		c.Description, err = str(e, "description")
		errs = append(errs, err)
		c.Env, err = str(e, "env")
		errs = append(errs, err)
		c.Path, err = str(e, "path")
		errs = append(errs, err)
		c.ApplyTo, err = strList(e, "applyTo")
		errs = append(errs, err)
		c.Required = true
		if r, ok := e["required"].(bool); ok {
			c.Required = r
		}
		if c.Env == "" && c.Path == "" {
			errs = append(errs, fmt.Errorf("credential %q needs env or path", c.Name))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("line %d: %w", val.Content[i].Line, err)
		}
		m.Credentials = append(m.Credentials, c)
	}
	return nil
}

func decodeSteps(val *yaml.Node) ([]Step, error) {
	if val.Kind != yaml.SequenceNode {
		return nil, errors.New("must be a list of steps")
	}
	steps := []Step{}
	for _, item := range val.Content {
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			return nil, fmt.Errorf("line %d: a step is a map with exactly one key, the mixin", item.Line)
		}
		var data map[string]any
		if err := item.Content[1].Decode(&data); err != nil {
			return nil, fmt.Errorf("line %d: %w", item.Line, err)
		}
		if data == nil {
			data = map[string]any{}
		}
		if d, ok := data["description"]; ok {
			if _, ok := d.(string); !ok {
				return nil, fmt.Errorf("line %d: step description must be a string", item.Line)
			}
		}
		steps = append(steps, Step{Mixin: item.Content[0].Value, Data: data})
	}
	return steps, nil
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
