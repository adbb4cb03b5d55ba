package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks porter.yaml's node tree, filling a Manifest and collecting
// a finding for each problem instead of stopping at the first.
type decoder struct {
	findings []Finding
	// lines maps each top-level key to its line.
	lines map[string]int
}

func (d *decoder) add(level Level, n *yaml.Node, field, format string, args ...any) {
	f := Finding{Level: level, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		f.Line, f.Column = n.Line, n.Column
	}
	d.findings = append(d.findings, f)
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.add(LevelError, n, field, format, args...)
}

func (d *decoder) warnf(n *yaml.Node, field, format string, args ...any) {
	d.add(LevelWarning, n, field, format, args...)
}

// errorAt records an error at a line known without a node.
func (d *decoder) errorAt(line int, field, format string, args ...any) {
	d.findings = append(d.findings, Finding{Level: LevelError, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnAt(line int, field, format string, args ...any) {
	d.findings = append(d.findings, Finding{Level: LevelWarning, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return "a string"
	}
	return "empty"
}

// pair is one key and value of a mapping node.
type pair struct {
	key string
	kn  *yaml.Node
	val *yaml.Node
}

// mapping returns the pairs of n, reporting a non-mapping and duplicate
// keys. "<<" merge keys are expanded; explicit keys win over merged ones.
func (d *decoder) mapping(n *yaml.Node, field string) ([]pair, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, field, "must be a mapping, not %s", kindName(n))
		}
		return nil, false
	}
	var pairs, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, val := n.Content[i], n.Content[i+1]
		if kn.Tag == "!!merge" {
			src := resolve(val)
			if src != nil && src.Kind == yaml.MappingNode {
				more, _ := d.mapping(src, field)
				merged = append(merged, more...)
				continue
			}
			d.errorf(kn, field, "a << merge key needs a mapping")
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			d.errorf(kn, field, "keys must be strings")
			continue
		}
		if seen[kn.Value] {
			d.errorf(kn, join(field, kn.Value), "duplicate key")
			continue
		}
		seen[kn.Value] = true
		pairs = append(pairs, pair{key: kn.Value, kn: kn, val: val})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			pairs = append(pairs, p)
		}
	}
	return pairs, true
}

// sequence returns the items of n; null is an empty list.
func (d *decoder) sequence(n *yaml.Node, field string) []*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "must be a list, not %s", kindName(n))
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		items[i] = resolve(it)
	}
	return items
}

func (d *decoder) str(n *yaml.Node, field string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "must be a string, not %s", kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n, field, "must be true or false, not %s", kindName(n))
		return false
	}
	return b
}

