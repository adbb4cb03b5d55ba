package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseEveryBundle parses every porter.yaml of the repository.
func TestParseEveryBundle(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"../../bundles/*/porter.yaml", "../../bundles/testdata/*/porter.yaml"} {
		matches, err := filepath.Glob(pattern)
		require.NoError(t, err)
		paths = append(paths, matches...)
	}
	require.NotEmpty(t, paths)
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			m := mustParseFile(t, p)
			assert.NotEmpty(t, m.Actions[ActionInstall])
		})
	}
}

func TestParseDemo(t *testing.T) {
	m := mustParseFile(t, "../../bundles/testdata/demo/porter.yaml")
	assert.Equal(t, "demo", m.Name)
	assert.Equal(t, []string{"websoft9"}, m.Mixins)
	assert.Equal(t, []string{"docker"}, m.Required)
	p, ok := m.Parameter("db_port")
	require.True(t, ok)
	assert.Equal(t, "integer", p.Type())
	assert.Equal(t, "DB_PORT", p.EnvName())
	lo, _ := p.IntBound("minimum")
	assert.Equal(t, 3307, lo)
	assert.Equal(t, "Start the demo app", m.Actions["install"][0].Description())
}

func TestParseEveryField(t *testing.T) {
	m := mustParseFile(t, "testdata/all.porter.yaml")

	assert.Equal(t, "Bundle", m.SchemaType)
	assert.Equal(t, "1.2.0", m.Version, "v dropped, missing patch filled in, as Porter's semver does")
	assert.Equal(t, DollarDelims, m.Delims())
	assert.Equal(t, []Maintainer{{Name: "Jane", Email: "jane@example.com", URL: "https://example.com"}}, m.Maintainers)
	assert.Equal(t, []string{"websoft9", "helper", "configured"}, m.Mixins)
	assert.Equal(t, map[string]string{"helper": "^1.2.0"}, m.MixinConstraints)
	assert.Equal(t, map[string]any{"configured": map[string]any{"clientVersion": "v5"}}, m.MixinConfig)
	assert.Equal(t, "template.Dockerfile", m.Dockerfile)
	assert.Equal(t, []string{"docker"}, m.Required)
	assert.Equal(t, map[string]map[string]any{"docker": {"privileged": true}}, m.RequiredConfig)

	port, _ := m.Parameter("port")
	assert.Equal(t, map[string]any{"type": "integer", "minimum": 9001, "maximum": 9999, "default": 9001}, port.Schema)
	def, ok := port.Default()
	assert.True(t, ok)
	assert.Equal(t, 9001, def)
	config, _ := m.Parameter("config")
	assert.Equal(t, "file", config.Type())
	assert.Empty(t, config.EnvName(), "a path-only parameter has no variable")
	settings, _ := m.Parameter("settings")
	assert.Equal(t, "APP_SETTINGS", settings.EnvName())
	assert.True(t, settings.Sensitive)
	tfstate, _ := m.Parameter("tfstate")
	assert.Equal(t, ParameterSource{Output: "tfstate"}, tfstate.Source)
	assert.False(t, tfstate.AppliesTo(ActionInstall))
	assert.True(t, tfstate.AppliesTo("backup"))
	_, ok = tfstate.Default()
	assert.False(t, ok)

	require.Len(t, m.Credentials, 2)
	assert.True(t, m.Credentials[0].Required, "credentials are required by default")
	assert.Equal(t, Credential{Name: "kubeconfig", Path: ".kube/config", ApplyTo: []string{"backup"}, Line: 45}, m.Credentials[1])

	url, _ := m.Output("url")
	assert.Equal(t, "string", url.Type())
	out, _ := m.Output("tfstate")
	assert.Equal(t, "file", out.Type())
	assert.True(t, out.Sensitive)

	assert.Equal(t, []StateVar{{Name: "tfstate", Path: "terraform.tfstate", Description: "Terraform state", Mixin: "helper", Line: 60}}, m.State)
	assert.Equal(t, Image{
		Repository: "docker.io/library/nginx", Tag: "1.27", ImageType: "docker", Description: "Web", Size: 42,
		Digest:    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		MediaType: "application/vnd.oci.image.manifest.v1+json", Labels: map[string]string{"tier": "front"}, Line: 65,
	}, m.Images["web"])
	assert.Equal(t, map[string]CustomAction{"backup": {Description: "Back up", Stateless: true}}, m.CustomActions)
	assert.Equal(t, []string{"backup", "install", "uninstall", "upgrade"}, m.ActionNames())
	assert.Equal(t, []string{"backup"}, m.CustomActionNames())
	require.Len(t, m.Actions[ActionInstall], 2)
	assert.Equal(t, "helper", m.Actions[ActionInstall][1].Mixin)
	assert.Equal(t, map[string]any{"sh.websoft9": map[string]any{"title": "All"}, "numbers": map[string]any{"1": "one"}}, m.Custom,
		"custom is JSON-compatible: keys are strings")
	assert.Equal(t, []string{"bundle.name", "installation.name", "bundle.parameters.port", "bundle.outputs.url", "bundle.images.web.repository"}, m.TemplateVariables)

	require.Len(t, m.Warnings, 1)
	assert.Equal(t, "dockerfile", m.Warnings[0].Field)
}

