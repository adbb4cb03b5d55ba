package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-go/bundle/definition"
	"github.com/cnabio/cnab-go/schema"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Names and paths of Porter's bundle.json conventions (porter-compat.md §3).
const (
	// StateName is Porter's internal porter-state parameter, output and definition.
	StateName = "porter-state"
	// DebugName is Porter's internal porter-debug parameter.
	DebugName = "porter-debug"
	// InternalComment is the $comment that marks Porter's internal
	// parameters, outputs and definitions; UIs hide them.
	InternalComment = "porter-internal"

	// Extension keys written to custom and requiredExtensions.
	StampKey                = "sh.porter"
	FileParametersExtension = "sh.porter.file-parameters"
	ParameterSourcesKey     = "io.cnab.parameter-sources"
	DockerExtension         = "io.cnab.docker"

	generatedID      = "https://porter.sh/generated-bundle/#"
	bundleDir        = "/cnab/app"
	outputsDir       = "/cnab/app/outputs"
	statePath        = "/porter/state.tgz"
	stateDescription = "Supports persisting state for bundles. Porter internal parameter that should not be set manually."
	debugDescription = "Print debug information from Porter when executing the bundle"
)

// Defaults recorded in the sh.porter stamp when BundleOptions leaves a field empty.
const (
	DefaultMixinVersion   = "v0.1.0"
	DefaultBuilderVersion = "v0.1.0"
)

// BundleOptions are the values bundle.json records about the build itself.
type BundleOptions struct {
	// MixinVersion is the websoft9 mixin version written to the stamp's
	// mixins (Porter asks the mixin's `version --output json`). Empty means
	// DefaultMixinVersion.
	MixinVersion string
	// BuilderVersion and BuilderCommit are written to the stamp where Porter
	// writes its own version and commit; the version also feeds
	// manifestDigest. Empty version means DefaultBuilderVersion.
	BuilderVersion string
	BuilderCommit  string
}

func (o BundleOptions) withDefaults() BundleOptions {
	if o.MixinVersion == "" {
		o.MixinVersion = DefaultMixinVersion
	}
	if o.BuilderVersion == "" {
		o.BuilderVersion = DefaultBuilderVersion
	}
	return o
}

// supportedMixins are the mixins StackHub can put into an invocation image.
var supportedMixins = []string{"websoft9"}

var builtinActions = []string{manifest.ActionInstall, manifest.ActionUpgrade, manifest.ActionUninstall}

// Bundle returns the CNAB bundle Porter would generate for m, in the form a
// reader of bundle.json sees it (it is the decoding of [MarshalBundle]'s
// output, so numbers are float64 and custom values plain maps). It is pure:
// no file, clock or network is read, and the same m and opts give the same
// bundle.
//
// The invocation image is [InvocationImage] of [Reference] with no
// contentDigest. Parameters, credentials, outputs, images, custom actions,
// definitions, Porter's internal porter-debug and porter-state items, the
// sh.porter stamp and the required extensions follow porter-compat.md §3.
// It returns an error for a mixin other than websoft9, a reserved or
// duplicate name, an unknown JSON-schema keyword, an applyTo naming an
// undeclared action, a source naming no output or a dependency, or a
// bundle that cnab-go's Validate (e.g. a default outside its own schema) or
// the CNAB bundle JSON schema refuses.
func Bundle(m *manifest.Manifest, opts BundleOptions) (*bundle.Bundle, error) {
	b, _, err := generate(m, opts)
	return b, err
}

// MarshalBundle returns b as canonical JSON (cnab-go's Marshal): the bytes
// written to .cnab/bundle.json and /cnab/bundle.json.
func MarshalBundle(b *bundle.Bundle) ([]byte, error) {
	data, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal bundle.json: %w", err)
	}
	return data, nil
}

// generate builds the bundle, marshals it canonically and decodes it back,
// so that the returned bundle and bytes agree.
func generate(m *manifest.Manifest, opts BundleOptions) (*bundle.Bundle, []byte, error) {
	b, err := convert(m, opts.withDefaults())
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: %w", m.Name, err)
	}
	data, err := MarshalBundle(b)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: %w", m.Name, err)
	}
	decoded, err := bundle.Unmarshal(data)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: decode bundle.json: %w", m.Name, err)
	}
	if err := decoded.Validate(); err != nil {
		return nil, nil, fmt.Errorf("bundle %s: invalid bundle.json: %w", m.Name, err)
	}
	valErrs, err := schema.ValidateBundle(data)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: validate bundle.json against the CNAB schema: %w", m.Name, err)
	}
	if len(valErrs) > 0 {
		errs := make([]error, len(valErrs))
		for i, e := range valErrs {
			errs[i] = e
		}
		return nil, nil, fmt.Errorf("bundle %s: bundle.json does not match the CNAB schema: %w", m.Name, errors.Join(errs...))
	}
	return decoded, data, nil
}