func (d *decoder) strList(n *yaml.Node, field string) []string {
	items := d.sequence(n, field)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if it.Kind != yaml.ScalarNode || isNull(it) {
			d.errorf(it, fmt.Sprintf("%s[%d]", field, i), "must be a string, not %s", kindName(it))
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

// value decodes any node into JSON-compatible values.
func (d *decoder) value(n *yaml.Node, field string) any {
	var v any
	if err := n.Decode(&v); err != nil {
		d.errorf(n, field, "%v", err)
		return nil
	}
	return JSONValue(v)
}

func join(field, key string) string {
	if key == "" {
		key = `""` // an empty key still names a field
	}
	if field == "" {
		return key
	}
	return field + "." + key
}

func index(field string, i int) string {
	return fmt.Sprintf("%s[%d]", field, i)
}

// yamlLine extracts the line from a yaml.v3 syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes the top level of porter.yaml.
func (d *decoder) document(data []byte) *Manifest {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if sub := yamlLine.FindStringSubmatch(err.Error()); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			d.errorAt(line, "", "invalid YAML: %s", sub[2])
		} else {
			d.errorAt(0, "", "invalid YAML: %v", err)
		}
		return nil
	}
	if len(doc.Content) == 0 || resolve(doc.Content[0]).Kind != yaml.MappingNode {
		d.errorAt(1, "", "the document must be a mapping")
		return nil
	}
	m := &Manifest{
		Raw:              data,
		Actions:          map[string][]Step{},
		MixinConfig:      map[string]any{},
		MixinConstraints: map[string]string{},
	}
	pairs, _ := d.mapping(doc.Content[0], "")
	d.lines = map[string]int{}
	for _, kv := range pairs {
		key, val := kv.key, kv.val
		d.lines[key] = kv.kn.Line
		switch key {
		case "schemaType":
			m.SchemaType = d.str(val, key)
		case "schemaVersion":
			m.SchemaVersion = d.str(val, key)
		case "name":
			m.Name = d.str(val, key)
		case "version":
			m.Version = d.str(val, key)
		case "description":
			m.Description = d.str(val, key)
		case "registry":
			m.Registry = d.str(val, key)
		case "reference":
			m.Reference = d.str(val, key)
		case "maintainers":
			d.maintainers(m, val)
		case "mixins":
			d.mixins(m, val)
		case "parameters":
			d.parameters(m, val)
		case "outputs":
			d.outputs(m, val)
		case "credentials":
			d.credentials(m, val)
		case "state":
			d.state(m, val)
		case "images":
			d.images(m, val)
		case "required":
			d.required(m, val)
		case "custom":
			if isNull(resolve(val)) {
				continue
			}
			if resolve(val).Kind != yaml.MappingNode {
				d.errorf(val, key, "must be a mapping, not %s", kindName(resolve(val)))
				continue
			}
			m.Custom, _ = d.value(val, key).(map[string]any)
		case "customActions":
			d.customActions(m, val)
		case "dependencies":
			d.dependencies(kv)
		case "dockerfile":
			m.Dockerfile = d.str(val, key)
			d.warnf(kv.kn, key, "ignored: StackHub builds invocation images FROM scratch, without a Dockerfile")
		case "files":
			d.errorf(kv.kn, key, "not supported: files needs schemaVersion 1.3.0 and Porter's file-sources feature")
		case "invocationImage", "tag":
			d.warnf(kv.kn, key, "deprecated and ignored, as Porter does")
		case ActionInstall, ActionUpgrade, ActionUninstall:
			if isNull(resolve(val)) {
				continue
			}
			m.Actions[key] = d.steps(val, key)
		default:
			n := resolve(val)
			switch {
			case n.Kind != yaml.SequenceNode:
				d.errorf(kv.kn, join("", key), "unknown field (a custom action must be a list of steps)")
			case slices.Contains(ReservedActions, key):
				d.errorf(kv.kn, key, "custom action %q is reserved: Porter would run it as the mixin's own %q command", key, key)
			default:
				m.Actions[key] = d.steps(val, key)
			}
		}
	}
	return m
}

func (d *decoder) maintainers(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "maintainers") {
		field := index("maintainers", i)
		pairs, ok := d.mapping(item, field)
		if !ok {
			continue
		}
		var mt Maintainer
		for _, kv := range pairs {
			f := join(field, kv.key)
			switch kv.key {
			case "name":
				mt.Name = d.str(kv.val, f)
			case "email":
				mt.Email = d.str(kv.val, f)
			case "url":
				mt.URL = d.str(kv.val, f)
			default:
				d.unknown(kv, field, "name, email, url")
			}
		}
		m.Maintainers = append(m.Maintainers, mt)
	}
}

func (d *decoder) unknown(kv pair, field, known string) {
	d.errorf(kv.kn, join(field, kv.key), "unknown field (known: %s)", known)
}