func TestParseSchemaVersions(t *testing.T) {
	const rest = "name: x\nversion: 1.0.0\nregistry: localhost:5000\nmixins: [websoft9]\ninstall: []\nuninstall: []\n"
	tests := []struct {
		version string
		delims  Delims
		err     string
	}{
		{version: "1.0.0-alpha.1", delims: MustacheDelims},
		{version: "1.0.0", delims: DollarDelims},
		{version: "1.0.1", delims: DollarDelims},
		{version: "1.1.0", err: `"1.1.0" is not supported (supported: 1.0.0-alpha.1, 1.0.0, 1.0.1); it needs Porter's experimental features`},
		{version: "1.2.0", err: `"1.2.0" is not supported`},
		{version: "1.3.0", err: `"1.3.0" is not supported`},
		{version: "0.9.0", err: `"0.9.0" is not supported (supported: 1.0.0-alpha.1, 1.0.0, 1.0.1)`},
		{version: "", err: "schemaVersion: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			text := rest
			if tc.version != "" {
				text = "schemaVersion: " + tc.version + "\n" + rest
			}
			m, err := Parse([]byte(text))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, err, "schemaVersion", "the error names the field")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.delims, m.Delims())
		})
	}
}

const minimal = `schemaVersion: 1.0.1
name: x
version: v0.1.0
registry: localhost:5000
mixins: [websoft9]
install:
  - websoft9: {description: a}
uninstall:
  - websoft9: {description: b}
`