// converter carries the state of one manifest → bundle conversion.
type converter struct {
	m     *manifest.Manifest
	x     extras
	b     *bundle.Bundle
	psrcs map[string]parameterSource
}

// parameterSource is one entry of the io.cnab.parameter-sources extension.
type parameterSource struct {
	Priority []string                `json:"priority"`
	Sources  map[string]outputSource `json:"sources"`
}

type outputSource struct {
	Name string `json:"name"`
}

func outputParameterSource(output string) parameterSource {
	return parameterSource{Priority: []string{"output"}, Sources: map[string]outputSource{"output": {Name: output}}}
}

func convert(m *manifest.Manifest, opts BundleOptions) (*bundle.Bundle, error) {
	if err := checkMixins(m); err != nil {
		return nil, err
	}
	x, err := readExtras(m.Raw)
	if err != nil {
		return nil, err
	}
	ref, err := Reference(m)
	if err != nil {
		return nil, err
	}
	image, err := InvocationImage(ref)
	if err != nil {
		return nil, err
	}
	stamp, err := newStamp(m, opts)
	if err != nil {
		return nil, err
	}
	c := &converter{
		m: m,
		x: x,
		b: &bundle.Bundle{
			SchemaVersion: bundle.GetDefaultSchemaVersion(),
			Name:          m.Name,
			Version:       m.Version,
			Description:   m.Description,
			InvocationImages: []bundle.InvocationImage{{
				BaseImage: bundle.BaseImage{ImageType: "docker", Image: image},
			}},
			Definitions: definition.Definitions{},
		},
		psrcs: map[string]parameterSource{},
	}
	for _, mt := range x.Maintainers {
		c.b.Maintainers = append(c.b.Maintainers, bundle.Maintainer{Name: mt.Name, Email: mt.Email, URL: mt.URL})
	}
	steps := []func() error{c.actions, c.parameters, c.outputs, c.internals, c.templatedOutputs, c.credentials, c.images}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	c.custom(stamp)
	return c.b, nil
}

func checkMixins(m *manifest.Manifest) error {
	for _, name := range m.Mixins {
		if !slices.Contains(supportedMixins, name) {
			return fmt.Errorf("mixin %q is not supported: StackHub images can carry only %s", name, strings.Join(supportedMixins, ", "))
		}
	}
	return nil
}

// customActions returns the declared actions that are not built in, sorted.
func customActions(m *manifest.Manifest) []string {
	var names []string
	for _, a := range m.ActionNames() {
		if !slices.Contains(builtinActions, a) {
			names = append(names, a)
		}
	}
	return names
}

func (c *converter) actions() error {
	custom := customActions(c.m)
	for _, name := range slices.Sorted(maps.Keys(c.x.CustomActions)) {
		if !slices.Contains(custom, name) {
			return fmt.Errorf("customActions: %q has no steps", name)
		}
	}
	for _, name := range custom {
		if c.b.Actions == nil {
			c.b.Actions = map[string]bundle.Action{}
		}
		if def, ok := c.x.CustomActions[name]; ok {
			c.b.Actions[name] = bundle.Action{Description: def.Description, Modifies: def.Modifies, Stateless: def.Stateless}
			continue
		}
		c.b.Actions[name] = defaultAction(name)
	}
	return nil
}

// defaultAction is Porter's definition of a custom action that has no
// customActions entry: the well-known actions of cnab-spec 804, otherwise a
// modifying action described by its name.
func defaultAction(name string) bundle.Action {
	switch name {
	case "dry-run", "io.cnab.dry-run":
		return bundle.Action{Stateless: true, Description: "Execute the installation in a dry-run mode, allowing to see what would happen with the given set of parameter values"}
	case "help", "io.cnab.help":
		return bundle.Action{Stateless: true, Description: "Print an help message to the standard output"}
	case "log", "io.cnab.log":
		return bundle.Action{Description: "Print logs of the installed system to the standard output"}
	case "status", "io.cnab.status":
		return bundle.Action{Description: "Print a human readable status message to the standard output"}
	case "status+json", "io.cnab.status+json":
		return bundle.Action{Description: "Print a json payload describing the detailed status with the following the CNAB status schema"}
	}
	return bundle.Action{Modifies: true, Description: name}
}