func (d *decoder) mixins(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "mixins") {
		field := index("mixins", i)
		var decl string
		var cfg any
		switch item.Kind {
		case yaml.ScalarNode:
			decl = item.Value
		case yaml.MappingNode:
			if len(item.Content) != 2 {
				d.errorf(item, field, "a mixin entry is a name or a mapping with exactly one key, the mixin's name")
				continue
			}
			decl = item.Content[0].Value
			if !isNull(resolve(item.Content[1])) {
				cfg = d.value(item.Content[1], join(field, decl))
			}
		default:
			d.errorf(item, field, "a mixin entry is a name or a mapping with exactly one key, the mixin's name")
			continue
		}
		name, constraint, hasConstraint := strings.Cut(decl, "@")
		switch {
		case name == "":
			d.errorf(item, field, "the mixin name is empty")
			continue
		case hasConstraint && strings.TrimSpace(constraint) == "":
			d.errorf(item, field, "mixin %q: the version constraint after @ is empty", name)
		case slices.Contains(m.Mixins, name):
			d.errorf(item, field, "mixin %q is declared twice", name)
			continue
		}
		m.Mixins = append(m.Mixins, name)
		if hasConstraint {
			m.MixinConstraints[name] = constraint
		}
		if cfg != nil {
			m.MixinConfig[name] = cfg
		}
	}
}

// schemaKeywords are the JSON-schema keywords a parameter or output may
// carry: the fields of cnab-go's definition.Schema, which bundle.json keeps.
var schemaKeywords = []string{
	"$comment", "$id", "$ref", "$schema", "additionalItems", "additionalProperties", "allOf", "anyOf",
	"const", "contains", "contentEncoding", "contentMediaType", "default", "definitions", "dependencies",
	"else", "enum", "examples", "exclusiveMaximum", "exclusiveMinimum", "format", "if", "items",
	"maxLength", "maximum", "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not",
	"oneOf", "pattern", "patternProperties", "properties", "propertyNames", "readOnly", "required",
	"then", "title", "type", "uniqueItems", "writeOnly",
}

// keyword decodes one JSON-schema keyword, checking the type of those with
// a fixed one. It reports a key that is no keyword as an unknown field.
func (d *decoder) keyword(kv pair, field, known string) (any, bool) {
	f := join(field, kv.key)
	n := resolve(kv.val)
	switch kv.key {
	case "maxItems", "maxProperties":
		d.errorf(kv.kn, f, "not supported: bundle.json definitions (cnab-go) cannot hold %s, so it would be dropped", kv.key)
		return nil, false
	case "persistent":
		d.errorf(kv.kn, f, "not supported: persistent needs schemaVersion 1.2.0 and Porter's persistent-parameters feature")
		return nil, false
	}
	if !slices.Contains(schemaKeywords, kv.key) {
		d.errorf(kv.kn, f, "unknown field (known: %s, or a JSON-schema keyword)", known)
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	var bad string
	switch kv.key {
	case "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf":
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" && n.Tag != "!!float" {
			bad = "a number"
		}
	case "maxLength", "minLength", "minItems", "minProperties":
		if v, err := strconv.Atoi(n.Value); n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 0 {
			bad = "a non-negative integer"
		}
	case "type", "pattern", "format", "contentEncoding", "contentMediaType", "title", "$comment", "$id", "$ref", "$schema":
		if n.Kind != yaml.ScalarNode {
			bad = "a string"
		}
	case "enum", "examples", "required", "allOf", "anyOf", "oneOf":
		if n.Kind != yaml.SequenceNode {
			bad = "a list"
		}
	case "uniqueItems", "readOnly", "writeOnly":
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			bad = "true or false"
		}
	}
	if bad != "" {
		d.errorf(n, f, "must be %s, not %s", bad, kindName(n))
		return nil, false
	}
	v := d.value(n, f)
	switch kv.key {
	case "type":
		if s, _ := v.(string); !slices.Contains(ParameterTypes, s) {
			d.errorf(n, f, "type %q is not one of %s", n.Value, strings.Join(ParameterTypes, ", "))
			return nil, false
		}
	case "pattern":
		if _, err := regexp.Compile(n.Value); err != nil {
			d.errorf(n, f, "invalid pattern: %v", err)
			return nil, false
		}
	}
	return v, true
}

