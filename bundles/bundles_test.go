package bundles

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnabio/cnab-go/schema"
	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	portermixin "github.com/websoft9/stackhub/porter-mixin"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
	"github.com/websoft9/stackhub/porter-mixin/mixintest"
)

// minApps is the smallest catalog we ship.
const minApps = 60

// metaKey is where a bundle keeps its StackHub metadata.
const metaKey = "sh.websoft9"

// categories are the catalog's categories.
var categories = func() []string {
	var keys []string
	for _, c := range orchestrator.Categories {
		keys = append(keys, c.Key)
	}
	return keys
}()

// healthTools lists, per image repository, the programs a health check may
// start in that image: each was checked against the image's Dockerfile (or
// its base image's), since a health check whose program is missing keeps
// the app "starting" until the install times out. A new image needs an
// entry here.
var healthTools = map[string][]string{
	"docker.io/library/redmine":                    {"ruby"},
	"docker.io/library/mariadb":                    {"healthcheck.sh"},
	"docker.io/library/mysql":                      {"mysqladmin"},
	"docker.io/library/postgres":                   {"pg_isready"},
	"docker.io/library/wordpress":                  {"curl"}, // php:*-apache
	"docker.io/library/nextcloud":                  {"curl"}, // php:*-apache
	"docker.io/library/joomla":                     {"curl"}, // php:*-apache
	"docker.io/library/drupal":                     {"curl"}, // php:*-apache
	"docker.io/library/mediawiki":                  {"curl"}, // php:*-apache
	"docker.io/library/odoo":                       {"curl", "python3"},
	"docker.io/library/ghost":                      {"node"},
	"docker.io/gitea/gitea":                        {"curl"},
	"docker.io/mattermost/mattermost-team-edition": {"curl"},
	"docker.io/louislam/uptime-kuma":               {"node"},
	"docker.io/n8nio/n8n":                          {"node"},
	// bundles-c
	"docker.io/grafana/grafana":              {"curl"},    // Dockerfile: apk add … curl
	"docker.io/prom/prometheus":              {"wget"},    // quay.io/prometheus/busybox base: busybox wget
	"ghcr.io/plausible/community-edition":    {"wget"},    // alpine base: busybox wget
	"docker.io/clickhouse/clickhouse-server": {"wget"},    // -alpine tags: busybox wget (upstream CE compose uses it)
	"ghcr.io/umami-software/umami":           {"node"},    // node:alpine base
	"docker.io/library/matomo":               {"curl"},    // php:*-apache
	"docker.io/metabase/metabase":            {"curl"},    // Dockerfile: apk add … curl
	"ghcr.io/dgtlmoon/changedetection.io":    {"python3"}, // python:3-slim base
	"docker.io/healthchecks/healthchecks":    {"python"},  // python:3-slim base (its own fetchstatus.py is Python)
	"docker.io/gotify/server":                {"curl"},    // Dockerfile: apt-get install curl (its HEALTHCHECK uses it)
	"docker.io/listmonk/listmonk":            {"wget"},    // alpine base: busybox wget
	"docker.io/fireflyiii/core":              {"curl"},    // fireflyiii/base: Debian, Apache and PHP with curl
	"docker.io/actualbudget/actual-server":   {"node"},    // node:*-slim base
	"docker.io/nocodb/nocodb":                {"node"},    // alpine runtime with apk add nodejs
	"docker.io/baserow/baserow":              {"curl"},    // all-in-one Dockerfile: apt-get install … curl
	"docker.io/directus/directus":            {"node"},    // node:alpine base
	"docker.io/prestashop/prestashop":        {"curl"},    // php:*-apache
	"docker.io/library/adminer":              {"php"},     // php:*-alpine, running php -S
	// bundles-a
	"ghcr.io/immich-app/immich-server":           {"immich-healthcheck", "curl"}, // its own HEALTHCHECK: server/bin/immich-healthcheck, on the PATH, runs curl
	"ghcr.io/immich-app/immich-machine-learning": {"python3"},                    // its own HEALTHCHECK: python3 healthcheck.py
	"ghcr.io/immich-app/postgres":                {"pg_isready"},                 // pgvector/pgvector, on the official postgres image
	"docker.io/valkey/valkey":                    {"valkey-cli"},
	"docker.io/jellyfin/jellyfin":                {"curl"}, // its own HEALTHCHECK runs curl
	"docker.io/deluan/navidrome":                 {"wget"}, // alpine base: busybox wget (its own HEALTHCHECK)
	"docker.io/photoprism/photoprism":            {"curl"}, // photoprism/develop base installs curl and wget
	"docker.io/syncthing/syncthing":              {"curl"}, // alpine with curl; its own HEALTHCHECK runs it
	"docker.io/filebrowser/filebrowser":          {"wget"}, // alpine base: busybox wget
	"ghcr.io/home-assistant/home-assistant":      {"curl"}, // home-assistant/docker-base (alpine) installs curl
	"docker.io/nodered/node-red":                 {"node"},
	"ghcr.io/mealie-recipes/mealie":              {"python"}, // python:slim base
	"ghcr.io/paperless-ngx/paperless-ngx":        {"curl"},   // its own HEALTHCHECK runs curl
	"docker.io/library/redis":                    {"redis-cli"},
	"ghcr.io/advplyr/audiobookshelf":             {"node"},   // node:alpine base
	"docker.io/jvmilazz0/kavita":                 {"curl"},   // its own HEALTHCHECK runs curl
	"docker.io/freshrss/freshrss":                {"php"},    // PHP with Apache
	"docker.io/stirlingtools/stirling-pdf":       {"curl"},   // alpine, apk add curl
	"ghcr.io/open-webui/open-webui":              {"curl"},   // its own HEALTHCHECK runs curl
	"docker.io/ollama/ollama":                    {"ollama"}, // no curl or wget: the CLI asks the server
	"docker.io/corentinth/it-tools":              {"wget"},   // nginx:stable-alpine base: busybox wget
	// bundles-b
	"docker.io/vaultwarden/server":               {"/healthcheck.sh", "curl"}, // debian:trixie-slim + curl; the image's own /healthcheck.sh curls /alive
	"ghcr.io/wg-easy/wg-easy":                    {"node", "wg"},              // node:lts-alpine; apk wireguard-tools
	"docker.io/codercom/code-server":             {"curl"},                    // ci/release-image: debian + apt curl
	"codeberg.org/forgejo/forgejo":               {"curl"},                    // alpine + apk curl (Forgejo's Dockerfile)
	"docker.io/jenkins/jenkins":                  {"curl"},                    // debian + apt curl (jenkinsci/docker)
	"docker.io/rustfs/rustfs":                    {"curl"},                    // alpine + apk curl (RustFS's Dockerfile)
	"docker.io/keycloak/keycloak":                {"bash"},                    // UBI micro: no curl or wget; bash (kc.sh's shell) speaks HTTP over /dev/tcp
	"docker.io/vikunja/vikunja":                  {"/app/vikunja/vikunja"},    // FROM scratch: the binary's own healthcheck command
	"quay.io/hedgedoc/hedgedoc":                  {"node"},                    // node:*-slim; the image's own healthcheck.mjs (hedgedoc/container)
	"docker.io/linuxserver/bookstack":            {"curl"},                    // LinuxServer.io baseimage-alpine installs curl
	"ghcr.io/requarks/wiki":                      {"node"},                    // node:*-alpine
	"docker.io/excalidraw/excalidraw":            {"wget"},                    // nginx:alpine, BusyBox wget (its own HEALTHCHECK)
	"docker.io/rocketchat/rocket.chat":           {"node"},                    // Node.js image: node and wget, no curl
	"docker.io/mongodb/mongodb-community-server": {"mongosh"},                 // ships mongosh (upstream's compose health check)
	"docker.io/binwiederhier/ntfy":               {"wget"},                    // alpine: BusyBox wget (ntfy's documented health check)
	"docker.io/itzg/minecraft-server":            {"mc-health"},               // the image's own HEALTHCHECK script (mc-monitor status)
	"ghcr.io/librespeed/speedtest":               {"curl"},                    // php:*-apache (Debian) has curl
	"docker.io/erseco/alpine-moodle":             {"curl"},                    // alpine-php-webserver base: apk curl (its own HEALTHCHECK)
}