func (c *converter) checkApplyTo(kind, name string, applyTo []string) error {
	for _, a := range applyTo {
		if !slices.Contains(builtinActions, a) && c.m.Actions[a] == nil {
			return fmt.Errorf("%s %q: applyTo names %q, which is not an action of this bundle", kind, name, a)
		}
	}
	return nil
}

func reserved(name string) bool {
	return strings.HasPrefix(name, "porter-") || strings.HasPrefix(name, "porter_")
}

func (c *converter) parameters() error {
	for _, p := range c.m.Parameters {
		if reserved(p.Name) {
			return fmt.Errorf("parameter %q: names starting with porter- or porter_ are reserved", p.Name)
		}
		if err := c.checkApplyTo("parameter", p.Name, p.ApplyTo); err != nil {
			return err
		}
		s, isFile, err := schemaOf(p.Schema, p.Type())
		if err != nil {
			return fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		if isFile && p.Path == "" {
			return fmt.Errorf("parameter %q: a file parameter needs a path", p.Name)
		}
		s.Description = p.Description
		if p.Sensitive {
			s.WriteOnly = ptr(true)
		}
		dest := &bundle.Location{EnvironmentVariable: p.Env, Path: resolvePath(p.Path)}
		if p.Env == "" && p.Path == "" {
			dest.EnvironmentVariable = manifest.EnvVarName(p.Name)
		}
		def, hasDefault := p.Default()
		hasDefault = hasDefault && def != nil
		applyTo := p.ApplyTo
		source, err := c.x.sourceOutput(p.Name)
		if err != nil {
			return err
		}
		if source != "" {
			if !slices.ContainsFunc(c.m.Outputs, func(o manifest.Output) bool { return o.Name == source }) {
				return fmt.Errorf("parameter %q: source.output %q is not an output of this bundle", p.Name, source)
			}
			c.psrcs[p.Name] = outputParameterSource(source)
			if applyTo == nil && !hasDefault {
				applyTo = c.afterInstallActions()
			}
		}
		defName, err := c.addDefinition(p.Name, "parameter", s)
		if err != nil {
			return err
		}
		c.addParameter(p.Name, bundle.Parameter{
			Definition:  defName,
			ApplyTo:     applyTo,
			Description: p.Description,
			Destination: dest,
			Required:    !hasDefault,
		})
	}
	return nil
}

// afterInstallActions is the applyTo Porter gives a parameter sourced from
// an output that has neither applyTo nor default (UpdateApplyTo): every
// declared action but install, sorted.
func (c *converter) afterInstallActions() []string {
	actions := []string{manifest.ActionUninstall}
	if c.m.Actions[manifest.ActionUpgrade] != nil {
		actions = append(actions, manifest.ActionUpgrade)
	}
	actions = append(actions, customActions(c.m)...)
	slices.Sort(actions)
	return actions
}

func (c *converter) addParameter(name string, p bundle.Parameter) {
	if c.b.Parameters == nil {
		c.b.Parameters = map[string]bundle.Parameter{}
	}
	c.b.Parameters[name] = p
}

func (c *converter) addOutput(name string, o bundle.Output) {
	if c.b.Outputs == nil {
		c.b.Outputs = map[string]bundle.Output{}
	}
	c.b.Outputs[name] = o
}

// addDefinition stores s under <name>-<kind> (name alone when it already
// ends with kind, as Porter does) and returns the definition's name.
func (c *converter) addDefinition(name, kind string, s *definition.Schema) (string, error) {
	defName := name
	if !strings.HasSuffix(name, kind) {
		defName = name + "-" + kind
	}
	if _, taken := c.b.Definitions[defName]; taken {
		return "", fmt.Errorf("%s %q: definition %q is already taken", kind, name, defName)
	}
	c.b.Definitions[defName] = s
	return defName, nil
}

func (c *converter) outputs() error {
	seen := map[string]bool{}
	for _, o := range c.m.Outputs {
		if seen[o.Name] {
			return fmt.Errorf("output %q is declared twice", o.Name)
		}
		seen[o.Name] = true
		if reserved(o.Name) {
			return fmt.Errorf("output %q: names starting with porter- or porter_ are reserved", o.Name)
		}
		if err := c.checkApplyTo("output", o.Name, o.ApplyTo); err != nil {
			return err
		}
		defaultType := "string"
		if o.Path != "" {
			defaultType = "file"
		}
		s, _, err := schemaOf(o.Schema, defaultType)
		if err != nil {
			return fmt.Errorf("output %q: %w", o.Name, err)
		}
		s.Description = o.Description
		if o.Sensitive {
			s.WriteOnly = ptr(true)
		}
		defName, err := c.addDefinition(o.Name, "output", s)
		if err != nil {
			return err
		}
		c.addOutput(o.Name, bundle.Output{
			Definition:  defName,
			Description: o.Description,
			ApplyTo:     o.ApplyTo,
			Path:        path.Join(outputsDir, o.Name),
		})
	}
	return nil
}

// internals adds porter-debug and porter-state (§3.2).
func (c *converter) internals() error {
	debug := &definition.Schema{
		Comment:     InternalComment,
		ID:          generatedID + DebugName,
		Description: debugDescription,
		Type:        "boolean",
		Default:     false,
	}
	debugDef, err := c.addDefinition(DebugName, "parameter", debug)
	if err != nil {
		return err
	}
	c.addParameter(DebugName, bundle.Parameter{
		Definition:  debugDef,
		Description: debugDescription,
		Destination: &bundle.Location{EnvironmentVariable: manifest.EnvVarName(DebugName)},
	})

	state := &definition.Schema{
		Comment:         InternalComment,
		ID:              generatedID + StateName,
		Description:     stateDescription,
		Type:            "string",
		ContentEncoding: "base64",
	}
	stateDef, err := c.addDefinition(StateName, "state", state)
	if err != nil {
		return err
	}
	c.addParameter(StateName, bundle.Parameter{
		Definition:  stateDef,
		Description: stateDescription,
		Destination: &bundle.Location{Path: statePath},
	})
	c.addOutput(StateName, bundle.Output{
		Definition:  stateDef,
		Description: stateDescription,
		Path:        path.Join(outputsDir, StateName),
	})
	c.psrcs[StateName] = outputParameterSource(StateName)
	return nil
}

// templateTag matches a ${ } template tag and captures its variable.
var templateTag = regexp.MustCompile(`\$\{\s*([^{}]*?)\s*\}`)

// templatedOutputs adds, for each bundle output used as ${ bundle.outputs.<o> }
// anywhere in porter.yaml, Porter's internal porter-<o>-output parameter that
// brings the output's last value back in (§3.2).
func (c *converter) templatedOutputs() error {
	used := map[string]bool{}
	for _, match := range templateTag.FindAllSubmatch(c.m.Raw, -1) {
		name, ok := strings.CutPrefix(string(match[1]), "bundle.outputs.")
		if ok && c.b.Outputs[name].Definition != "" && name != StateName {
			used[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		wiring := "porter-" + name + "-output"
		if _, taken := c.b.Definitions[wiring]; taken {
			return fmt.Errorf("output %q: definition %q is already taken", name, wiring)
		}
		def := *c.b.Definitions[c.b.Outputs[name].Definition]
		def.ID = generatedID + "porter-parameter-source-definition"
		def.Comment = InternalComment
		c.b.Definitions[wiring] = &def
		c.addParameter(wiring, bundle.Parameter{
			Definition:  wiring,
			Description: fmt.Sprintf("Wires up the %s output for use as a parameter. Porter internal parameter that should not be set manually.", name),
			Destination: &bundle.Location{EnvironmentVariable: manifest.EnvVarName(wiring)},
		})
		c.psrcs[wiring] = outputParameterSource(name)
	}
	return nil
}

func (c *converter) credentials() error {
	for _, cr := range c.m.Credentials {
		if err := c.checkApplyTo("credential", cr.Name, cr.ApplyTo); err != nil {
			return err
		}
		if cr.Env == "" && cr.Path == "" {
			return fmt.Errorf("credential %q: env or path is required", cr.Name)
		}
		if _, dup := c.b.Credentials[cr.Name]; dup {
			return fmt.Errorf("credential %q is declared twice", cr.Name)
		}
		if c.b.Credentials == nil {
			c.b.Credentials = map[string]bundle.Credential{}
		}
		c.b.Credentials[cr.Name] = bundle.Credential{
			Location:    bundle.Location{EnvironmentVariable: cr.Env, Path: resolvePath(cr.Path)},
			Description: cr.Description,
			Required:    cr.Required,
			ApplyTo:     cr.ApplyTo,
		}
	}
	return nil
}

var imageKeys = []string{"repository", "digest", "tag", "imageType", "description", "size", "mediaType", "labels"}

func (c *converter) images() error {
	for _, alias := range slices.Sorted(maps.Keys(c.m.Images)) {
		img, err := mapImage(c.m.Images[alias])
		if err != nil {
			return fmt.Errorf("images.%s: %w", alias, err)
		}
		if c.b.Images == nil {
			c.b.Images = map[string]bundle.Image{}
		}
		c.b.Images[alias] = img
	}
	return nil
}

// mapImage maps one images entry as Porter does: image is repo@digest,
// repo:tag or repo:latest; imageType defaults to docker.
func mapImage(fields map[string]any) (bundle.Image, error) {
	for k := range fields {
		if !slices.Contains(imageKeys, k) {
			return bundle.Image{}, fmt.Errorf("unknown field %q (known: %s)", k, strings.Join(imageKeys, ", "))
		}
	}
	var in struct {
		Repository  string            `json:"repository"`
		Digest      string            `json:"digest"`
		Tag         string            `json:"tag"`
		ImageType   string            `json:"imageType"`
		Description string            `json:"description"`
		Size        uint64            `json:"size"`
		MediaType   string            `json:"mediaType"`
		Labels      map[string]string `json:"labels"`
	}
	data, err := json.Marshal(jsonValue(fields))
	if err != nil {
		return bundle.Image{}, err
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return bundle.Image{}, err
	}
	if in.Repository == "" {
		return bundle.Image{}, errors.New("repository is required")
	}
	ref := in.Repository + ":latest"
	switch {
	case in.Digest != "":
		ref = in.Repository + "@" + in.Digest
	case in.Tag != "":
		ref = in.Repository + ":" + in.Tag
	}
	if in.ImageType == "" {
		in.ImageType = "docker"
	}
	return bundle.Image{
		Description: in.Description,
		BaseImage: bundle.BaseImage{
			ImageType: in.ImageType,
			Image:     ref,
			Digest:    in.Digest,
			Size:      in.Size,
			Labels:    in.Labels,
			MediaType: in.MediaType,
		},
	}, nil
}

// custom fills custom and requiredExtensions in Porter's order (§3.3).
func (c *converter) custom(stamp Stamp) {
	custom := map[string]any{FileParametersExtension: map[string]any{}}
	for k, v := range c.m.Custom {
		custom[k] = jsonValue(v)
	}
	custom[ParameterSourcesKey] = c.psrcs
	required := []string{FileParametersExtension, ParameterSourcesKey}
	for _, name := range c.m.Required {
		key := name
		if name == "docker" {
			key = DockerExtension
		}
		if cfg := c.x.requiredConfig(name); cfg != nil {
			custom[key] = jsonValue(cfg)
		} else {
			custom[key] = nil
		}
		if !slices.Contains(required, key) {
			required = append(required, key)
		}
	}
	custom[StampKey] = stamp
	c.b.Custom = custom
	c.b.RequiredExtensions = required
}

// schemaKeywords are the JSON-schema keywords a definition can hold.
var schemaKeywords = func() map[string]bool {
	kw := map[string]bool{}
	t := reflect.TypeFor[definition.Schema]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		kw[name] = true
	}
	return kw
}()

// schemaOf decodes the JSON-schema keywords of a parameter or output into a
// definition, with type defaultType when none is given. Porter's type file
// becomes {type: string, contentEncoding: base64}; isFile reports it. A
// keyword a definition cannot hold is an error, so a typo such as "mininum"
// does not silently drop a constraint; cnab-go also refuses an invalid
// schema (e.g. an unknown type).
func schemaOf(keywords map[string]any, defaultType string) (s *definition.Schema, isFile bool, err error) {
	kw := jsonValue(keywords).(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(kw)) {
		if !schemaKeywords[k] {
			return nil, false, fmt.Errorf("unknown JSON-schema keyword %q", k)
		}
	}
	if _, ok := kw["type"]; !ok {
		kw["type"] = defaultType
	}
	if kw["type"] == "file" {
		isFile = true
		kw["type"] = "string"
		kw["contentEncoding"] = "base64"
	}
	data, err := json.Marshal(kw)
	if err != nil {
		return nil, false, err
	}
	s = &definition.Schema{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, false, fmt.Errorf("JSON-schema keywords: %w", err)
	}
	return s, isFile, nil
}

// jsonValue turns YAML-decoded values into values encoding/json accepts:
// maps with non-string keys get their keys formatted as strings.
func jsonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// resolvePath makes a manifest path absolute under /cnab/app (Porter's
// ResolvePath); "" stays "".
func resolvePath(p string) string {
	if p == "" || path.IsAbs(p) {
		return p
	}
	return path.Join(bundleDir, p)
}

func ptr[T any](v T) *T { return &v }