const parameterFields = "name, description, type, default, env, path, sensitive, applyTo, source"

func (d *decoder) parameters(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "parameters") {
		field := index("parameters", i)
		pairs, ok := d.mapping(item, field)
		if !ok {
			continue
		}
		p := Parameter{Line: item.Line, Schema: map[string]any{}}
		for _, kv := range pairs {
			f := join(field, kv.key)
			switch kv.key {
			case "name":
				p.Name = d.str(kv.val, f)
			case "description":
				p.Description = d.str(kv.val, f)
			case "env":
				p.Env = d.str(kv.val, f)
			case "path":
				p.Path = d.str(kv.val, f)
			case "sensitive":
				p.Sensitive = d.boolean(kv.val, f)
			case "applyTo":
				p.ApplyTo = d.strList(kv.val, f)
			case "source":
				p.Source = d.source(kv.val, f)
			default:
				if v, ok := d.keyword(kv, field, parameterFields); ok {
					p.Schema[kv.key] = v
				}
			}
		}
		m.Parameters = append(m.Parameters, p)
	}
}

func (d *decoder) source(n *yaml.Node, field string) ParameterSource {
	var s ParameterSource
	pairs, ok := d.mapping(n, field)
	if !ok {
		return s
	}
	for _, kv := range pairs {
		f := join(field, kv.key)
		switch kv.key {
		case "output":
			s.Output = d.str(kv.val, f)
		case "dependency":
			if dep := d.str(kv.val, f); dep != "" {
				d.errorf(kv.kn, f, "not supported: a source in dependency %q needs dependencies, which StackHub does not run", dep)
			}
		default:
			d.unknown(kv, field, "output, dependency")
		}
	}
	if s.Output == "" {
		d.errorf(resolve(n), join(field, "output"), "is required")
	}
	return s
}

const outputFields = "name, description, type, default, path, sensitive, applyTo"

func (d *decoder) outputs(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "outputs") {
		field := index("outputs", i)
		pairs, ok := d.mapping(item, field)
		if !ok {
			continue
		}
		o := Output{Line: item.Line, Schema: map[string]any{}}
		for _, kv := range pairs {
			f := join(field, kv.key)
			switch kv.key {
			case "name":
				o.Name = d.str(kv.val, f)
			case "description":
				o.Description = d.str(kv.val, f)
			case "path":
				o.Path = d.str(kv.val, f)
			case "sensitive":
				o.Sensitive = d.boolean(kv.val, f)
			case "applyTo":
				o.ApplyTo = d.strList(kv.val, f)
			default:
				if v, ok := d.keyword(kv, field, outputFields); ok {
					o.Schema[kv.key] = v
				}
			}
		}
		m.Outputs = append(m.Outputs, o)
	}
}

func (d *decoder) credentials(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "credentials") {
		field := index("credentials", i)
		pairs, ok := d.mapping(item, field)
		if !ok {
			continue
		}
		c := Credential{Line: item.Line, Required: true}
		for _, kv := range pairs {
			f := join(field, kv.key)
			switch kv.key {
			case "name":
				c.Name = d.str(kv.val, f)
			case "description":
				c.Description = d.str(kv.val, f)
			case "env":
				c.Env = d.str(kv.val, f)
			case "path":
				c.Path = d.str(kv.val, f)
			case "required":
				if !isNull(resolve(kv.val)) {
					c.Required = d.boolean(kv.val, f)
				}
			case "applyTo":
				c.ApplyTo = d.strList(kv.val, f)
			default:
				d.unknown(kv, field, "name, description, env, path, required, applyTo")
			}
		}
		m.Credentials = append(m.Credentials, c)
	}
}

