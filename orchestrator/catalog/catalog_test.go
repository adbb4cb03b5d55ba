package catalog_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/bundles"
	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
)

func TestLoadTestdataCatalog(t *testing.T) {
	c, err := catalog.Load("../../bundles/testdata")
	require.NoError(t, err)
	app, err := c.App(t.Context(), "demo")
	require.NoError(t, err)
	assert.Equal(t, "0.1.0", app.Version)
	assert.Equal(t, []orchestrator.PortParam{{Name: "port", Min: 9001, Max: 9999}, {Name: "db_port", Min: 3307, Max: 3399}}, app.Ports)
	assert.Equal(t, []string{"db", "web"}, app.Services)
	assert.Equal(t, "web", app.Main)
	assert.True(t, app.HasPurge)
	assert.Equal(t, []string{"websoft9-demo", "websoft9-demo-db"}, orchestrator.ContainerNames("demo", app))

	_, err = c.App(t.Context(), "nope")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
}

func TestLoadSkipsTestdata(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "testdata", "demo"), os.DirFS("../../bundles/testdata/demo")))
	c, err := catalog.Load(dir)
	require.NoError(t, err)
	apps, err := c.Apps(t.Context())
	require.NoError(t, err)
	assert.Empty(t, apps)
}

func TestLoadRefusesMismatchedName(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "other"), os.DirFS("../../bundles/testdata/demo")))
	_, err := catalog.Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `bundle name "demo" must match its directory`)
}

func TestReadAppMetadata(t *testing.T) {
	app, err := catalog.ReadApp("../../bundles/redmine")
	require.NoError(t, err)
	assert.Equal(t, "Redmine", app.Title)
	assert.Equal(t, []string{"db_password", "db_root_password", "secret_key_base"}, app.Generate)
	assert.Equal(t, []string{"db_password", "db_root_password", "secret_key_base"}, app.SensitiveOutputs)
	assert.Equal(t, []string{"docker.io/library/mariadb:10.11.10", "docker.io/library/redmine:5.1.3"}, app.Images)
	assert.Equal(t, orchestrator.AppMeta{Category: "project-management", Icon: "icon.svg", Homepage: "https://www.redmine.org",
		Documentation: "https://www.redmine.org/guide",
		Login:         orchestrator.Login{Path: "/login", User: "admin", Password: "admin (Redmine asks for a new one at the first login)"}}, app.Meta)
	assert.Equal(t, orchestrator.Requirements{CPU: "1", Memory: "2Gi", Disk: "5Gi"}, app.Requirements)
}

func TestReadAppOrigin(t *testing.T) {
	app, err := catalog.ReadApp("../../bundles/testdata/demo")
	require.NoError(t, err)
	assert.Zero(t, app.Origin, "a bundle that names no store app")

	dir := filepath.Join(t.TempDir(), "demo")
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
	p := filepath.Join(dir, "porter.yaml")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	converted := strings.Replace(string(raw), "  sh.websoft9:\n", "  sh.websoft9:\n    source: {store: umbrel, id: uptime-kuma, version: 1.23.16}\n", 1)
	require.NotEqual(t, string(raw), converted)
	require.NoError(t, os.WriteFile(p, []byte(converted), 0o644))
	app, err = catalog.ReadApp(dir)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.Origin{Store: "umbrel", ID: "uptime-kuma", Version: "1.23.16"}, app.Origin)
}