// TestLint checks one rule per case: the finding's level, line, field and
// message.
func TestLint(t *testing.T) {
	tests := []struct {
		name, yaml    string
		level         Level
		line          int
		field, msgHas string
	}{
		// top level
		{"unknown scalar field", minimal + "colour: blue\n", LevelError, 10, "colour", "unknown field (a custom action must be a list of steps)"},
		{"reserved custom action", minimal + "lint:\n  - websoft9: {}\n", LevelError, 10, "lint", `custom action "lint" is reserved`},
		{"reserved custom action version", minimal + "version:\n  - websoft9: {}\n", LevelError, 10, "version", "duplicate key"},
		{"duplicate key", minimal + "name: y\n", LevelError, 10, "name", "duplicate key"},
		{"schemaType", "schemaType: Installation\n" + minimal, LevelError, 1, "schemaType", `"Installation" is not supported (only Bundle)`},
		{"bad version", strings.Replace(minimal, "v0.1.0", "latest", 1), LevelError, 3, "version", `"latest" is not a semantic version`},
		{"no registry", strings.Replace(minimal, "registry: localhost:5000\n", "", 1), LevelError, 0, "registry", "registry or reference is required"},
		{"digest reference", minimal + "reference: example.com/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", LevelError, 10, "reference", "takes a tag, not a digest"},
		{"registry and reference", minimal + "reference: example.com/x:v1\n", LevelWarning, 4, "registry", "the reference example.com/x:v1 wins"},
		{"no mixins", strings.Replace(minimal, "mixins: [websoft9]", "mixins: []", 1), LevelError, 5, "mixins", "at least one mixin is required"},
		{"mixin twice", strings.Replace(minimal, "mixins: [websoft9]", "mixins: [websoft9, websoft9]", 1), LevelError, 5, "mixins[1]", `mixin "websoft9" is declared twice`},
		{"mixin with two keys", strings.Replace(minimal, "mixins: [websoft9]", "mixins: [{a: {}, b: {}}]", 1), LevelError, 5, "mixins[0]", "exactly one key"},
		{"empty constraint", strings.Replace(minimal, "mixins: [websoft9]", "mixins: [websoft9@]", 1), LevelError, 5, "mixins[0]", "constraint after @ is empty"},
		{"no install", strings.Replace(minimal, "install:\n  - websoft9: {description: a}\n", "", 1), LevelError, 0, "install", "install is required"},
		{"dockerfile ignored", minimal + "dockerfile: Dockerfile.tmpl\n", LevelWarning, 10, "dockerfile", "ignored"},
		{"files refused", minimal + "files: []\n", LevelError, 10, "files", "1.3.0"},
		{"deprecated tag", minimal + "tag: x\n", LevelWarning, 10, "tag", "deprecated and ignored"},
		{"dependencies", minimal + "dependencies:\n  requires:\n    - name: db\n      bundle: {reference: example.com/db:v1}\n", LevelError, 10, "dependencies", "dependencies are not supported yet: StackHub does not install the bundles a bundle requires (db)"},
		{"dependencies unknown field", minimal + "dependencies:\n  provides: {}\n", LevelError, 11, "dependencies.provides", "unknown field"},
		{"custom not a mapping", minimal + "custom: [a]\n", LevelError, 10, "custom", "must be a mapping"},
		{"required other than docker", minimal + "required: [kubernetes]\n", LevelError, 10, "required[0]", `required extension "kubernetes" is not supported (only docker)`},
		{"docker config field", minimal + "required:\n  - docker: {privileged: true, network: host}\n", LevelError, 11, "required[0].docker.network", "unknown field (known: privileged)"},
		{"docker privileged type", minimal + "required:\n  - docker: {privileged: yes}\n", LevelError, 11, "required[0].docker.privileged", "must be true or false"},
		{"maintainer field", minimal + "maintainers:\n  - {name: a, phone: 1}\n", LevelError, 11, "maintainers[0].phone", "unknown field"},
		{"customActions field", minimal + "backup:\n  - websoft9: {}\ncustomActions:\n  backup: {description: b, destructive: true}\n", LevelError, 13, "customActions.backup.destructive", "unknown field (known: description, modifies, stateless)"},
		{"customActions type", minimal + "backup:\n  - websoft9: {}\ncustomActions:\n  backup: {modifies: sometimes}\n", LevelError, 13, "customActions.backup.modifies", "must be true or false"},
		{"customActions without steps", minimal + "customActions:\n  backup: {description: b}\n", LevelError, 10, "customActions.backup", `custom action "backup" has no steps`},
		{"customActions reserved", minimal + "customActions:\n  schema: {description: b}\n", LevelError, 10, "customActions.schema", "reserved"},

		// steps
		{"undeclared mixin", minimal + "upgrade:\n  - exec: {description: c}\n", LevelError, 11, "upgrade[0]", `upgrade step 1 uses mixin "exec", which is not declared`},
		{"step with two keys", minimal + "upgrade:\n  - {websoft9: {}, exec: {}}\n", LevelError, 11, "upgrade[0]", "a step is a mapping with exactly one key, the mixin"},
		{"step not a mapping", minimal + "upgrade:\n  - websoft9: up\n", LevelError, 11, "upgrade[0].websoft9", "must be a mapping, not a string"},
		{"step description type", minimal + "upgrade:\n  - websoft9: {description: [a]}\n", LevelError, 11, "upgrade[0].websoft9.description", "must be a string"},
		{"steps not a list", minimal + "upgrade: {}\n", LevelError, 10, "upgrade", "must be a list"},

		// parameters
		{"parameter unknown field", minimal + "parameters:\n  - name: p\n    colour: blue\n", LevelError, 12, "parameters[0].colour", "unknown field"},
		{"parameter type", minimal + "parameters:\n  - name: p\n    type: port\n", LevelError, 12, "parameters[0].type", `type "port" is not one of string, integer, number, boolean, object, array, file`},
		{"parameter sensitive type", minimal + "parameters:\n  - name: p\n    sensitive: \"yes\"\n", LevelError, 12, "parameters[0].sensitive", "must be true or false, not a string"},
		{"parameter applyTo type", minimal + "parameters:\n  - name: p\n    applyTo: install\n", LevelError, 12, "parameters[0].applyTo", "must be a list, not a string"},
		{"parameter applyTo action", minimal + "parameters:\n  - name: p\n    applyTo: [backup]\n", LevelError, 11, "parameters[0].applyTo", `"backup" is not an action of this bundle`},
		{"parameter no name", minimal + "parameters:\n  - type: string\n", LevelError, 11, "parameters[0].name", "is required"},
		{"parameter twice", minimal + "parameters:\n  - name: p\n  - name: p\n", LevelError, 12, "parameters[1].name", `parameter "p" is declared twice`},
		{"parameter reserved", minimal + "parameters:\n  - name: porter_x\n", LevelError, 11, "parameters[0].name", "reserved"},
		{"parameter minimum type", minimal + "parameters:\n  - name: p\n    minimum: one\n", LevelError, 12, "parameters[0].minimum", "must be a number, not a string"},
		{"parameter minLength type", minimal + "parameters:\n  - name: p\n    minLength: -1\n", LevelError, 12, "parameters[0].minLength", "must be a non-negative integer"},
		{"parameter enum type", minimal + "parameters:\n  - name: p\n    enum: a\n", LevelError, 12, "parameters[0].enum", "must be a list"},
		{"parameter pattern", minimal + "parameters:\n  - name: p\n    pattern: \"(\"\n", LevelError, 12, "parameters[0].pattern", "invalid pattern"},
		{"parameter maxItems", minimal + "parameters:\n  - name: p\n    type: array\n    maxItems: 2\n", LevelError, 13, "parameters[0].maxItems", "cannot hold maxItems"},
		{"parameter persistent", minimal + "parameters:\n  - name: p\n    persistent: true\n", LevelError, 12, "parameters[0].persistent", "1.2.0"},
		{"parameter default type", minimal + "parameters:\n  - name: p\n    type: integer\n    default: x\n", LevelError, 11, "parameters[0].default", `"x" is not of type integer`},
		{"parameter default object", minimal + "parameters:\n  - name: p\n    type: object\n    default: [1]\n", LevelError, 11, "parameters[0].default", "a list is not of type object"},
		{"file without path", minimal + "parameters:\n  - name: p\n    type: file\n", LevelError, 11, "parameters[0].path", "a file parameter needs a path"},
		{"file default not base64", minimal + "parameters:\n  - name: p\n    path: p.txt\n    default: \"#\"\n", LevelError, 11, "parameters[0].default", "a file default must be '' or base64"},
		{"path under outputs", minimal + "parameters:\n  - name: p\n    path: outputs/p\n    default: ''\n", LevelError, 11, "parameters[0].path", "under /cnab/app/outputs"},
		{"source of no output", minimal + "parameters:\n  - name: p\n    source: {output: url}\n", LevelError, 11, "parameters[0].source.output", `"url" is not an output of this bundle`},
		{"source without output", minimal + "parameters:\n  - name: p\n    source: {}\n", LevelError, 12, "parameters[0].source.output", "is required"},
		{"source dependency", minimal + "outputs: [{name: url, default: ''}]\nparameters:\n  - name: p\n    source: {output: url, dependency: db}\n", LevelError, 13, "parameters[0].source.dependency", `dependency "db" needs dependencies`},
		{"source unknown field", minimal + "outputs: [{name: url, default: ''}]\nparameters:\n  - name: p\n    source: {output: url, from: x}\n", LevelError, 13, "parameters[0].source.from", "unknown field"},

		// credentials
		{"credential without destination", minimal + "credentials:\n  - name: c\n", LevelError, 11, "credentials[0]", `credential "c" needs env or path`},
		{"credential unknown field", minimal + "credentials:\n  - name: c\n    env: C\n    secret: true\n", LevelError, 13, "credentials[0].secret", "unknown field"},
		{"credential required type", minimal + "credentials:\n  - name: c\n    env: C\n    required: maybe\n", LevelError, 13, "credentials[0].required", "must be true or false"},
		{"credential twice", minimal + "credentials:\n  - {name: c, env: C}\n  - {name: c, env: D}\n", LevelError, 12, "credentials[1].name", "declared twice"},

		// outputs
		{"output unknown field", minimal + "outputs:\n  - name: o\n    appliesTo: [install]\n", LevelError, 12, "outputs[0].appliesTo", "unknown field"},
		{"output no applyTo no default", minimal + "outputs:\n  - name: o\n", LevelWarning, 11, "outputs[0]", "every action, uninstall included, must produce it"},
		{"output file without path", minimal + "outputs:\n  - name: o\n    type: file\n    default: ''\n", LevelError, 11, "outputs[0].path", "a file output needs a path"},
		{"output reserved", minimal + "outputs:\n  - name: porter-state\n    default: ''\n", LevelError, 11, "outputs[0].name", "reserved"},
		{"output sensitive type", minimal + "outputs:\n  - name: o\n    default: ''\n    sensitive: 1\n", LevelError, 13, "outputs[0].sensitive", "must be true or false, not an integer"},

		// state
		{"state unknown field", minimal + "state:\n  - name: s\n    path: s\n    size: 1\n", LevelError, 13, "state[0].size", "unknown field (known: name, path, description, mixin)"},
		{"state without path", minimal + "state:\n  - name: s\n", LevelError, 11, "state[0].path", "is required"},
		{"state slash", minimal + "state:\n  - name: a/b\n    path: x\n", LevelError, 11, "state[0].name", "cannot contain a slash"},
		{"state mixin", minimal + "state:\n  - name: s\n    path: s\n    mixin: terraform\n", LevelWarning, 11, "state[0].mixin", `mixin "terraform" is not declared`},

		// images
		{"image unknown field", minimal + "images:\n  web:\n    repository: nginx\n    tags: latest\n", LevelError, 13, "images.web.tags", "unknown field"},
		{"image without repository", minimal + "images:\n  web:\n    tag: latest\n", LevelError, 11, "images.web.repository", "is required"},
		{"image repository with tag", minimal + "images:\n  web:\n    repository: nginx:1\n", LevelError, 11, "images.web.repository", "without tag or digest"},
		{"image digest", minimal + "images:\n  web:\n    repository: nginx\n    digest: abc\n", LevelError, 13, "images.web.digest", "is not a digest"},
		{"image size", minimal + "images:\n  web:\n    repository: nginx\n    size: big\n", LevelError, 13, "images.web.size", "must be a non-negative integer"},
		{"image labels", minimal + "images:\n  web:\n    repository: nginx\n    labels: [a]\n", LevelError, 13, "images.web.labels", "must be a mapping"},

		// templates
		{"template syntax", minimal + "upgrade:\n  - websoft9:\n      description: ${ bundle.name\n", LevelError, 12, "", "template: unclosed tag"},
		{"template syntax anywhere", "# ${#x}\n" + minimal, LevelError, 1, "", `section "x" has no closing tag`},
		{"undeclared parameter", minimal + "upgrade:\n  - websoft9:\n      description: u\n      port: ${ bundle.parameters.port }\n", LevelError, 13, "upgrade[0].websoft9", `template variable "bundle.parameters.port": no parameter "port" is declared`},
		{"parameter of another action", minimal + "parameters:\n  - {name: p, default: a, applyTo: [install]}\nupgrade:\n  - websoft9:\n      p: ${ bundle.parameters.p }\n", LevelError, 14, "upgrade[0].websoft9", `parameter "p" does not apply to upgrade (applyTo: install)`},
		{"field of a string parameter", minimal + "parameters:\n  - {name: p, default: a}\nupgrade:\n  - websoft9:\n      p: ${ bundle.parameters.p.x }\n", LevelError, 14, "upgrade[0].websoft9", `parameter "p" is of type string and has no fields`},
		{"undeclared credential", minimal + "upgrade:\n  - websoft9:\n      t: ${ bundle.credentials.token }\n", LevelError, 12, "upgrade[0].websoft9", `no credential "token" is declared`},
		{"undeclared image", minimal + "upgrade:\n  - websoft9:\n      t: ${ bundle.images.web.tag }\n", LevelError, 12, "upgrade[0].websoft9", `no image "web" is declared`},
		{"image field", minimal + "images: {web: {repository: nginx}}\nupgrade:\n  - websoft9:\n      t: ${ bundle.images.web.name }\n", LevelError, 13, "upgrade[0].websoft9", "images have repository, digest, tag"},
		{"installation field", minimal + "upgrade:\n  - websoft9:\n      t: ${ installation.namespace.x }\n", LevelError, 12, "upgrade[0].websoft9", "installation has name, namespace and id"},
		{"bundle field", minimal + "upgrade:\n  - websoft9:\n      t: ${ bundle.title }\n", LevelError, 12, "upgrade[0].websoft9", "bundle has name, version"},
		{"dependency output", minimal + "upgrade:\n  - websoft9:\n      t: ${ bundle.dependencies.db.outputs.url }\n", LevelError, 12, "upgrade[0].websoft9", "dependencies are not supported"},
		{"custom path", minimal + "custom: {a: {b: 1}}\nupgrade:\n  - websoft9:\n      t: ${ bundle.custom.a.c }\n", LevelError, 13, "upgrade[0].websoft9", "custom has no a.c"},
		{"shell variable", minimal + "upgrade:\n  - websoft9:\n      t: ${HOME}\n", LevelError, 12, "upgrade[0].websoft9", "keep shell or compose ${VAR} in bundle files, or write ${ env.VAR }"},

		// YAML
		{"invalid YAML", minimal + "upgrade: [\n", LevelError, 10, "", "invalid YAML"},
		{"not a mapping", "- a\n", LevelError, 1, "", "the document must be a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, findings := Lint([]byte(tc.yaml))
			var got []string
			for _, f := range findings {
				got = append(got, string(f.Level)+" "+f.String())
				if f.Level == tc.level && f.Field == tc.field && strings.Contains(f.Message, tc.msgHas) {
					assert.Equal(t, tc.line, f.Line, "line of %s", f)
					return
				}
			}
			t.Fatalf("got findings\n%s\nwant a %s at %s containing %q", strings.Join(got, "\n"), tc.level, tc.field, tc.msgHas)
		})
	}
}

