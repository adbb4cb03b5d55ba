// Package catalog reads the app catalog: one Porter bundle per directory
// (<dir>/<app>/porter.yaml) and, from each, what the engine needs: port
// parameters with their ranges, the compose services the install creates,
// the main service, and the websoft9 metadata in custom["sh.websoft9"],
// among it the permissions a bundle declares beyond the default bundle
// policy. A directory's bundle is identified by the digest of its files
// (DirDigest), to which an operator grants those permissions. Directories
// named testdata are skipped.
//
// It imports orchestrator, the manifest reader and YAML.
package catalog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Default port ranges for port parameters without minimum/maximum.
var (
	DefaultWebPorts = [2]int{9001, 9999}
	DefaultDBPorts  = [2]int{3307, 3399}
)

// Catalog is a catalog read once from a directory, plus the bundles added
// later from registries or archives ([Catalog.Add]).
type Catalog struct {
	mu   sync.RWMutex
	apps map[string]orchestrator.App
	// version moves after every Add that changes apps (Version).
	version atomic.Uint64
}

// Version implements orchestrator.Versioned.
func (c *Catalog) Version() uint64 { return c.version.Load() }

// Add puts a pulled or imported app (Source set) in the catalog, replacing
// one of the same name from a registry or archive unless that one is newer
// (the catalog holds the newest version; a newer one makes installations
// of older ones upgradable). It refuses to shadow an app of the catalog
// directory, and, unless opts.Force, to replace an entry of the same name
// and version whose bundle digest differs: ECONFLICT.
func (c *Catalog) Add(app orchestrator.App, opts orchestrator.AddOptions) error {
	if err := naming.ValidateApp(app.Name); err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "bundle name %q cannot name an app", app.Name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.apps[app.Name]
	switch {
	case ok && cur.Source == "":
		return orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has an app named %s; a bundle from elsewhere cannot replace it", app.Name)
	case ok && cur.Version == app.Version && cur.Digest != app.Digest && !opts.Force:
		return orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has %s %s as %s; this bundle is %s: a bundle never silently replaces another of the same version (bump the version, or add it with force)",
			app.Name, app.Version, cur.Digest, app.Digest)
	case ok && orchestrator.NewerVersion(cur.Version, app.Version):
		// The catalog shows the newest version; installing an older
		// reference still runs the bundle it names.
		return nil
	}
	c.apps[app.Name] = app
	c.version.Add(1)
	return nil
}

var _ orchestrator.Catalog = (*Catalog)(nil)

// Load reads every <dir>/<name>/porter.yaml. A bundle that does not parse,
// or whose manifest name differs from its directory, is an error naming it.
// Each app's Digest is its directory's (DirDigest).
func Load(dir string) (*Catalog, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	c := &Catalog{apps: map[string]orchestrator.App{}}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		bdir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(bdir, "porter.yaml")); errors.Is(err, os.ErrNotExist) {
			continue
		}
		app, err := ReadApp(bdir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if app.Digest, err = DirDigest(bdir); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", bdir, err))
			continue
		}
		c.apps[app.Name] = app
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	return c, nil
}