func (d *decoder) state(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "state") {
		field := index("state", i)
		pairs, ok := d.mapping(item, field)
		if !ok {
			continue
		}
		s := StateVar{Line: item.Line}
		for _, kv := range pairs {
			f := join(field, kv.key)
			switch kv.key {
			case "name":
				s.Name = d.str(kv.val, f)
			case "path":
				s.Path = d.str(kv.val, f)
			case "description":
				s.Description = d.str(kv.val, f)
			case "mixin":
				s.Mixin = d.str(kv.val, f)
			default:
				d.unknown(kv, field, "name, path, description, mixin")
			}
		}
		m.State = append(m.State, s)
	}
}

// digestRE is the OCI digest grammar (opencontainers/go-digest).
var digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

// tagRE is the tag grammar of image references (distribution/reference).
var tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

func (d *decoder) images(m *Manifest, n *yaml.Node) {
	pairs, ok := d.mapping(n, "images")
	if !ok {
		return
	}
	for _, entry := range pairs {
		field := join("images", entry.key)
		fields, ok := d.mapping(entry.val, field)
		if !ok {
			continue
		}
		img := Image{Line: entry.kn.Line}
		for _, kv := range fields {
			f := join(field, kv.key)
			switch kv.key {
			case "repository":
				img.Repository = d.str(kv.val, f)
			case "digest":
				img.Digest = d.str(kv.val, f)
				if img.Digest != "" && !digestRE.MatchString(img.Digest) {
					d.errorf(kv.val, f, "%q is not a digest (algorithm:hex, e.g. sha256:…)", img.Digest)
				}
			case "tag":
				img.Tag = d.str(kv.val, f)
				if img.Tag != "" && !tagRE.MatchString(img.Tag) {
					d.errorf(kv.val, f, "%q is not a tag (up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-')", img.Tag)
				}
			case "imageType":
				img.ImageType = d.str(kv.val, f)
			case "description":
				img.Description = d.str(kv.val, f)
			case "mediaType":
				img.MediaType = d.str(kv.val, f)
			case "size":
				v := resolve(kv.val)
				size, err := strconv.ParseUint(v.Value, 10, 64)
				if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil {
					d.errorf(v, f, "must be a non-negative integer, not %s", kindName(v))
				}
				img.Size = size
			case "labels":
				labels, ok := d.mapping(kv.val, f)
				if !ok {
					continue
				}
				img.Labels = map[string]string{}
				for _, l := range labels {
					img.Labels[l.key] = d.str(l.val, join(f, l.key))
				}
			default:
				d.unknown(kv, field, "repository, digest, tag, imageType, description, size, mediaType, labels")
			}
		}
		switch {
		case img.Repository == "":
			d.errorf(entry.kn, join(field, "repository"), "is required")
		case strings.Contains(img.Repository, "@") || strings.Contains(img.Repository[strings.LastIndex(img.Repository, "/")+1:], ":"):
			d.errorf(entry.kn, join(field, "repository"), "%q must be a repository without tag or digest (use tag and digest)", img.Repository)
		}
		if m.Images == nil {
			m.Images = map[string]Image{}
		}
		m.Images[entry.key] = img
	}
}

func (d *decoder) required(m *Manifest, n *yaml.Node) {
	for i, item := range d.sequence(n, "required") {
		field := index("required", i)
		name := ""
		var cfgNode *yaml.Node
		switch item.Kind {
		case yaml.ScalarNode:
			name = item.Value
		case yaml.MappingNode:
			if len(item.Content) != 2 {
				d.errorf(item, field, "an entry is a name or a mapping with exactly one key")
				continue
			}
			name, cfgNode = item.Content[0].Value, item.Content[1]
		default:
			d.errorf(item, field, "an entry is a name or a mapping with exactly one key")
			continue
		}
		if name != "docker" {
			d.errorf(item, field, "required extension %q is not supported (only docker)", name)
			continue
		}
		if slices.Contains(m.Required, name) {
			d.errorf(item, field, "%s is required twice", name)
			continue
		}
		m.Required = append(m.Required, name)
		if cfgNode == nil || isNull(resolve(cfgNode)) {
			continue
		}
		pairs, ok := d.mapping(cfgNode, join(field, name))
		if !ok {
			continue
		}
		cfg := map[string]any{}
		for _, kv := range pairs {
			if kv.key != "privileged" {
				d.unknown(kv, join(field, name), "privileged")
				continue
			}
			cfg[kv.key] = d.boolean(kv.val, join(join(field, name), kv.key))
		}
		if m.RequiredConfig == nil {
			m.RequiredConfig = map[string]map[string]any{}
		}
		m.RequiredConfig[name] = cfg
	}
}

