package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"reflect"
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

// Bundle returns the CNAB bundle Porter would generate for m, in the form a
// reader of bundle.json sees it (it is the decoding of [MarshalBundle]'s
// output, so numbers are float64 and custom values plain maps). It is pure:
// no file, clock or network is read, and the same m and opts give the same
// bundle.
//
// The invocation image is [InvocationImage] of [Reference] with no
// contentDigest. Parameters (with their output sources), credentials,
// outputs, images, custom actions, definitions, Porter's internal
// porter-debug, porter-state and porter-<output>-output items, custom as
// written, the sh.porter stamp and the required extensions follow
// porter-compat.md §3. m must come from [manifest.Parse], which has
// checked names, types, applyTo and sources. It returns an error for a
// mixin other than websoft9, a definition name taken twice, or a bundle
// that cnab-go's Validate (e.g. a default outside its own schema) or the
// CNAB bundle JSON schema refuses.
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
	for _, mt := range m.Maintainers {
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

func (c *converter) actions() error {
	for _, name := range c.m.CustomActionNames() {
		if c.b.Actions == nil {
			c.b.Actions = map[string]bundle.Action{}
		}
		if def, ok := c.m.CustomActions[name]; ok {
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

func (c *converter) parameters() error {
	for _, p := range c.m.Parameters {
		s, err := schemaOf(p.Schema, p.Type())
		if err != nil {
			return fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		s.Description = p.Description
		if p.Sensitive {
			s.WriteOnly = ptr(true)
		}
		dest := &bundle.Location{EnvironmentVariable: p.Env, Path: resolvePath(p.Path)}
		if p.Env == "" && p.Path == "" {
			dest.EnvironmentVariable = manifest.EnvVarName(p.Name)
		}
		_, hasDefault := p.Default()
		applyTo := p.ApplyTo
		if source := p.Source.Output; source != "" {
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
	actions = append(actions, c.m.CustomActionNames()...)
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
	for _, o := range c.m.Outputs {
		s, err := schemaOf(o.Schema, o.Type())
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

// templatedOutputs adds, for each bundle output used as ${ bundle.outputs.<o> }
// anywhere in porter.yaml (outside sections, as Porter scans), Porter's
// internal porter-<o>-output parameter that brings the output's last value
// back in (§3.2).
func (c *converter) templatedOutputs() error {
	used := map[string]bool{}
	for _, v := range c.m.TemplateVariables {
		name, ok := strings.CutPrefix(v, "bundle.outputs.")
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

func (c *converter) images() error {
	for _, alias := range slices.Sorted(maps.Keys(c.m.Images)) {
		img := c.m.Images[alias]
		imageType := img.ImageType
		if imageType == "" {
			imageType = "docker"
		}
		if c.b.Images == nil {
			c.b.Images = map[string]bundle.Image{}
		}
		// As Porter maps an images entry: image is repo@digest, repo:tag or
		// repo:latest; imageType defaults to docker.
		c.b.Images[alias] = bundle.Image{
			Description: img.Description,
			BaseImage: bundle.BaseImage{
				ImageType: imageType,
				Image:     img.Reference(),
				Digest:    img.Digest,
				Size:      img.Size,
				Labels:    img.Labels,
				MediaType: img.MediaType,
			},
		}
	}
	return nil
}

// custom fills custom and requiredExtensions in Porter's order (§3.3).
func (c *converter) custom(stamp Stamp) {
	custom := map[string]any{FileParametersExtension: map[string]any{}}
	for k, v := range c.m.Custom {
		custom[k] = manifest.JSONValue(v)
	}
	custom[ParameterSourcesKey] = c.psrcs
	required := []string{FileParametersExtension, ParameterSourcesKey}
	for _, name := range c.m.Required {
		key := name
		if name == "docker" {
			key = DockerExtension
		}
		if cfg := c.m.RequiredConfig[name]; cfg != nil {
			custom[key] = manifest.JSONValue(cfg)
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
// definition of type typ (Porter's default already applied). Porter's type
// file becomes {type: string, contentEncoding: base64}. A keyword a
// definition cannot hold is an error (manifest.Parse refuses it first), so
// a constraint is never dropped silently; cnab-go also refuses an invalid
// schema.
func schemaOf(keywords map[string]any, typ string) (*definition.Schema, error) {
	kw := manifest.JSONValue(keywords).(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(kw)) {
		if !schemaKeywords[k] {
			return nil, fmt.Errorf("unknown JSON-schema keyword %q", k)
		}
	}
	kw["type"] = typ
	if typ == "file" {
		kw["type"] = "string"
		kw["contentEncoding"] = "base64"
	}
	data, err := json.Marshal(kw)
	if err != nil {
		return nil, err
	}
	s := &definition.Schema{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("JSON-schema keywords: %w", err)
	}
	return s, nil
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
