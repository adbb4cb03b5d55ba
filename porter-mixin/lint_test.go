package portermixin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// finding is the part of a LintResult a table row checks.
type finding struct {
	Code   string
	Level  LintLevel
	Action string
	Step   int
}

func findings(results []LintResult) []finding {
	out := []finding{}
	for _, r := range results {
		out = append(out, finding{r.Code, r.Level, r.Location.Action, r.Location.StepNumber})
	}
	return out
}

// oneStep wraps one step body (the fields under `websoft9:`, indented by
// 6) as the only step of action in a BuildInput document; the built-in
// actions Porter always sends are empty lists otherwise.
func oneStep(action, fields string) string {
	var b strings.Builder
	b.WriteString("actions:\n")
	for _, a := range []string{"install", "upgrade", "uninstall"} {
		if a != action {
			fmt.Fprintf(&b, "  %s: []\n", a)
		}
	}
	fmt.Fprintf(&b, "  %s:\n  - websoft9:\n%s", action, fields)
	return b.String()
}

const okInstall = `      description: Start
      app: ${ installation.name }
      compose: docker-compose.yml
      main: web
`

func TestLint(t *testing.T) {
	e := func(code, action string) finding { return finding{code, LintError, action, 1} }
	w := func(code, action string) finding { return finding{code, LintWarning, action, 1} }
	tests := []struct {
		name  string
		input string
		want  []finding
	}{
		{"clean install", oneStep("install", okInstall), nil},
		{"app missing", oneStep("install", "      compose: c.yml\n      main: web\n"), []finding{e(CodeAppRequired, "install")}},
		{"app fixed", oneStep("install", "      app: blog\n      compose: c.yml\n      main: web\n"), []finding{w(CodeAppFixed, "install")}},
		{"app invalid", oneStep("uninstall", "      app: My_Blog\n"), []finding{e(CodeAppInvalid, "uninstall"), w(CodeAppFixed, "uninstall")}},
		{"install without model", oneStep("install", "      app: ${ installation.name }\n      main: web\n"), []finding{e(CodeModelRequired, "install")}},
		{"upgrade without model and main", oneStep("upgrade", "      app: ${ installation.name }\n"), []finding{e(CodeModelRequired, "upgrade"), e(CodeMainRequired, "upgrade")}},
		{"uninstall needs only app", oneStep("uninstall", "      app: ${ installation.name }\n      purge: ${ bundle.parameters.purge }\n"), nil},
		{"compose and services", oneStep("install", okInstall+"      services: {web: {image: x}}\n"), []finding{e(CodeModelExclusive, "install")}},
		{"compose outside the bundle", oneStep("install", strings.Replace(okInstall, "docker-compose.yml", "../x.yml", 1)), []finding{e(CodeComposePath, "install")}},
		{"compose absolute", oneStep("install", strings.Replace(okInstall, "docker-compose.yml", "/etc/x.yml", 1)), []finding{e(CodeComposePath, "install")}},
		{"unknown fields", oneStep("install", okInstall+"      servcies: {}\n      outputs:\n      - name: o\n        value: v\n        regex: x\n"), []finding{e(CodeUnknownField, "install"), e(CodeUnknownField, "install")}},
		{"wrong type", oneStep("install", okInstall+"      start: web\n"), []finding{e(CodeInvalidValue, "install")}},
		{"description not a string", oneStep("install", strings.Replace(okInstall, "Start", "[a]", 1)), []finding{e(CodeInvalidValue, "install"), e(CodeInvalidValue, "install")}},
		{"step not a map", "actions:\n  install:\n  - websoft9: up\n", []finding{e(CodeInvalidValue, "install")}},
		{"bad wait", oneStep("install", okInstall+"      wait: soon\n"), []finding{e(CodeInvalidValue, "install")}},
		{"templated wait", oneStep("install", okInstall+"      wait: ${ bundle.parameters.wait }\n"), nil},
		{"bad purge", oneStep("uninstall", "      app: ${ installation.name }\n      purge: maybe\n"), []finding{e(CodeInvalidValue, "uninstall")}},
		{"purge on install", oneStep("install", okInstall+"      purge: true\n"), []finding{w(CodePurgeIgnored, "install")}},
		{"env not scalar", oneStep("install", okInstall+"      env: {A: [1]}\n"), []finding{e(CodeInvalidValue, "install")}},
		{"inline bind mount", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web:\n          image: x\n          volumes: [\"/etc:/host-etc\", \"./data:/data\", {type: bind, source: /srv, target: /srv}, \"named:/named\"]\n"),
			[]finding{e(CodeBindMount, "install"), e(CodeBindMount, "install"), e(CodeBindMount, "install")}},
		{"inline anonymous volume", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web:\n          image: x\n          volumes: [/data]\n"), []finding{e(CodeAnonymousVolume, "install")}},
		{"inline container_name and build", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web:\n          image: x\n          container_name: web\n          build: .\n"),
			[]finding{e(CodeContainerName, "install"), e(CodeBuild, "install")}},
		{"inline compose interpolation", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web:\n          image: \"nginx:${TAG:-1.27}\"\n          environment: {A: \"${ bundle.parameters.a }\", B: \"${HOME}\"}\n"),
			[]finding{e(CodeInterpolation, "install"), e(CodeInterpolation, "install")}},
		{"inline main and start unknown", oneStep("install", "      app: ${ installation.name }\n      main: app\n      start: [web, worker]\n      services:\n        web: {image: x}\n"),
			[]finding{e(CodeUnknownService, "install"), e(CodeUnknownService, "install")}},
		{"inline service not a map", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web: nginx\n"), []finding{e(CodeInvalidValue, "install")}},
		{"output without name", oneStep("install", okInstall+"      outputs: [{value: x}]\n"), []finding{e(CodeOutputName, "install")}},
		{"output without source", oneStep("install", okInstall+"      outputs: [{name: x}]\n"), []finding{e(CodeOutputNoSource, "install")}},
		{"output jsonPath without container", oneStep("install", okInstall+"      outputs: [{name: x, jsonPath: $.Id}]\n"), []finding{e(CodeOutputNoSource, "install")}},
		{"output with several sources", oneStep("install", okInstall+"      env: {A: 1}\n      outputs: [{name: x, env: A, container: web}]\n"), []finding{e(CodeOutputSources, "install")}},
		{"output env not in step", oneStep("install", okInstall+"      outputs: [{name: x, env: A}]\n"), []finding{e(CodeOutputEnv, "install")}},
		{"output bad jsonPath", oneStep("install", okInstall+"      outputs: [{name: x, container: web, jsonPath: \"$.a[\"}]\n"), []finding{e(CodeOutputSelector, "install")}},
		{"output bad port", oneStep("install", okInstall+"      outputs: [{name: x, port: {target: http, protocol: sctp}}]\n"),
			[]finding{e(CodeOutputSelector, "install"), e(CodeOutputSelector, "install"), e(CodeOutputSelector, "install")}},
		{"output templated port", oneStep("install", okInstall+"      outputs: [{name: x, port: {service: web, target: \"${ bundle.parameters.target }\"}}]\n"), nil},
		{"exec clean", oneStep("install", okInstall+"      exec:\n      - {service: web, command: [occ, \"config:system:set\", 5], passEnv: [TITLE], env: {A: b}, user: www-data}\n      - {service: \"${ bundle.parameters.svc }\", command: [ls]}\n"), nil},
		{"exec without service and command", oneStep("install", okInstall+"      exec: [{user: root}]\n"), []finding{e(CodeExecService, "install"), e(CodeExecCommand, "install")}},
		{"exec empty program", oneStep("upgrade", okInstall+"      exec: [{service: web, command: [\"\", x]}]\n"), []finding{e(CodeExecCommand, "upgrade")}},
		{"exec shell string", oneStep("install", okInstall+"      exec: [{service: web, command: \"rails runner x\"}]\n"), []finding{e(CodeInvalidValue, "install")}},
		{"exec unknown field", oneStep("install", okInstall+"      exec: [{service: web, command: [ls], privileged: true}]\n"), []finding{e(CodeUnknownField, "install")}},
		{"exec bad env and passEnv", oneStep("install", okInstall+"      exec: [{service: web, command: [ls], passEnv: [A, 1B, A, C], env: {C: 1, D-E: 2, F: [1]}}]\n"),
			[]finding{e(CodeInvalidValue, "install"), e(CodeInvalidValue, "install"), e(CodeInvalidValue, "install"), e(CodeInvalidValue, "install"), e(CodeInvalidValue, "install")}},
		{"exec unknown inline service", oneStep("install", "      app: ${ installation.name }\n      main: web\n      services:\n        web: {image: x}\n      exec: [{service: db, command: [ls]}, {service: web, command: [ls]}]\n"),
			[]finding{e(CodeUnknownService, "install")}},
		{"exec outside install and upgrade", oneStep("restart", "      app: ${ installation.name }\n      exec: [{service: web, command: [ls]}]\n"), []finding{w(CodeExecIgnored, "restart")}},
		{"custom action implemented", oneStep("restart", "      app: ${ installation.name }\n"), nil},
		{"custom action not implemented", oneStep("backup", "      app: ${ installation.name }\n"), []finding{e(CodeActionUnsupported, "backup")}},
		{"reserved action", oneStep("lint", "      app: ${ installation.name }\n"), []finding{e(CodeActionReserved, "lint")}},
		{"config ignored", "config:\n  composeVersion: v5\n" + oneStep("install", okInstall), []finding{{CodeConfigIgnored, LintWarning, "", 0}}},
		{"empty config", "config: {}\n" + oneStep("install", okInstall), nil},
		{"no steps", "actions:\n  install: []\n  upgrade: []\n  uninstall: []\n", nil},
		{"empty input", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results, err := LintInput(strings.NewReader(tc.input), "")
			require.NoError(t, err)
			want := tc.want
			if want == nil {
				want = []finding{}
			}
			assert.Equal(t, want, findings(results), "%+v", results)
			for _, r := range results {
				if r.Code != CodeConfigIgnored {
					assert.Equal(t, Name, r.Location.Mixin)
				}
				assert.Equal(t, LintURL, r.URL)
				assert.NotEmpty(t, r.Title)
				assert.LessOrEqual(t, len(r.Title), 80, "Porter displays 80 characters of a title")
				assert.NotEmpty(t, r.Message)
			}
		})
	}
}