// TestLintValidTemplates accepts what the template checks must not refuse.
func TestLintValidTemplates(t *testing.T) {
	text := minimal + `parameters:
  - {name: settings, type: object, default: {a: 1}}
credentials:
  - {name: token, env: TOKEN}
images: {web: {repository: nginx}}
custom: {app: {title: x}}
upgrade:
  - websoft9:
      description: ${ bundle.name } ${ bundle.version } ${ bundle.description } ${ bundle.installerImage }
      a: ${ installation.name }/${ installation.namespace }/${ installation.id }
      b: ${ bundle.parameters.settings.a } ${ bundle.credentials.token }
      c: ${ bundle.images.web.repository }:${ bundle.images.web.tag }@${ bundle.images.web.digest }
      d: ${ bundle.custom.app.title } ${ bundle.outputs.anything } ${ env.HOME }
      e: "${#bundle.parameters.settings}${ a }${/bundle.parameters.settings}${! a comment }"
`
	m, findings := Lint([]byte(text))
	require.NotNil(t, m)
	assert.Empty(t, findings)
}

// TestLintReportsEverything lints a file with many problems and compares
// every finding with a golden file.
func TestLintReportsEverything(t *testing.T) {
	raw, err := os.ReadFile("testdata/bad.porter.yaml")
	require.NoError(t, err)
	_, findings := Lint(raw)
	var b strings.Builder
	for _, f := range findings {
		b.WriteString(string(f.Level) + " " + f.String() + "\n")
	}
	assertGolden(t, "testdata/bad.findings.golden", []byte(b.String()))

	_, err = Parse(raw)
	perr, ok := errors.AsType[*ParseError](err)
	require.True(t, ok, "Parse returns a *ParseError, got %v", err)
	assert.Greater(t, len(perr.Findings), 10, "every error is reported, not just the first")
	for _, f := range perr.Findings {
		assert.Equal(t, LevelError, f.Level)
	}
	assert.Equal(t, len(perr.Findings), strings.Count(err.Error(), "\n")+1, "one line per finding")
}