// app is one catalog bundle read for the tests.
type app struct {
	name string
	m    *manifest.Manifest
	meta map[string]any
	// install is the websoft9 install step, env its env as written
	// (Porter templates, not rendered).
	install manifest.Step
	env     map[string]string
	compose composeFile
	// composePath is the compose file on disk.
	composePath string
}

// composeFile is the part of a compose file the conventions are about, as
// written (short syntax for ports and volumes).
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image         string         `yaml:"image"`
	Build         any            `yaml:"build"`
	ContainerName string         `yaml:"container_name"`
	Restart       string         `yaml:"restart"`
	Ports         []string       `yaml:"ports"`
	Volumes       []string       `yaml:"volumes"`
	Healthcheck   map[string]any `yaml:"healthcheck"`
	NetworkMode   string         `yaml:"network_mode"`
	Environment   any            `yaml:"environment"`
	DependsOn     map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// catalogApps returns the bundle directories of FS(), testdata aside.
func catalogApps(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(FS(), ".")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			names = append(names, e.Name())
		}
	}
	return names
}

// loadApp reads the bundle name from FS() and its compose file.
func loadApp(t *testing.T, name string) *app {
	t.Helper()
	raw, err := fs.ReadFile(FS(), name+"/porter.yaml")
	require.NoError(t, err)
	m, err := manifest.Parse(raw)
	require.NoError(t, err, "%s/porter.yaml", name)
	a := &app{name: name, m: m}
	a.meta, _ = m.Custom[metaKey].(map[string]any)

	var installs []manifest.Step
	for _, s := range m.Actions[manifest.ActionInstall] {
		if s.Mixin == portermixin.Name {
			installs = append(installs, s)
		}
	}
	require.Len(t, installs, 1, "one websoft9 install step")
	a.install = installs[0]
	a.env = stepEnv(t, a.install)

	file, ok := a.install.Data["compose"].(string)
	require.True(t, ok, "the install step names a compose file")
	a.composePath = filepath.Join(name, file)
	data, err := fs.ReadFile(FS(), name+"/"+file)
	require.NoError(t, err, "the compose file is embedded")
	require.NoError(t, yaml.Unmarshal(data, &a.compose), "%s (ports and volumes in short syntax)", a.composePath)
	return a
}

// stepEnv returns a step's env with string values.
func stepEnv(t *testing.T, s manifest.Step) map[string]string {
	t.Helper()
	env := map[string]string{}
	raw, _ := s.Data["env"].(map[string]any)
	for k, v := range raw {
		env[k] = fmt.Sprint(v)
	}
	// A passEnv variable is its parameter's value, as Porter puts it in
	// the invocation image's environment (parameter db_password is
	// DB_PASSWORD).
	pass, _ := s.Data["passEnv"].([]any)
	for _, v := range pass {
		name := fmt.Sprint(v)
		env[name] = "${ bundle.parameters." + strings.ToLower(name) + " }"
	}
	return env
}

func (a *app) main() string {
	main, _ := a.install.Data["main"].(string)
	return main
}

// stepOutputs returns the outputs of the websoft9 steps of action by name.
func (a *app) stepOutputs(action string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range a.m.Actions[action] {
		if s.Mixin != portermixin.Name {
			continue
		}
		list, _ := s.Data["outputs"].([]any)
		for _, o := range list {
			if om, ok := o.(map[string]any); ok {
				name, _ := om["name"].(string)
				out[name] = om
			}
		}
	}
	return out
}