func TestReadAppRefusesBadMetadata(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"generate a plain parameter", "generate: [db_password, db_root_password, secret_key_base]", "generate: [port]", `"port" must be a sensitive string parameter`},
		{"generate an unknown parameter", "generate: [db_password, db_root_password, secret_key_base]", "generate: [nope]", `"nope" must be a sensitive string parameter`},
		{"generate not a list", "generate: [db_password, db_root_password, secret_key_base]", "generate: db_password", "generate must list parameter names"},
		{"icon outside the bundle", "icon: icon.svg", "icon: ../demo/icon.svg", "must be a file in the bundle directory"},
		{"icon missing", "icon: icon.svg", "icon: nope.svg", "no such file"},
		{"login path relative", "path: /login", "path: login", "must start with /"},
		{"permissions not a list", "generate: [db_password, db_root_password, secret_key_base]",
			"generate: [db_password, db_root_password, secret_key_base]\n    permissions: cap-add:NET_ADMIN", "permissions must list permissions"},
		{"permission unknown", "generate: [db_password, db_root_password, secret_key_base]",
			"generate: [db_password, db_root_password, secret_key_base]\n    permissions: [cap:NET_ADMIN]", `unknown kind "cap"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "redmine")
			require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/redmine")))
			raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
			require.NoError(t, err)
			require.Contains(t, string(raw), tc.from)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(strings.Replace(string(raw), tc.from, tc.to, 1)), 0o644))
			_, err = catalog.ReadApp(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestExtract(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "catalog")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stale"), 0o755))
	fsys := fstest.MapFS{
		"blog/porter.yaml":         {Data: []byte("name: blog\n")},
		"blog/docker-compose.yml":  {Data: []byte("services: {}\n")},
		"shop/porter.yaml":         {Data: []byte("name: shop\n")},
		"shop/sub/dir/config.json": {Data: []byte("{}")},
	}
	require.NoError(t, catalog.Extract(fsys, dir))
	for name, f := range fsys {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, f.Data, got)
	}
	_, err := os.Stat(filepath.Join(dir, "stale"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the old catalog is replaced")
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary tree is left beside it")

	// The built-in catalog extracts and loads.
	require.NoError(t, catalog.Extract(bundles.FS(), dir))
	c, err := catalog.Load(dir)
	require.NoError(t, err)
	_, err = c.App(t.Context(), "redmine")
	require.NoError(t, err)
}

func TestAddKeepsTheNewestPulledVersion(t *testing.T) {
	c, err := catalog.Load(t.TempDir())
	require.NoError(t, err)
	// The version moves when the catalog changes, not when an Add keeps it.
	add := func(version string, moves bool) {
		t.Helper()
		v := c.Version()
		require.NoError(t, c.Add(orchestrator.App{Name: "pulled", Version: version, Source: "r.test/pulled:v" + version, Digest: "sha256:" + version}, orchestrator.AddOptions{}))
		assert.Equal(t, moves, c.Version() > v, "add %s", version)
	}
	add("0.1.0", true)
	add("0.2.0", true)
	add("0.1.0", false) // an older reference installed later
	got, err := c.App(t.Context(), "pulled")
	require.NoError(t, err)
	assert.Equal(t, "0.2.0", got.Version)
	add("0.2.0", true) // the same version again replaces (a re-pull)
}

// TestAddNeverReplacesSilently: the same name and version with another
// digest is a conflict unless forced.
func TestAddNeverReplacesSilently(t *testing.T) {
	c, err := catalog.Load(t.TempDir())
	require.NoError(t, err)
	app := orchestrator.App{Name: "pulled", Version: "1.0.0", Source: "r.test/pulled:v1.0.0@sha256:aa", Digest: "sha256:aa"}
	require.NoError(t, c.Add(app, orchestrator.AddOptions{}))
	other := app
	other.Digest, other.Source = "sha256:bb", "r.test/pulled:v1.0.0@sha256:bb"
	err = c.Add(other, orchestrator.AddOptions{})
	require.Error(t, err)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "sha256:aa")
	got, err := c.App(t.Context(), "pulled")
	require.NoError(t, err)
	assert.Equal(t, "sha256:aa", got.Digest, "the entry is kept")

	require.NoError(t, c.Add(other, orchestrator.AddOptions{Force: true}))
	got, err = c.App(t.Context(), "pulled")
	require.NoError(t, err)
	assert.Equal(t, "sha256:bb", got.Digest, "forced")
}

func TestAddNeverShadowsTheCatalogDirectory(t *testing.T) {
	c, err := catalog.Load("../../bundles")
	require.NoError(t, err)
	err = c.Add(orchestrator.App{Name: "redmine", Version: "99.0.0", Source: "r.test/redmine:v99"}, orchestrator.AddOptions{Force: true})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	err = c.Add(orchestrator.App{Name: "Bad Name", Source: "x"}, orchestrator.AddOptions{})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
}

// A bundle's declared permissions are read canonical; a catalog
// directory's bundle is identified by the digest of its files, which any
// change to them changes (the builder's .cnab/ aside).
func TestPermissionsAndDirDigest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "redmine")
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/redmine")))
	app, err := catalog.ReadApp(dir)
	require.NoError(t, err)
	assert.Nil(t, app.Permissions, "redmine needs nothing beyond the default policy")

	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	from := "generate: [db_password, db_root_password, secret_key_base]"
	require.Contains(t, string(raw), from)
	withPerms := strings.Replace(string(raw), from, from+"\n    permissions: [privileged, \"cap-add:net_admin\", cap-add:NET_ADMIN]", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(withPerms), 0o644))
	app, err = catalog.ReadApp(dir)
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Permission{"cap-add:NET_ADMIN", "privileged"}, app.Permissions)

	d1, err := catalog.DirDigest(dir)
	require.NoError(t, err)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, d1)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".cnab"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".cnab", "bundle.json"), []byte("{}"), 0o644))
	d2, err := catalog.DirDigest(dir)
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "the build output is not the bundle")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "icon.svg"), []byte("<svg/>"), 0o644))
	d3, err := catalog.DirDigest(dir)
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3, "a changed file is another bundle")

	c, err := catalog.Load(filepath.Dir(dir))
	require.NoError(t, err)
	loaded, err := c.App(t.Context(), "redmine")
	require.NoError(t, err)
	assert.Equal(t, d3, loaded.Digest, "Load gives each app its directory's digest")
}

// TestParameterSpecs: the demo's parameters as an install form shows
// them: types, defaults (never a sensitive one's), rules, which are ports
// and which may be set.
func TestParameterSpecs(t *testing.T) {
	app, err := catalog.ReadApp("../../bundles/testdata/demo")
	require.NoError(t, err)
	byName := map[string]orchestrator.ParameterSpec{}
	var names []string
	for _, p := range app.Parameters {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"port", "db_port", "message", "admin_password", "purge"}, names, "porter.yaml's order")
	port := byName["port"]
	assert.True(t, port.Port)
	assert.Equal(t, "integer", port.Type)
	assert.EqualValues(t, 9001, port.Rules["minimum"])
	assert.EqualValues(t, 9999, port.Rules["maximum"])
	assert.False(t, port.Required, "StackHub picks ports")
	msg := byName["message"]
	assert.Equal(t, "hello", msg.Default)
	assert.True(t, msg.Settable)
	assert.False(t, msg.Required, "it has a default")
	pw := byName["admin_password"]
	assert.True(t, pw.Sensitive)
	assert.Nil(t, pw.Default, "a sensitive default is never shown")
	assert.False(t, byName["purge"].Settable, "an uninstall option")
	assert.Equal(t, []string{"uninstall"}, byName["purge"].ApplyTo)
}

// TestTexts: custom["sh.websoft9"].i18n gives an app's words in another
// language; a parameter the bundle lacks, or an unknown key, is refused.
func TestTexts(t *testing.T) {
	app, err := catalog.ReadApp("../../bundles/testdata/demo")
	require.NoError(t, err)
	assert.Equal(t, "演示", app.Texts["zh"].Title)
	assert.Equal(t, "消息", app.Texts["zh"].Parameters["message"].Label)

	redmine, err := catalog.ReadApp("../../bundles/redmine")
	require.NoError(t, err, "i18n.<lang>.form, the labels of the install form's groups, is accepted")
	assert.Equal(t, "站点标题", redmine.Texts["zh"].Parameters["site_title"].Label)

	for _, tc := range []struct{ yaml, want string }{
		{"      zh:\n        parameters:\n          nope: {label: x}\n", `no parameter "nope"`},
		{"      zh:\n        titel: x\n", `unknown key "titel"`},
		{"      chinese:\n        title: x\n", "not a language tag"},
		{"      zh:\n        parameters:\n          message: {label: x, hint: y}\n", `unknown key "hint"`},
		{"      zh:\n        form: [site]\n", "must map form groups to labels"},
		{"      zh:\n        form: {site: [x]}\n", "form.site must be a string"},
	} {
		dir := filepath.Join(t.TempDir(), "demo")
		require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
		raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
		require.NoError(t, err)
		// The demo's i18n block (lines indented past it) becomes tc.yaml.
		text := regexp.MustCompile(`(?m)^    i18n:\n(?:      .*\n)+`).ReplaceAllString(string(raw), "    i18n:\n"+tc.yaml)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))
		_, err = catalog.ReadApp(dir)
		if assert.Error(t, err, tc.yaml) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

func TestForm(t *testing.T) {
	app, err := catalog.ReadApp("../../bundles/testdata/demo")
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.FormGroup{{ID: "general", Label: "General", Fields: []string{"message"}}}, app.Form)
	assert.Equal(t, map[string]string{"general": "常规"}, app.Texts["zh"].Form)

	for _, tc := range []struct{ yaml, want string }{
		{"      - group: general\n        fields: [nope]\n", `no parameter "nope"`},
		{"      - group: general\n        fields: [purge]\n", `"purge" is not a setting`},
		{"      - group: general\n        fields: [message]\n      - group: other\n        fields: [message]\n", `"message" is already in group general`},
		{"      - group: General Settings\n        fields: [message]\n", "short lower-case ID"},
		{"      - group: general\n        fields: [message]\n      - group: general\n        fields: [admin_password]\n", `group "general" is given twice`},
		{"      - group: general\n        field: [message]\n", `unknown key "field"`},
		{"      - group: general\n", "names no fields"},
		{"      - group: general\n        fields: [message]\n        advanced: yes please\n", "advanced must be true or false"},
		{"      general: [message]\n", "must be a list of groups"},
		// A zh label for a group the form does not have.
		{"      - group: site\n        fields: [message]\n", `the form has no group "general"`},
	} {
		dir := filepath.Join(t.TempDir(), "demo")
		require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
		raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
		require.NoError(t, err)
		// The demo's form block (lines indented past it) becomes tc.yaml.
		text := regexp.MustCompile(`(?m)^    form:\n(?:      .*\n)+`).ReplaceAllString(string(raw), "    form:\n"+tc.yaml)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))
		_, err = catalog.ReadApp(dir)
		if assert.Error(t, err, tc.yaml) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}