func TestParseErrorFormat(t *testing.T) {
	_, err := Parse([]byte(minimal + "colour: blue\n"))
	require.EqualError(t, err, "porter.yaml line 10: colour: unknown field (a custom action must be a list of steps)")
	_, err = Parse([]byte(strings.Replace(minimal, "registry: localhost:5000\n", "", 1)))
	require.EqualError(t, err, "porter.yaml: registry: registry or reference is required")
}

func TestParseAliases(t *testing.T) {
	_, err := Parse([]byte(minimal + "x-step: &step\n  description: shared\n"))
	require.ErrorContains(t, err, "x-step: unknown field", "a top-level mapping is no custom action")

	// Anchors used inside one step stay allowed: the step renders alone.
	m, err := Parse([]byte(minimal + "backup:\n  - websoft9:\n      env: &env\n        A: ${ installation.name }\n      app: ${ installation.name }\n      more:\n        <<: *env\n        B: b\n"))
	require.NoError(t, err)
	require.Len(t, m.Actions["backup"], 1)
	got, err := m.RenderStep(m.Actions["backup"][0], map[string]any{"installation": map[string]any{"name": "demo"}})
	require.NoError(t, err, "a step using its own anchors renders on its own")
	assert.Equal(t, map[string]any{"A": "demo", "B": "b"}, got.Data["more"])

	// An alias to another step's anchor fails under Porter's runtime:
	// lint says where, with its code.
	text := minimal + "backup:\n  - websoft9: &step\n      description: shared\n      app: ${ installation.name }\n  - websoft9:\n      <<: *step\n      description: second\n"
	m, findings := Lint([]byte(text))
	require.NotNil(t, m)
	alias := withCode(findings, CodeCrossStepAlias)
	require.Len(t, alias, 1, "%v", findings)
	assert.Equal(t, LevelError, alias[0].Level)
	assert.Equal(t, strings.Count(minimal, "\n")+6, alias[0].Line, "the line of the alias")
	assert.Equal(t, "backup[1].websoft9.<<", alias[0].Field)
	assert.Contains(t, alias[0].Message, "anchor &step on line")
	_, err = Parse([]byte(text))
	require.ErrorContains(t, err, "alias *step names the anchor &step")
	_, err = m.RenderStep(m.Actions["backup"][1], map[string]any{"installation": map[string]any{"name": "demo"}})
	require.ErrorContains(t, err, "unknown anchor 'step' referenced", "the runtime fails as Porter's does")
	_, err = m.RenderStep(m.Actions["backup"][0], map[string]any{"installation": map[string]any{"name": "demo"}})
	require.NoError(t, err, "the step holding the anchor renders")
}