// envFor returns the install env variable holding the template tmpl.
func (a *app) envFor(tmpl string) (string, bool) {
	for k, v := range a.env {
		if v == tmpl {
			return k, true
		}
	}
	return "", false
}

// portParams returns the parameters the engine treats as ports: those
// custom["sh.websoft9"].ports lists when given (an integer such as
// smtp_port is a setting, not a port to allocate), else port and *_port.
func (a *app) portParams() []manifest.Parameter {
	var out []manifest.Parameter
	if list, ok := a.meta["ports"].([]any); ok {
		for _, v := range list {
			name, _ := v.(string)
			if p, ok := a.m.Parameter(name); ok {
				out = append(out, p)
			}
		}
		return out
	}
	for _, p := range a.m.Parameters {
		if p.Name == "port" || strings.HasSuffix(p.Name, "_port") {
			out = append(out, p)
		}
	}
	return out
}

// hostNetwork reports whether the bundle declares the permission to share
// the host's network (host-namespace:network_mode=host). Docker discards a
// published port under host networking, so such a bundle's port
// parameters cannot be published ports: checkPorts and checkComposeModel
// hold them to reaching the app through its main service's environment
// instead, on a service that uses the host's network. Nothing else is
// relaxed for them.
func (a *app) hostNetwork() bool {
	list, _ := a.meta["permissions"].([]any)
	for _, v := range list {
		p, err := orchestrator.ParsePermission(fmt.Sprint(v))
		if err == nil && p == "host-namespace:network_mode=host" {
			return true
		}
	}
	return false
}

// environmentValues returns a compose service's environment values as
// written, in map or list syntax.
func environmentValues(env any) []string {
	var out []string
	switch env := env.(type) {
	case map[string]any:
		for _, v := range env {
			out = append(out, fmt.Sprint(v))
		}
	case []any:
		for _, v := range env {
			_, val, _ := strings.Cut(fmt.Sprint(v), "=")
			out = append(out, val)
		}
	}
	return out
}

func TestCatalog_Size(t *testing.T) {
	assert.GreaterOrEqual(t, len(catalogApps(t)), minApps, "apps in the catalog")
}

// TestCatalog_EmbedsEveryFile fails when a bundle holds a file the embed
// pattern in embed.go leaves out: the catalog would ship without it.
func TestCatalog_EmbedsEveryFile(t *testing.T) {
	for _, name := range catalogApps(t) {
		err := filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == build.GeneratedDir {
				return fs.SkipDir
			}
			if d.Type().IsRegular() {
				_, err := fs.Stat(FS(), filepath.ToSlash(p))
				assert.NoError(t, err, "%s is not embedded: extend the pattern in embed.go", p)
			}
			return nil
		})
		require.NoError(t, err)
	}
}

func TestBundles(t *testing.T) {
	porterSchema := porterManifestSchema(t)
	for _, name := range catalogApps(t) {
		t.Run(name, func(t *testing.T) {
			a := loadApp(t, name)
			t.Run("manifest", func(t *testing.T) { checkManifest(t, a) })
			t.Run("lint", func(t *testing.T) { checkLint(t, a) })
			t.Run("bundle.json", func(t *testing.T) { checkBundleJSON(t, a) })
			t.Run("porter schema", func(t *testing.T) { checkPorterSchema(t, a, porterSchema) })
			t.Run("images", func(t *testing.T) { checkImages(t, a) })
			t.Run("compose file", func(t *testing.T) { checkComposeFile(t, a) })
			t.Run("compose model", func(t *testing.T) { checkComposeModel(t, a) })
			t.Run("ports", func(t *testing.T) { checkPorts(t, a) })
			t.Run("outputs", func(t *testing.T) { checkOutputs(t, a) })
			t.Run("generated secrets", func(t *testing.T) { checkGenerated(t, a) })
			t.Run("metadata", func(t *testing.T) { checkMetadata(t, a) })
			t.Run("settings", func(t *testing.T) { checkSettings(t, a) })
			t.Run("form", func(t *testing.T) { checkForm(t, a) })
			t.Run("catalog", func(t *testing.T) { checkCatalog(t, a) })
		})
	}
}

func checkManifest(t *testing.T, a *app) {
	m := a.m
	assert.Equal(t, "1.0.1", m.SchemaVersion)
	assert.Equal(t, a.name, m.Name, "name is the directory")
	assert.NotEmpty(t, m.Version)
	assert.NotEmpty(t, m.Description)
	assert.Equal(t, []string{portermixin.Name}, m.Mixins)
	assert.Equal(t, []string{"docker"}, m.Required)
	for _, action := range []string{"install", "upgrade", "uninstall", "start", "stop", "restart"} {
		steps := m.Actions[action]
		require.Len(t, steps, 1, "action %s has one step", action)
		assert.Equal(t, portermixin.Name, steps[0].Mixin, action)
		assert.Equal(t, "${ installation.name }", steps[0].Data["app"], "%s: app", action)
	}
	assert.ElementsMatch(t, []string{"start", "stop", "restart"}, m.CustomActionNames())
	up := m.Actions[manifest.ActionUpgrade][0]
	assert.Equal(t, a.install.Data["compose"], up.Data["compose"], "upgrade uses the install compose file")
	assert.Equal(t, a.main(), up.Data["main"], "upgrade has the install main service")
	assert.Equal(t, a.env, stepEnv(t, up), "upgrade passes the install env")
	assert.Equal(t, a.install.Data["exec"], up.Data["exec"], "upgrade runs the install's exec commands")
	for _, action := range []string{manifest.ActionInstall, manifest.ActionUpgrade} {
		checkExec(t, a, action, m.Actions[action][0])
	}
	assert.Equal(t, "${ bundle.parameters.purge }", m.Actions[manifest.ActionUninstall][0].Data["purge"])

	purge, ok := m.Parameter("purge")
	require.True(t, ok, "purge parameter")
	assert.Equal(t, "boolean", purge.Type())
	def, ok := purge.Default()
	assert.True(t, ok && def == false, "purge defaults to false")
	assert.Equal(t, []string{"uninstall"}, purge.ApplyTo)
}