func TestLint_Testdata(t *testing.T) {
	for _, file := range []string{"testdata/lint/demo.yaml", "testdata/lint/inline.yaml"} {
		t.Run(file, func(t *testing.T) {
			results, err := LintInput(mustOpen(t, file), "")
			require.NoError(t, err)
			assert.Empty(t, results)
		})
	}
}

// TestLint_ExecServicesFromComposeFile: with the bundle directory, an exec
// entry is checked against the services of the step's compose file.
func TestLint_ExecServicesFromComposeFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("docker-compose.yml", "services:\n  web: {image: x}\n  db: {image: y}\n")
	write("included.yml", "include: [other.yml]\nservices:\n  web: {image: x}\n")
	write("broken.yml", "services: [\n")
	step := func(compose, service string) string {
		return oneStep("install", strings.Replace(okInstall, "docker-compose.yml", compose, 1)+"      exec: [{service: "+service+", command: [ls]}]\n")
	}
	tests := []struct {
		name, input, dir string
		want             []finding
	}{
		{"known service", step("docker-compose.yml", "db"), dir, []finding{}},
		{"unknown service", step("docker-compose.yml", "cache"), dir, []finding{{CodeUnknownService, LintError, "install", 1}}},
		{"no directory", step("docker-compose.yml", "cache"), "", []finding{}},
		{"missing file", step("absent.yml", "cache"), dir, []finding{}},
		{"unparsable file", step("broken.yml", "cache"), dir, []finding{}},
		{"file with include", step("included.yml", "cache"), dir, []finding{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results, err := LintInput(strings.NewReader(tc.input), tc.dir)
			require.NoError(t, err)
			assert.Equal(t, tc.want, findings(results), "%+v", results)
		})
	}
	results, err := LintInput(strings.NewReader(step("docker-compose.yml", "cache")), dir)
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.Equal(t, `exec[1]: service "cache" is not among the services (db, web)`, results[0].Message)

	var out bytes.Buffer
	m := &Mixin{In: strings.NewReader(step("docker-compose.yml", "cache")), Out: &out, WorkDir: dir}
	require.NoError(t, m.Lint())
	assert.Contains(t, out.String(), CodeUnknownService, "the lint verb reads compose files in its working directory")
}