func (d *decoder) customActions(m *Manifest, n *yaml.Node) {
	pairs, ok := d.mapping(n, "customActions")
	if !ok {
		return
	}
	m.CustomActions = map[string]CustomAction{}
	for _, entry := range pairs {
		field := join("customActions", entry.key)
		var ca CustomAction
		fields, _ := d.mapping(entry.val, field)
		for _, kv := range fields {
			f := join(field, kv.key)
			switch kv.key {
			case "description":
				ca.Description = d.str(kv.val, f)
			case "modifies":
				ca.Modifies = d.boolean(kv.val, f)
			case "stateless":
				ca.Stateless = d.boolean(kv.val, f)
			default:
				d.unknown(kv, field, "description, modifies, stateless")
			}
		}
		m.CustomActions[entry.key] = ca
	}
}

// dependencies reads Porter's dependencies v1 section to name what it
// asks for, then refuses it.
func (d *decoder) dependencies(kv pair) {
	var names []string
	pairs, _ := d.mapping(kv.val, "dependencies")
	for _, p := range pairs {
		if p.key != "requires" {
			d.unknown(p, "dependencies", "requires")
			continue
		}
		for i, item := range d.sequence(p.val, "dependencies.requires") {
			field := index("dependencies.requires", i)
			fields, _ := d.mapping(item, field)
			for _, f := range fields {
				switch f.key {
				case "name":
					names = append(names, d.str(f.val, join(field, f.key)))
				case "bundle", "parameters":
				default:
					d.unknown(f, field, "name, bundle, parameters")
				}
			}
		}
	}
	what := ""
	if len(names) > 0 {
		what = " (" + strings.Join(names, ", ") + ")"
	}
	d.errorf(kv.kn, "dependencies", "dependencies are not supported yet: StackHub does not install the bundles a bundle requires%s; install them as apps of their own and pass their outputs as parameters", what)
}

// steps decodes an action's step list.
func (d *decoder) steps(n *yaml.Node, action string) []Step {
	steps := []Step{}
	for i, item := range d.sequence(n, action) {
		field := index(action, i)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			d.errorf(item, field, "a step is a mapping with exactly one key, the mixin")
			continue
		}
		mixin, body := item.Content[0].Value, resolve(item.Content[1])
		field = join(field, mixin)
		if body.Kind != yaml.MappingNode {
			d.errorf(body, field, "the step's fields must be a mapping, not %s", kindName(body))
			continue
		}
		data, _ := d.value(body, field).(map[string]any)
		// The step keeps its node as written, anchors and aliases
		// included: the runtime renders it alone, as Porter's does
		// (RenderStep), and checkStepAliases reports an alias whose
		// anchor is outside it.
		var node *yaml.Node
		if data != nil {
			node = item
		} else {
			data = map[string]any{}
		}
		if desc, ok := data["description"]; ok {
			if _, ok := desc.(string); !ok {
				d.errorf(body, join(field, "description"), "must be a string")
			}
		}
		steps = append(steps, Step{Mixin: mixin, Data: data, Line: item.Line, node: node})
	}
	return steps
}

// JSONValue turns YAML-decoded values into a deep copy encoding/json
// accepts: maps with non-string keys get their keys formatted as strings,
// and the copy never shares the manifest's maps.
func JSONValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = JSONValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = JSONValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = JSONValue(e)
		}
		return out
	}
	return v
}