// checkExec holds a step's exec commands to the conventions: a value
// reaches a command through the environment (passEnv, each the variable of
// a parameter the action has), never as a template pasted into the
// command, which would make it code.
func checkExec(t *testing.T, a *app, action string, s manifest.Step) {
	list, _ := s.Data["exec"].([]any)
	for i, raw := range list {
		e, ok := raw.(map[string]any)
		require.True(t, ok, "%s exec %d is a map", action, i+1)
		command, _ := e["command"].([]any)
		require.NotEmpty(t, command, "%s exec %d: command", action, i+1)
		for _, arg := range command {
			assert.NotContains(t, fmt.Sprint(arg), "${", "%s exec %d: a template in the command; read the value from passEnv", action, i+1)
		}
		pass, _ := e["passEnv"].([]any)
		for _, v := range pass {
			name := fmt.Sprint(v)
			found := slices.ContainsFunc(a.m.Parameters, func(p manifest.Parameter) bool {
				return p.EnvName() == name && p.AppliesTo(action)
			})
			assert.True(t, found, "%s exec %d: passEnv %s is the variable of no parameter applying to %s", action, i+1, name, action)
		}
	}
}

// lintDir runs build.Lint on a bundle directory with the websoft9 linter.
func lintDir(t *testing.T, dir string) []manifest.Finding {
	t.Helper()
	return mixintest.Lint(t, dir)
}

func checkLint(t *testing.T, a *app) {
	for _, f := range lintDir(t, a.name) {
		assert.NotEqual(t, manifest.LevelError, f.Level, "%s", f)
	}
}

// TestLint_ReportsStepErrors keeps the lint check above honest: the same
// call reports a websoft9 step error in a copy of a catalog bundle.
func TestLint_ReportsStepErrors(t *testing.T) {
	name := catalogApps(t)[0]
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(name)))
	path := filepath.Join(dir, "porter.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	main := regexp.MustCompile(`(?m)^      main: \S+\n`)
	require.True(t, main.Match(raw), "%s has a main line to remove", name)
	require.NoError(t, os.WriteFile(path, main.ReplaceAll(raw, nil), 0o644))

	var codes []string
	for _, f := range lintDir(t, dir) {
		if f.Level == manifest.LevelError {
			codes = append(codes, f.Code)
		}
	}
	assert.Contains(t, codes, portermixin.CodeMainRequired)
}

func checkBundleJSON(t *testing.T, a *app) {
	b, err := build.Bundle(a.m, build.BundleOptions{})
	require.NoError(t, err)
	require.NoError(t, b.Validate())
	data, err := build.MarshalBundle(b)
	require.NoError(t, err)
	problems, err := schema.ValidateBundle(data)
	require.NoError(t, err)
	assert.Empty(t, problems, "bundle.json against the CNAB bundle schema")

	assert.Len(t, b.Images, len(a.m.Images), "every image is in bundle.json, for relocation")
	for alias, img := range a.m.Images {
		assert.Equal(t, img.Repository+":"+img.Tag, b.Images[alias].Image, alias)
	}
}

// porterManifestSchema compiles Porter's manifest schema (the fixture the
// builder's tests keep) with the websoft9 step schema merged in the way
// `porter schema` merges a mixin's.
func porterManifestSchema(t *testing.T) *gojsonschema.Schema {
	t.Helper()
	const fixtures = "../orchestrator/build/testdata/porter-schema/"
	var root map[string]any
	raw, err := os.ReadFile(fixtures + "manifest.schema.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &root))

	var step bytes.Buffer
	mx := portermixin.New()
	mx.Out = &step
	require.NoError(t, mx.PrintSchema())
	var mixin map[string]any
	moved := strings.ReplaceAll(step.String(), `"#/`, `"#/mixin.websoft9/`)
	require.NoError(t, json.Unmarshal([]byte(moved), &mixin))
	root["mixin.websoft9"] = mixin

	ref := func(def string) map[string]any { return map[string]any{"$ref": "#/mixin.websoft9/definitions/" + def} }
	appendTo := func(node map[string]any, key string, v any) {
		list, ok := node[key].([]any)
		require.True(t, ok, "schema: %s is a list", key)
		node[key] = append(list, v)
	}
	props := object(t, root["properties"])
	mixinDecls := object(t, object(t, props["mixins"])["items"])["oneOf"].([]any)
	appendTo(object(t, mixinDecls[0]), "enum", portermixin.Name)
	for _, action := range []string{"install", "upgrade", "uninstall"} {
		appendTo(object(t, object(t, props[action])["items"]), "anyOf", ref(action+"Step"))
	}
	appendTo(object(t, object(t, root["additionalProperties"])["items"]), "anyOf", ref("invokeStep"))

	draft7, err := os.ReadFile(fixtures + "json-schema.json")
	require.NoError(t, err)
	loader := gojsonschema.NewSchemaLoader()
	loader.Draft = gojsonschema.Draft7
	require.NoError(t, loader.AddSchema("https://porter.sh/schema/json-schema.json", gojsonschema.NewBytesLoader(draft7)))
	compiled, err := loader.Compile(gojsonschema.NewGoLoader(root))
	require.NoError(t, err)
	return compiled
}

func object(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "schema: want an object, got %T", v)
	return m
}

func checkPorterSchema(t *testing.T, a *app, s *gojsonschema.Schema) {
	var doc any
	require.NoError(t, yaml.Unmarshal(a.m.Raw, &doc))
	res, err := s.Validate(gojsonschema.NewGoLoader(doc))
	require.NoError(t, err)
	for _, e := range res.Errors() {
		t.Errorf("porter.yaml against Porter's manifest schema: %s", e)
	}
}