// ReadApp reads the bundle in dir.
func ReadApp(dir string) (orchestrator.App, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	if err != nil {
		return orchestrator.App{}, err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	if m.Name != filepath.Base(dir) {
		return orchestrator.App{}, fmt.Errorf("%s: bundle name %q must match its directory", dir, m.Name)
	}
	if err := naming.ValidateApp(m.Name); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return orchestrator.App{}, err
	}
	app := orchestrator.App{Name: m.Name, Version: m.Version, Description: m.Description, Title: m.Name, Dir: abs}
	meta, _ := m.Custom["sh.websoft9"].(map[string]any)
	if t, ok := meta["title"].(string); ok {
		app.Title = t
	}
	if d, ok := meta["description"].(string); ok {
		app.Description = d
	}
	if req, ok := meta["requirements"].(map[string]any); ok {
		app.Requirements = orchestrator.Requirements{CPU: scalar(req["cpu"]), Memory: scalar(req["memory"]), Disk: scalar(req["disk"])}
	}
	if app.Ports, err = portParams(m, meta); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	if app.Web, err = webEndpoint(meta, app.Ports, m); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	if p, ok := m.Parameter("purge"); ok && p.Type() == "boolean" {
		app.HasPurge = true
	}
	for _, p := range m.Parameters {
		if p.Sensitive {
			app.Sensitive = append(app.Sensitive, p.Name)
		}
		if p.Name != "purge" && p.Name != app.Web.Address && !slices.ContainsFunc(app.Ports, func(pp orchestrator.PortParam) bool { return pp.Name == p.Name }) {
			app.Settable = append(app.Settable, p.Name)
		}
	}
	for _, a := range m.ActionNames() {
		switch a {
		case manifest.ActionInstall, manifest.ActionUpgrade, manifest.ActionUninstall:
		default:
			app.Actions = append(app.Actions, a)
		}
	}
	if app.Services, app.Main, err = services(dir, m); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	if err := readMeta(&app, m, meta, dir); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	if app.Permissions, err = Permissions(m); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	app.Parameters = parameterSpecs(m, app)
	return app, nil
}

// ruleKeys are the JSON Schema keywords a form checks a value with.
var ruleKeys = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "pattern", "minLength", "maxLength"}

// parameterSpecs describes the bundle's parameters for a form, in the
// order porter.yaml gives them; Porter's own (porter-*) are left out.
func parameterSpecs(m *manifest.Manifest, app orchestrator.App) []orchestrator.ParameterSpec {
	var out []orchestrator.ParameterSpec
	for _, p := range m.Parameters {
		if strings.HasPrefix(p.Name, "porter-") {
			continue
		}
		s := orchestrator.ParameterSpec{Name: p.Name, Description: p.Description, Type: p.Type(), ApplyTo: p.ApplyTo,
			Sensitive: p.Sensitive, Settable: slices.Contains(app.Settable, p.Name), Generated: slices.Contains(app.Generate, p.Name),
			Port: slices.ContainsFunc(app.Ports, func(pp orchestrator.PortParam) bool { return pp.Name == p.Name })}
		def, hasDef := p.Default()
		if hasDef && !p.Sensitive {
			s.Default = def
		}
		for _, k := range ruleKeys {
			if v, ok := p.Schema[k]; ok {
				if s.Rules == nil {
					s.Rules = map[string]any{}
				}
				s.Rules[k] = v
			}
		}
		s.Required = !hasDef && !s.Port && !s.Generated && s.Settable && p.Source.Output == "" && p.AppliesTo(manifest.ActionInstall)
		out = append(out, s)
	}
	return out
}

// Permissions reads custom["sh.websoft9"].permissions, what the bundle
// declares it needs beyond the default bundle policy, in canonical form
// (orchestrator.ParsePermissions). Returns EINVALID for a value that is
// not a list of permission strings, or an entry ParsePermission refuses.
func Permissions(m *manifest.Manifest) ([]orchestrator.Permission, error) {
	meta, _ := m.Custom["sh.websoft9"].(map[string]any)
	raw, ok := meta["permissions"]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, `custom["sh.websoft9"].permissions must list permissions such as cap-add:NET_ADMIN`)
	}
	strs := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, orchestrator.Errorf(orchestrator.EINVALID, `custom["sh.websoft9"].permissions: %v is not a string such as cap-add:NET_ADMIN`, v)
		}
		strs = append(strs, s)
	}
	ps, err := orchestrator.ParsePermissions(strs)
	if err != nil {
		return nil, fmt.Errorf(`custom["sh.websoft9"].permissions: %w`, err)
	}
	return ps, nil
}