func TestLint_StepNumbersAndOrder(t *testing.T) {
	input := `actions:
  stop:
  - websoft9: {app: "${ installation.name }"}
  install:
  - websoft9: {description: First, app: "${ installation.name }", compose: c.yml, main: web}
  - websoft9: {description: Second, compose: c.yml, main: web}
  backup:
  - websoft9: {app: "${ installation.name }"}
  uninstall:
  - websoft9: {description: Bye}
`
	results, err := LintInput(strings.NewReader(input), "")
	require.NoError(t, err)
	assert.Equal(t, []finding{
		{CodeAppRequired, LintError, "install", 2},
		{CodeAppRequired, LintError, "uninstall", 1},
		{CodeActionUnsupported, LintError, "backup", 1},
	}, findings(results))
	assert.Equal(t, "Second", results[0].Location.StepDescription)
}

func TestLint_Output(t *testing.T) {
	var out bytes.Buffer
	m := &Mixin{In: strings.NewReader(oneStep("install", "      description: Deploy WordPress\n      compose: c.yml\n      main: web\n")), Out: &out}
	require.NoError(t, m.Lint())
	assert.JSONEq(t, `[{"Level":0,"Location":{"Action":"install","Mixin":"websoft9","StepNumber":1,"StepDescription":"Deploy WordPress"},
		"Code":"websoft9-100","Title":"app is required",
		"Message":"app names the installation (project websoft9-<app>); write app: ${ installation.name }",
		"URL":"`+LintURL+`"}]`, out.String())

	out.Reset()
	m = &Mixin{In: mustOpen(t, "testdata/lint/demo.yaml"), Out: &out}
	require.NoError(t, m.Lint())
	assert.Equal(t, "[]\n", out.String(), "clean steps print an empty array, never nothing")

	var decoded []map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))

	m = &Mixin{In: strings.NewReader("actions: [\n"), Out: &out}
	require.ErrorContains(t, m.Lint(), "lint: read BuildInput")
}