func checkImages(t *testing.T, a *app) {
	require.NotEmpty(t, a.m.Images)
	for alias, img := range a.m.Images {
		named, err := reference.ParseNamed(img.Repository)
		if assert.NoError(t, err, "image %s: repository written fully (docker.io/library/...)", alias) {
			assert.Equal(t, img.Repository, named.Name(), "image %s: repository without tag or digest", alias)
		}
		assert.NotEmpty(t, img.Tag, "image %s: pinned by a tag", alias)
		assert.NotEqual(t, "latest", img.Tag, "image %s", alias)
		ref, err := reference.ParseNamed(img.Repository + ":" + img.Tag)
		if assert.NoError(t, err, "image %s", alias) {
			tagged, ok := ref.(reference.Tagged)
			assert.True(t, ok && tagged.Tag() == img.Tag, "image %s: tag %q", alias, img.Tag)
		}
		_, known := healthTools[img.Repository]
		assert.True(t, known, "image %s: list the health check programs of %s in healthTools", alias, img.Repository)
	}
}

var (
	imageVarRE  = regexp.MustCompile(`^\$\{([A-Z][A-Z0-9_]*_IMAGE)(:\?[^}]*)?\}$`)
	imageTmplRE = regexp.MustCompile(`^\$\{ bundle\.images\.([A-Za-z0-9_]+)\.repository \}:\$\{ bundle\.images\.([A-Za-z0-9_]+)\.tag \}$`)
	// A host port from a parameter, on the loopback, on every address, or
	// on the address StackHub sets (custom.sh.websoft9.web.address).
	hostPortRE = regexp.MustCompile(`^(127\.0\.0\.1:|\$\{WEB_ADDRESS:-0\.0\.0\.0\}:)?\$\{([A-Z][A-Z0-9_]*)(:\?[^}]*)?\}:\d+(/(tcp|udp))?$`)
	// An environment value that is one step env variable, e.g. the port
	// of a host-network bundle: ${WEB_PORT:?WEB_PORT is required}.
	composeVarRE = regexp.MustCompile(`^\$\{([A-Z][A-Z0-9_]*)(:\?[^}]*)?\}$`)
)

// checkComposeFile checks the compose file as written.
func checkComposeFile(t *testing.T, a *app) {
	c := a.compose
	require.NotEmpty(t, c.Services)
	require.Contains(t, c.Services, a.main(), "main service")
	used := map[string]bool{}
	for name, s := range c.Services {
		// The image comes from the step env, which names a declared image,
		// so relocation (which rewrites bundle.images) reaches compose.
		match := imageVarRE.FindStringSubmatch(s.Image)
		if assert.NotNil(t, match, "service %s: image %q must be ${<NAME>_IMAGE}", name, s.Image) {
			tmpl, ok := a.env[match[1]]
			if assert.True(t, ok, "service %s: %s is not in the install step env", name, match[1]) {
				m := imageTmplRE.FindStringSubmatch(tmpl)
				if assert.NotNil(t, m, "%s: want ${ bundle.images.<alias>.repository }:${ bundle.images.<alias>.tag }, got %q", match[1], tmpl) {
					assert.Equal(t, m[1], m[2], "%s: one alias", match[1])
					assert.Contains(t, a.m.Images, m[1], "%s: a declared image", match[1])
					used[m[1]] = true
				}
			}
		}
		assert.Nil(t, s.Build, "service %s: no build", name)
		assert.Empty(t, s.ContainerName, "service %s: no container_name", name)
		assert.Equal(t, "unless-stopped", s.Restart, "service %s: restart", name)
		if assert.NotEmpty(t, s.Healthcheck, "service %s: healthcheck", name) {
			assert.NotEmpty(t, s.Healthcheck["test"], "service %s: healthcheck test", name)
			assert.NotEqual(t, true, s.Healthcheck["disable"], "service %s: healthcheck", name)
		}
		for _, p := range s.Ports {
			m := hostPortRE.FindStringSubmatch(p)
			if assert.NotNil(t, m, "service %s: port %q must be [127.0.0.1: or ${WEB_ADDRESS:-0.0.0.0}:]${VAR}:<port>, the host port from a parameter", name, p) {
				_, ok := a.env[m[2]]
				assert.True(t, ok, "service %s: port %q: %s is not in the install step env", name, p, m[2])
			}
		}
		for _, v := range s.Volumes {
			source, _, ok := strings.Cut(v, ":")
			if assert.True(t, ok, "service %s: volume %q needs a name", name, v) {
				assert.Contains(t, c.Volumes, source, "service %s: volume %q must be a declared named volume", name, v)
			}
		}
		for dep, d := range s.DependsOn {
			assert.Contains(t, c.Services, dep, "service %s: depends_on", name)
			assert.Equal(t, types.ServiceConditionHealthy, d.Condition, "service %s: depends_on %s", name, dep)
		}
	}
	for name := range c.Services {
		if name != a.main() {
			assert.Contains(t, c.Services[a.main()].DependsOn, name, "the main service waits for %s", name)
		}
	}
	for alias := range a.m.Images {
		assert.True(t, used[alias], "image %s is used by a service", alias)
	}
}

// sampleData is the template data of an install with each port parameter
// at its minimum, secrets set and the other parameters at their default.
func sampleData(a *app) map[string]any {
	params := map[string]any{}
	for _, p := range a.m.Parameters {
		switch def, hasDef := p.Default(); {
		case p.Type() == "integer":
			v, _ := p.IntBound("minimum")
			params[p.Name] = v
		case hasDef:
			params[p.Name] = def
		default:
			params[p.Name] = "Sample0" + strings.Repeat("x", 25)
		}
	}
	images := map[string]any{}
	for alias, img := range a.m.Images {
		images[alias] = map[string]any{"repository": img.Repository, "tag": img.Tag, "digest": img.Digest}
	}
	return map[string]any{
		"installation": map[string]any{"name": "sample"},
		"bundle":       map[string]any{"name": a.m.Name, "parameters": params, "images": images},
	}
}