// DirDigest identifies the bundle in dir by its content: the sha256 of
// every file's path and content, in path order, and of every link's
// target; the builder's output (.cnab/) is left out. Any change to the
// bundle (a compose file, porter.yaml) gives another digest, so a grant
// given to the old one does not carry over.
func DirDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() && rel == ".cnab":
			return filepath.SkipDir
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "link %q %q\n", rel, target)
			return nil
		case !d.Type().IsRegular():
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fh := sha256.New()
		if _, err := io.Copy(fh, f); err != nil {
			return err
		}
		fmt.Fprintf(h, "file %q %x\n", rel, fh.Sum(nil))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("bundle digest: %w", err)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
}

// readMeta reads the catalog metadata of custom["sh.websoft9"] (category,
// icon, links, login, generate), the sensitive outputs and the images.
func readMeta(app *orchestrator.App, m *manifest.Manifest, meta map[string]any, dir string) error {
	str := func(v any) string { s, _ := v.(string); return s }
	app.Meta = orchestrator.AppMeta{Category: str(meta["category"]), Homepage: str(meta["homepage"]),
		Documentation: str(meta["documentation"])}
	if src, ok := meta["source"].(map[string]any); ok {
		app.Origin = orchestrator.Origin{Store: scalar(src["store"]), ID: scalar(src["id"]), Version: scalar(src["version"])}
	}
	if login, ok := meta["login"].(map[string]any); ok {
		app.Meta.Login = orchestrator.Login{Path: str(login["path"]), User: str(login["user"]), Password: str(login["password"])}
		if p := app.Meta.Login.Path; p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf(`custom["sh.websoft9"].login.path %q must start with /`, p)
		}
	}
	if icon := str(meta["icon"]); icon != "" {
		if filepath.IsAbs(icon) || strings.Contains(icon, "..") || strings.ContainsAny(icon, "\\\x00") {
			return fmt.Errorf(`custom["sh.websoft9"].icon %q must be a file in the bundle directory`, icon)
		}
		if fi, err := os.Lstat(filepath.Join(dir, icon)); err != nil {
			return fmt.Errorf(`custom["sh.websoft9"].icon: %w`, err)
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf(`custom["sh.websoft9"].icon %q must be a regular file, not a link or a directory`, icon)
		}
		app.Meta.Icon = icon
	}
	if err := readForm(app, m, meta["form"]); err != nil {
		return err
	}
	if err := readTexts(app, m, meta["i18n"]); err != nil {
		return err
	}
	if list, ok := meta["generate"].([]any); ok {
		for _, v := range list {
			name, _ := v.(string)
			p, ok := m.Parameter(name)
			if !ok || !p.Sensitive || p.Type() != "string" {
				return fmt.Errorf(`custom["sh.websoft9"].generate: %q must be a sensitive string parameter`, v)
			}
			if _, has := p.Default(); has {
				return fmt.Errorf(`custom["sh.websoft9"].generate: parameter %q has a default; generated parameters take none`, name)
			}
			app.Generate = append(app.Generate, name)
		}
	} else if meta["generate"] != nil {
		return errors.New(`custom["sh.websoft9"].generate must list parameter names`)
	}
	for _, o := range m.Outputs {
		if o.Sensitive {
			app.SensitiveOutputs = append(app.SensitiveOutputs, o.Name)
		}
	}
	aliases := make([]string, 0, len(m.Images))
	for alias := range m.Images {
		aliases = append(aliases, alias)
	}
	sort.Strings(aliases)
	for _, alias := range aliases {
		img := m.Images[alias]
		ref := manifest.ImageRef{Repository: img.Repository, Tag: img.Tag, Digest: img.Digest}
		app.Images = append(app.Images, ref.String())
	}
	return nil
}