// TestStepReencoded: a value that Porter's runtime would read back changed
// after encoding the step alone is a warning with its code, and the runtime
// hands the mixin what Porter's would.
func TestStepReencoded(t *testing.T) {
	m, findings := Lint([]byte(minimal + "backup:\n  - websoft9:\n      app: ${ installation.name }\n      flags: {a: , b: 1}\n"))
	require.NotNil(t, m)
	reencoded := withCode(findings, CodeStepReencoded)
	require.Len(t, reencoded, 1, "%v", findings)
	f := reencoded[0]
	assert.Equal(t, LevelWarning, f.Level)
	assert.Equal(t, "backup[0].websoft9.flags.a", f.Field)
	assert.Contains(t, f.Message, `reads null back as ""`)
	got, err := m.RenderStep(m.Actions["backup"][0], map[string]any{"installation": map[string]any{"name": "demo"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "", "b": 1}, got.Data["flags"], "as Porter's runtime reads it")
}

func TestBuildInput(t *testing.T) {
	m := mustParseFile(t, "testdata/all.porter.yaml")
	in, err := BuildInput(m, "configured")
	require.NoError(t, err)
	assert.Equal(t, "actions:\n    backup: []\n    install: []\n    uninstall: []\n    upgrade: []\nconfig:\n    clientVersion: v5\n", string(in),
		"every action, [] without steps of the mixin, and the mixin's config")

	in, err = BuildInput(m, "helper")
	require.NoError(t, err)
	assert.Contains(t, string(in), "install:\n        - helper:\n            description: Second\n")
	assert.NotContains(t, string(in), "config:")
}

func TestMixinLintFindings(t *testing.T) {
	m := mustParseFile(t, "testdata/all.porter.yaml")
	findings, err := MixinLintFindings(m, "helper", []byte(`[
		{"Level": 0, "Location": {"Action": "install", "Mixin": "helper", "StepNumber": 1}, "Code": "helper-1", "Title": "bad", "Message": "very bad", "URL": "https://x"},
		{"level": 2, "location": {"action": "upgrade", "stepNumber": 4}, "title": "no such step"}
	]`))
	require.NoError(t, err)
	assert.Equal(t, []Finding{
		{Level: LevelError, Line: 85, Field: "install[1].helper", Message: "bad: very bad (https://x)", Source: "helper", Code: "helper-1"},
		{Level: LevelWarning, Field: "upgrade", Message: "no such step", Source: "helper"},
	}, findings, "step numbers count the mixin's own steps, as in BuildInput")

	_, err = MixinLintFindings(m, "helper", []byte("oops"))
	require.ErrorContains(t, err, "mixin helper lint: the output is not a JSON array")
}

func TestMarshalStepShape(t *testing.T) {
	b, err := MarshalStep("install", Step{Mixin: "websoft9", Data: map[string]any{"app": "demo"}})
	require.NoError(t, err)
	assert.Equal(t, "install:\n  - websoft9:\n      app: demo\n", string(b))
}

func TestParseImageReference(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
		err  string
	}{
		{in: "nginx", want: ImageRef{Repository: "nginx"}},
		{in: "docker.io/library/nginx:1.27", want: ImageRef{Repository: "nginx", Tag: "1.27"}},
		{in: "docker.io/bitnami/redis:7", want: ImageRef{Repository: "bitnami/redis", Tag: "7"}},
		{in: "localhost:5000/app:v1", want: ImageRef{Repository: "localhost:5000/app", Tag: "v1"}},
		{in: "localhost:5000/app", want: ImageRef{Repository: "localhost:5000/app"}},
		{in: "ghcr.io/x/y:t@sha256:abcd", want: ImageRef{Repository: "ghcr.io/x/y", Tag: "t", Digest: "sha256:abcd"}},
		{in: "x@nodigest", err: "is not a digest"},
		{in: ":tag", err: "has no repository"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseImageReference(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	assert.Equal(t, "ghcr.io/x/y:t@sha256:abcd", ImageRef{Repository: "ghcr.io/x/y", Tag: "t", Digest: "sha256:abcd"}.String())
}

// TestStackHubOnlyVariables: a template variable StackHub fills and
// Porter's runtime does not is a warning with its code, not an error.
func TestStackHubOnlyVariables(t *testing.T) {
	text := strings.Replace(minimal, "mixins: [websoft9]\n", "mixins: [websoft9]\nimages:\n  web:\n    repository: example.com/web\n    tag: \"1\"\n", 1) +
		"upgrade:\n  - websoft9:\n      description: \"${ bundle.images.web.size } ${ bundle.images.web.repository }\"\n"
	m, findings := Lint([]byte(text))
	require.NotNil(t, m)
	only := withCode(findings, CodeStackHubOnly)
	require.Len(t, only, 1, "%v", findings)
	assert.Equal(t, LevelWarning, only[0].Level)
	assert.Contains(t, only[0].Message, `"bundle.images.web.size": StackHub-only`)

	_, findings = Lint([]byte(strings.Replace(text, "web.size", "web.labels.tier", 1)))
	assert.Len(t, withCode(findings, CodeStackHubOnly), 1, "labels too: %v", findings)
}

// TestBundleNameMakesAReference: Porter's build makes the bundle's
// reference from registry and name, so a name that is no repository path
// is refused, as Porter refuses it; with an explicit reference the name is
// free, as in Porter.
func TestBundleNameMakesAReference(t *testing.T) {
	for name, ok := range map[string]bool{
		"x": true, "my-app": true, "my.app": true, "my__app": true, "team/app": true, "a--b": true,
		"My_App": false, "my app": false, "-x": false, "x-": false, "a___b": false, "a//b": false,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(minimal, "name: x\n", "name: \""+name+"\"\n", 1)))
			if ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "cannot name a repository")
			text := strings.Replace(minimal, "name: x\n", "name: \""+name+"\"\n", 1)
			text = strings.Replace(text, "registry: localhost:5000\n", "reference: localhost:5000/x:v1.0.0\n", 1)
			_, err = Parse([]byte(text))
			require.NoError(t, err, "with a reference the name is not a repository")
		})
	}
}

// withCode returns the findings with code.
func withCode(findings []Finding, code string) []Finding {
	var out []Finding
	for _, f := range findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}