// checkComposeModel loads the compose file as the mixin does at install
// (compose interpolation with the rendered step env) and checks the model
// compose would run.
func checkComposeModel(t *testing.T, a *app) {
	step, err := a.m.RenderStep(a.install, sampleData(a))
	require.NoError(t, err)
	var env []string
	rendered := stepEnv(t, step)
	params := sampleData(a)["bundle"].(map[string]any)["parameters"].(map[string]any)
	for k, v := range rendered {
		if name, ok := strings.CutPrefix(v, "${ bundle.parameters."); ok { // a passEnv variable
			rendered[k] = fmt.Sprint(params[strings.TrimSuffix(name, " }")])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rendered)) {
		env = append(env, k+"="+rendered[k])
	}
	opts, err := cli.NewProjectOptions([]string{a.composePath},
		cli.WithName("websoft9-sample"), cli.WithWorkingDirectory(a.name), cli.WithEnv(env))
	require.NoError(t, err)
	project, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "compose loads with the step's env")
	require.NoError(t, portermixin.Check(project, a.main()))

	images := map[string]string{}
	for _, img := range a.m.Images {
		images[img.Repository+":"+img.Tag] = img.Repository
	}
	for name, s := range project.Services {
		repo, ok := images[s.Image]
		assert.True(t, ok, "service %s: image %q is a declared image", name, s.Image)
		if assert.NotNil(t, s.HealthCheck, "service %s: healthcheck", name) && assert.NotEmpty(t, s.HealthCheck.Test, name) {
			assert.False(t, s.HealthCheck.Disable, name)
			program := healthProgram(s.HealthCheck.Test)
			assert.Contains(t, healthTools[repo], program, "service %s: health check program of %s", name, repo)
			if iv := s.HealthCheck.Interval; assert.NotNil(t, iv, "service %s: healthcheck interval", name) {
				assert.LessOrEqual(t, time.Duration(*iv), 10*time.Second, "service %s: a few seconds' interval (the first probe waits a full one)", name)
			}
		}
		for _, v := range s.Volumes {
			assert.Contains(t, project.Volumes, v.Source, "service %s: volume %s", name, v.Target)
		}
	}
	for _, p := range a.portParams() {
		want := fmt.Sprint(sampleData(a)["bundle"].(map[string]any)["parameters"].(map[string]any)[p.Name])
		if a.hostNetwork() {
			// No published ports on the host's network (see hostNetwork):
			// the main service shares it and gets the port in its
			// environment.
			s := project.Services[a.main()]
			assert.Equal(t, "host", s.NetworkMode, "%s: the main service of a host-network bundle uses the host's network", p.Name)
			assert.Empty(t, s.Ports, "%s: ports are discarded on the host's network", p.Name)
			found := false
			for _, v := range s.Environment {
				found = found || v != nil && *v == want
			}
			assert.True(t, found, "parameter %s (%s) reaches the main service's environment", p.Name, want)
			continue
		}
		found := false
		for name, s := range project.Services {
			for _, port := range s.Ports {
				if port.Published != want {
					continue
				}
				found = true
				if strings.HasPrefix(p.Name, "db_") {
					assert.Equal(t, "127.0.0.1", port.HostIP, "%s is published on loopback only", p.Name)
				} else if p.Name == "port" {
					assert.Equal(t, a.main(), name, "port is the main service's")
				}
			}
		}
		assert.True(t, found, "parameter %s (%s) is a published port", p.Name, want)
	}
}