// portParams finds the port parameters: custom["sh.websoft9"].ports when
// given, else integer parameters named port or ending in _port.
func portParams(m *manifest.Manifest, meta map[string]any) ([]orchestrator.PortParam, error) {
	var names []string
	if list, ok := meta["ports"].([]any); ok {
		for _, v := range list {
			s, ok := v.(string)
			if !ok {
				return nil, errors.New(`custom["sh.websoft9"].ports must list parameter names`)
			}
			names = append(names, s)
		}
	} else {
		for _, p := range m.Parameters {
			if p.Type() == "integer" && (p.Name == "port" || strings.HasSuffix(p.Name, "_port")) {
				names = append(names, p.Name)
			}
		}
	}
	var out []orchestrator.PortParam
	for _, n := range names {
		p, ok := m.Parameter(n)
		if !ok || p.Type() != "integer" {
			return nil, fmt.Errorf("port parameter %q must be a declared integer parameter", n)
		}
		lo, hi := DefaultWebPorts[0], DefaultWebPorts[1]
		if strings.HasPrefix(n, "db_") {
			lo, hi = DefaultDBPorts[0], DefaultDBPorts[1]
		}
		if v, ok := p.IntBound("minimum"); ok {
			lo = v
		}
		if v, ok := p.IntBound("maximum"); ok {
			hi = v
		}
		if lo < 1 || hi > 65535 || lo > hi {
			return nil, fmt.Errorf("port parameter %q has an invalid range %d-%d", n, lo, hi)
		}
		out = append(out, orchestrator.PortParam{Name: n, Min: lo, Max: hi})
	}
	return out, nil
}