// manifestBuildInput derives from a porter.yaml the BuildInput Porter would
// send the mixin (pkg/mixin/query): the built-in actions always, each
// custom action (any other top-level key holding a list of steps), and only
// websoft9 steps.
func manifestBuildInput(t *testing.T, path string) string {
	t.Helper()
	var manifest map[string]any
	require.NoError(t, yaml.NewDecoder(mustOpen(t, path)).Decode(&manifest))
	notActions := []string{"mixins", "parameters", "credentials", "outputs", "state", "images", "required", "maintainers", "dependencies", "files"}
	actions := map[string]any{"install": []any{}, "upgrade": []any{}, "uninstall": []any{}}
	for key, v := range manifest {
		steps, ok := v.([]any)
		if !ok || slices.Contains(notActions, key) {
			continue
		}
		ours := []any{}
		for _, s := range steps {
			if m, ok := s.(map[string]any); ok && m[Name] != nil {
				ours = append(ours, s)
			}
		}
		actions[key] = ours
	}
	b, err := yaml.Marshal(map[string]any{"actions": actions})
	require.NoError(t, err)
	return string(b)
}

// TestLint_Bundles lints every bundle of the repository (no errors) and
// validates its websoft9 steps against the schema.
func TestLint_Bundles(t *testing.T) {
	sch := compile(t)
	files, err := filepath.Glob("../bundles/*/porter.yaml")
	require.NoError(t, err)
	more, err := filepath.Glob("../bundles/testdata/*/porter.yaml")
	require.NoError(t, err)
	files = append(files, more...)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			results, err := LintInput(strings.NewReader(manifestBuildInput(t, file)), filepath.Dir(file))
			require.NoError(t, err)
			for _, r := range results {
				assert.NotEqual(t, LintError, r.Level, "%+v", r)
			}
			var in struct {
				Actions any `yaml:"actions"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(manifestBuildInput(t, file)), &in))
			b, err := yaml.Marshal(in.Actions)
			require.NoError(t, err)
			assert.NoError(t, sch.Validate(instance(t, string(b))))
		})
	}
}