// healthProgram returns the program a health check test starts.
func healthProgram(test types.HealthCheckTest) string {
	switch test[0] {
	case "CMD":
		if len(test) > 1 {
			return test[1]
		}
	case "CMD-SHELL":
		if len(test) > 1 {
			if f := strings.Fields(test[1]); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

func checkPorts(t *testing.T, a *app) {
	params := a.portParams()
	require.NotEmpty(t, params)
	require.True(t, slices.ContainsFunc(params, func(p manifest.Parameter) bool { return p.Name == "port" }), "a port parameter")
	for _, p := range params {
		assert.Equal(t, "integer", p.Type(), p.Name)
		lo, okLo := p.IntBound("minimum")
		hi, okHi := p.IntBound("maximum")
		if assert.True(t, okLo && okHi, "%s has minimum and maximum", p.Name) {
			assert.True(t, 1024 <= lo && lo <= hi && hi <= 65535, "%s: range %d-%d within 1024-65535", p.Name, lo, hi)
		}
		_, hasDef := p.Default()
		assert.False(t, hasDef, "%s: the engine picks the port", p.Name)
		v, ok := a.envFor("${ bundle.parameters." + p.Name + " }")
		if !assert.True(t, ok, "%s is passed in the install step env", p.Name) {
			continue
		}
		if a.hostNetwork() {
			// No published ports on the host's network (see hostNetwork).
			main := a.compose.Services[a.main()]
			assert.Equal(t, "host", main.NetworkMode, "%s: the main service of a host-network bundle uses the host's network", p.Name)
			found := false
			for _, val := range environmentValues(main.Environment) {
				if m := composeVarRE.FindStringSubmatch(val); m != nil && m[1] == v {
					found = true
				}
			}
			assert.True(t, found, "%s (${%s}) is a value of the main service's environment", p.Name, v)
			continue
		}
		found := false
		for name, s := range a.compose.Services {
			for _, port := range s.Ports {
				if m := hostPortRE.FindStringSubmatch(port); m != nil && m[2] == v {
					found = true
					if strings.HasPrefix(p.Name, "db_") {
						assert.Equal(t, "127.0.0.1:", m[1], "service %s: %q (databases on loopback only)", name, port)
					} else {
						assert.Equal(t, "${WEB_ADDRESS:-0.0.0.0}:", m[1], "service %s: %q (the web port on the address StackHub sets)", name, port)
					}
				}
			}
		}
		assert.True(t, found, "%s (${%s}) is a published port in the compose file", p.Name, v)
	}
}

// outputSources are the sources a websoft9 step output may have.
var outputSources = []string{"value", "env", "container", "port"}

func checkOutputs(t *testing.T, a *app) {
	for _, o := range a.m.Outputs {
		assert.NotEmpty(t, o.Schema["type"], "output %s has a type", o.Name)
		for _, action := range []string{manifest.ActionInstall, manifest.ActionUpgrade} {
			if !o.AppliesTo(action) {
				continue
			}
			so, ok := a.stepOutputs(action)[o.Name]
			if !assert.True(t, ok, "output %s comes from a %s step", o.Name, action) {
				continue
			}
			var sources []string
			for _, k := range outputSources {
				if _, ok := so[k]; ok {
					sources = append(sources, k)
				}
			}
			assert.Len(t, sources, 1, "%s output %s: one source", action, o.Name)
			if key, ok := so["env"].(string); ok {
				assert.Contains(t, a.env, key, "%s output %s", action, o.Name)
			}
		}
	}
	for _, action := range []string{manifest.ActionInstall, manifest.ActionUpgrade} {
		for name := range a.stepOutputs(action) {
			_, ok := a.m.Output(name)
			assert.True(t, ok, "%s step output %s is a bundle output", action, name)
		}
	}
	install := a.stepOutputs(manifest.ActionInstall)
	assert.Equal(t, a.main(), install["containerName"]["container"], "containerName is the main container")
	assert.Equal(t, "WEB_PORT", install["port"]["env"], "port output")
	if _, ok := a.m.Parameter("db_port"); ok {
		assert.Contains(t, install, "db_port", "db_port output")
	}
}

func checkGenerated(t *testing.T, a *app) {
	raw, ok := a.meta["generate"].([]any)
	require.True(t, ok, "generate is a list")
	var generate []string
	for _, v := range raw {
		s, ok := v.(string)
		require.True(t, ok, "generate lists parameter names")
		generate = append(generate, s)
	}
	install := a.stepOutputs(manifest.ActionInstall)
	for _, name := range generate {
		p, ok := a.m.Parameter(name)
		if !assert.True(t, ok, "generated %s is a parameter", name) {
			continue
		}
		assert.True(t, p.Sensitive, "%s is sensitive", name)
		assert.Equal(t, "string", p.Type(), name)
		_, hasDef := p.Default()
		assert.False(t, hasDef, "%s has no default: the engine generates it", name)
		assert.True(t, p.AppliesTo(manifest.ActionInstall) && p.AppliesTo(manifest.ActionUpgrade), "%s reaches install and upgrade", name)
		o, ok := a.m.Output(name)
		if assert.True(t, ok, "generated %s is an output", name) {
			assert.True(t, o.Sensitive, "output %s is sensitive", name)
			assert.Equal(t, []string{manifest.ActionInstall}, o.ApplyTo, "output %s", name)
			key, _ := install[name]["env"].(string)
			assert.Equal(t, "${ bundle.parameters."+name+" }", a.env[key], "output %s is the parameter, through the step env", name)
		}
	}
	for _, p := range a.m.Parameters {
		if _, hasDef := p.Default(); p.Sensitive && !hasDef {
			assert.Contains(t, generate, p.Name, "sensitive %s without default must be generated", p.Name)
		}
	}
}

var quantityRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Mi|Gi|Ti)$`)

func checkMetadata(t *testing.T, a *app) {
	require.NotNil(t, a.meta, "custom.%s", metaKey)
	str := func(m map[string]any, key string) string {
		s, _ := m[key].(string)
		assert.NotEmpty(t, s, "%s.%s", metaKey, key)
		return s
	}
	str(a.meta, "title")
	assert.True(t, strings.HasSuffix(str(a.meta, "description"), "."), "description is a sentence")
	assert.Contains(t, categories, str(a.meta, "category"))
	for _, k := range []string{"homepage", "documentation"} {
		assert.True(t, strings.HasPrefix(str(a.meta, k), "https://"), k)
	}

	icon := str(a.meta, "icon")
	data, err := fs.ReadFile(FS(), a.name+"/"+icon)
	if assert.NoError(t, err, "icon %s is embedded", icon) {
		var svg struct {
			XMLName xml.Name
			ViewBox string `xml:"viewBox,attr"`
		}
		if assert.NoError(t, xml.Unmarshal(data, &svg), "icon is XML") {
			assert.Equal(t, "svg", svg.XMLName.Local)
			assert.NotEmpty(t, svg.ViewBox)
		}
	}

	login, ok := a.meta["login"].(map[string]any)
	if assert.True(t, ok, "login") {
		assert.True(t, strings.HasPrefix(str(login, "path"), "/"), "login.path")
		str(login, "user")
		password := str(login, "password")
		if _, ok := a.m.Parameter("admin_password"); ok {
			assert.Contains(t, password, "admin_password", "login.password points at the generated admin_password")
		}
	}

	req, ok := a.meta["requirements"].(map[string]any)
	if assert.True(t, ok, "requirements") {
		cpu := str(req, "cpu")
		if n, err := strconv.ParseFloat(cpu, 64); assert.NoError(t, err, "cpu %q", cpu) {
			assert.True(t, n > 0 && n <= 16, "cpu %q", cpu)
		}
		assert.Regexp(t, quantityRE, str(req, "memory"))
		assert.Regexp(t, quantityRE, str(req, "disk"))
	}
}

func checkCatalog(t *testing.T, a *app) {
	got, err := catalog.ReadApp(a.name)
	require.NoError(t, err)
	assert.Equal(t, a.name, got.Name)
	assert.Equal(t, a.main(), got.Main)
	assert.ElementsMatch(t, slices.Collect(maps.Keys(a.compose.Services)), got.Services)
	assert.True(t, got.HasPurge)
	assert.ElementsMatch(t, []string{"start", "stop", "restart"}, got.Actions)
	var ports []string
	for _, p := range got.Ports {
		ports = append(ports, p.Name)
	}
	var want []string
	for _, p := range a.portParams() {
		want = append(want, p.Name)
	}
	assert.ElementsMatch(t, want, ports)
	assert.NotEmpty(t, got.Requirements.Memory)
}

// paramRefRE finds the parameters a step template reads.
var paramRefRE = regexp.MustCompile(`\$\{ *bundle\.parameters\.([A-Za-z0-9_]+) *\}`)

// checkSettings holds the settings a person types to the rules that keep a
// default install input-free and a bad value out of the app:
//   - text (a string parameter without enum) reaches compose through the
//     step's passEnv, byte for byte, and is never templated into the step
//     (env values hold only integers, booleans and enums);
//   - a string parameter a person sets at install has a default or is
//     generated, so the form needs no input;
//   - an integer or *_port setting has bounds, and one not listed as a
//     port keeps the engine from allocating it (custom ports);
//   - a setting applies to install and upgrade alike.
func checkSettings(t *testing.T, a *app) {
	generated := map[string]bool{}
	if list, ok := a.meta["generate"].([]any); ok {
		for _, v := range list {
			s, _ := v.(string)
			generated[s] = true
		}
	}
	ports := map[string]bool{}
	for _, p := range a.portParams() {
		ports[p.Name] = true
	}
	for _, action := range []string{manifest.ActionInstall, manifest.ActionUpgrade} {
		for _, s := range a.m.Actions[action] {
			env, _ := s.Data["env"].(map[string]any)
			for k, v := range env {
				for _, m := range paramRefRE.FindAllStringSubmatch(fmt.Sprint(v), -1) {
					p, ok := a.m.Parameter(m[1])
					if !assert.True(t, ok, "%s env %s: parameter %s", action, k, m[1]) {
						continue
					}
					_, enum := p.Schema["enum"]
					assert.True(t, p.Type() != "string" || enum,
						"%s env %s: string parameter %s is text a person types: pass it with passEnv", action, k, p.Name)
				}
			}
		}
	}
	for _, p := range a.m.Parameters {
		if p.Name == "purge" || ports[p.Name] {
			continue
		}
		assert.True(t, p.AppliesTo(manifest.ActionInstall) && p.AppliesTo(manifest.ActionUpgrade), "%s applies to install and upgrade", p.Name)
		_, hasDef := p.Default()
		assert.True(t, hasDef || generated[p.Name], "%s has a default or is generated: a default install needs no input", p.Name)
		if p.Type() == "integer" {
			_, lo := p.IntBound("minimum")
			_, hi := p.IntBound("maximum")
			assert.True(t, lo && hi, "%s has minimum and maximum", p.Name)
		}
		if def, ok := p.Default(); ok && p.Type() == "string" {
			if pat, ok := p.Schema["pattern"].(string); ok {
				assert.Regexp(t, pat, def, "%s: the default matches the pattern", p.Name)
			}
			if enum, ok := p.Schema["enum"].([]any); ok {
				assert.Contains(t, enum, def, "%s: the default is in the enum", p.Name)
			}
		}
	}
	for _, name := range []string{"smtp_password"} {
		if p, ok := a.m.Parameter(name); ok {
			assert.True(t, p.Sensitive, "%s is sensitive", name)
			assert.False(t, generated[name], "%s is not generated: empty means no authentication", name)
		}
	}
}

// checkForm checks custom["sh.websoft9"].form: groups with a name, a label
// and fields that are parameters a person sets (no port, no uninstall
// option), each field in one group, and a zh label for each group.
func checkForm(t *testing.T, a *app) {
	raw, ok := a.meta["form"]
	if !ok {
		return
	}
	groups, ok := raw.([]any)
	require.True(t, ok, "form is a list of groups")
	ports := map[string]bool{}
	for _, p := range a.portParams() {
		ports[p.Name] = true
	}
	seen := map[string]string{}
	var names []string
	for i, g := range groups {
		gm, ok := g.(map[string]any)
		require.True(t, ok, "form[%d] is a map", i)
		name, _ := gm["group"].(string)
		label, _ := gm["label"].(string)
		assert.Regexp(t, `^[a-z][a-z0-9_]*$`, name, "form[%d].group", i)
		assert.NotEmpty(t, label, "form group %s: label", name)
		assert.NotContains(t, names, name, "form group %s is named once", name)
		names = append(names, name)
		fields, ok := gm["fields"].([]any)
		if !assert.True(t, ok && len(fields) > 0, "form group %s lists fields", name) {
			continue
		}
		for _, f := range fields {
			field, _ := f.(string)
			p, ok := a.m.Parameter(field)
			if !assert.True(t, ok, "form group %s: %q is a parameter", name, field) {
				continue
			}
			assert.False(t, ports[field] || field == "purge", "form group %s: %s is not a setting a person types", name, field)
			if other, dup := seen[field]; dup {
				t.Errorf("form: %s is in groups %s and %s", field, other, name)
			}
			seen[field] = name
			assert.True(t, p.AppliesTo(manifest.ActionInstall), "form field %s applies to install", field)
		}
	}
	i18n, _ := a.meta["i18n"].(map[string]any)
	zh, _ := i18n["zh"].(map[string]any)
	labels, _ := zh["form"].(map[string]any)
	for _, name := range names {
		s, _ := labels[name].(string)
		assert.NotEmpty(t, s, "i18n.zh.form.%s", name)
	}
	for name := range labels {
		assert.Contains(t, names, name, "i18n.zh.form.%s names a form group", name)
	}
	texts, _ := zh["parameters"].(map[string]any)
	for field := range seen {
		assert.Contains(t, texts, field, "i18n.zh.parameters.%s: a form field has a zh label", field)
	}
}