// services reads the compose files of the websoft9 install steps and
// returns every service name and the main one.
func services(dir string, m *manifest.Manifest) ([]string, string, error) {
	var all []string
	main := ""
	for _, s := range m.Actions[manifest.ActionInstall] {
		if s.Mixin != "websoft9" {
			continue
		}
		file, _ := s.Data["compose"].(string)
		if file == "" {
			continue
		}
		if strings.Contains(file, "${") || filepath.IsAbs(file) || strings.Contains(file, "..") {
			return nil, "", fmt.Errorf("install step compose %q must be a plain relative path to a bundle file", file)
		}
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, "", fmt.Errorf("install step compose: %w", err)
		}
		var doc struct {
			Services map[string]any `yaml:"services"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
		for name := range doc.Services {
			if !slices.Contains(all, name) {
				all = append(all, name)
			}
		}
		if mn, _ := s.Data["main"].(string); mn != "" && main == "" {
			main = mn
		}
	}
	sort.Strings(all)
	if main != "" && !slices.Contains(all, main) {
		return nil, "", fmt.Errorf("main service %q is not in the compose file", main)
	}
	return all, main, nil
}

// App implements orchestrator.Catalog.
func (c *Catalog) App(_ context.Context, name string) (orchestrator.App, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	app, ok := c.apps[name]
	if !ok {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
	}
	return app, nil
}

// Apps implements orchestrator.Catalog.
func (c *Catalog) Apps(context.Context) ([]orchestrator.App, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]orchestrator.App, 0, len(c.apps))
	for _, a := range c.apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// scalar renders a YAML scalar as text ("" for none).
func scalar(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// readTexts reads custom["sh.websoft9"].i18n: by language tag, a title, a
// description and, by parameter name, a label and a help text:
//
//	i18n:
//	  zh:
//	    title: 博客
//	    description: ...
//	    parameters:
//	      url: {label: 网站地址, help: ...}
//	    form:
//	      site: 站点
//
// A parameter the bundle does not have, or a key other than these, is
// refused: a typo would otherwise leave a field unlabelled.
func readTexts(app *orchestrator.App, m *manifest.Manifest, v any) error {
	if v == nil {
		return nil
	}
	langs, ok := v.(map[string]any)
	if !ok {
		return errors.New(`custom["sh.websoft9"].i18n must map language tags (zh, en) to texts`)
	}
	app.Texts = map[string]orchestrator.AppTexts{}
	for lang, raw := range langs {
		if !langTag.MatchString(lang) {
			return fmt.Errorf(`custom["sh.websoft9"].i18n: %q is not a language tag (zh, en, zh-TW)`, lang)
		}
		t, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf(`custom["sh.websoft9"].i18n.%s must be a map of title, description and parameters`, lang)
		}
		var texts orchestrator.AppTexts
		for k, val := range t {
			switch k {
			case "title", "description":
				s, ok := val.(string)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.%s must be a string`, lang, k)
				}
				if k == "title" {
					texts.Title = s
				} else {
					texts.Description = s
				}
			case "parameters":
				params, ok := val.(map[string]any)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.parameters must map parameter names to {label, help}`, lang)
				}
				texts.Parameters = map[string]orchestrator.ParameterText{}
				for name, pv := range params {
					if _, ok := m.Parameter(name); !ok {
						return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.parameters: the bundle has no parameter %q`, lang, name)
					}
					pt, ok := pv.(map[string]any)
					if !ok {
						return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.parameters.%s must be {label, help}`, lang, name)
					}
					var text orchestrator.ParameterText
					for pk, s := range pt {
						str, ok := s.(string)
						switch {
						case !ok:
							return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.parameters.%s.%s must be a string`, lang, name, pk)
						case pk == "label":
							text.Label = str
						case pk == "help":
							text.Help = str
						default:
							return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.parameters.%s: unknown key %q (label, help)`, lang, name, pk)
						}
					}
					texts.Parameters[name] = text
				}
			case "form":
				groups, ok := val.(map[string]any)
				if !ok {
					return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.form must map form groups to labels`, lang)
				}
				texts.Form = map[string]string{}
				for id, l := range groups {
					label, ok := l.(string)
					if !ok {
						return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.form.%s must be a string`, lang, id)
					}
					if !slices.ContainsFunc(app.Form, func(g orchestrator.FormGroup) bool { return g.ID == id }) {
						return fmt.Errorf(`custom["sh.websoft9"].i18n.%s.form: the form has no group %q`, lang, id)
					}
					texts.Form[id] = label
				}
			default:
				return fmt.Errorf(`custom["sh.websoft9"].i18n.%s: unknown key %q (title, description, parameters, form)`, lang, k)
			}
		}
		app.Texts[lang] = texts
	}
	return nil
}

var langTag = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)

// webEndpoint reads custom.sh.websoft9.web: {port: <a port parameter>,
// domain: required|optional, address: <a string parameter StackHub sets
// to 127.0.0.1 while the app has a domain, to 0.0.0.0 else>}.
func webEndpoint(meta map[string]any, ports []orchestrator.PortParam, m *manifest.Manifest) (orchestrator.WebEndpoint, error) {
	raw, ok := meta["web"]
	if !ok {
		return orchestrator.WebEndpoint{}, nil
	}
	web, ok := raw.(map[string]any)
	if !ok {
		return orchestrator.WebEndpoint{}, fmt.Errorf("custom.sh.websoft9.web must be a map (port, domain)")
	}
	var out orchestrator.WebEndpoint
	for k, v := range web {
		s, ok := v.(string)
		if !ok {
			return out, fmt.Errorf("custom.sh.websoft9.web.%s must be a string", k)
		}
		switch k {
		case "port":
			if !slices.ContainsFunc(ports, func(p orchestrator.PortParam) bool { return p.Name == s }) {
				return out, fmt.Errorf("custom.sh.websoft9.web.port: %q is not a port parameter of the bundle", s)
			}
			out.Port = s
		case "domain":
			if s != "required" && s != "optional" {
				return out, fmt.Errorf("custom.sh.websoft9.web.domain: %q is neither required nor optional", s)
			}
			out.Domain = s
		case "address":
			p, ok := m.Parameter(s)
			if !ok || p.Type() != "string" || !p.AppliesTo(manifest.ActionInstall) || !p.AppliesTo(manifest.ActionUpgrade) {
				return out, fmt.Errorf("custom.sh.websoft9.web.address: %q is not a string parameter of install and upgrade", s)
			}
			out.Address = s
		default:
			return out, fmt.Errorf("custom.sh.websoft9.web: unknown key %q (port, domain, address)", k)
		}
	}
	return out, nil
}
