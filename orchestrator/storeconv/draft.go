package storeconv

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// draft is one app between a store's files and the bundle: what every
// reader fills, what convert normalizes and render writes.
type draft struct {
	store Store
	dir   string
	name  string
	// id is the app's id in its store.
	id string
	// title and desc by language ("en", "zh").
	title, desc map[string]string
	category    string
	// tags keep the store's own categories.
	tags        []string
	homepage    string
	iconURL     string
	icon        []byte
	iconExt     string
	screenshots []string
	version     string
	login       loginHint

	// project is the compose project as YAML decoded it.
	project map[string]any
	// main is the service of the web interface; webPort its container
	// port (0: find it from the published ports).
	main    string
	webPort int
	// webHost is the store's host port of the web interface (a hint).
	webHost int
	// vars maps variables only the store's runtime provides to what they
	// become here (a literal, or ${ENV} of a parameter).
	vars map[string]string
	// lazyVars become a parameter on their first use (a generated
	// secret, a setting): a bundle takes only what its files use.
	lazyVars map[string]func() *param
	// unknownVars are variables of the runtime that have no equivalent:
	// a use of one blocks the app, with the reason.
	unknownVars map[string]string
	// dataRoots are host path prefixes (after vars) that hold the app's
	// own state: a bind under one becomes a named volume.
	dataRoots []string
	// sharedRoots are the store's shared user folders (media,
	// downloads): a volume too, with a warning.
	sharedRoots []string
	// oldNames are host or container names the store's runtime gives
	// services, rewritten to the service names compose resolves.
	oldNames map[string]string
	// envFiles the reader inlined (Websoft9's .env), by file name.
	envFiles map[string]map[string]string

	// foreignRoots are the store's other folders (another app's data):
	// a bind under one blocks the app.
	foreignRoots []string
	// strict stores set every variable their apps may use: one that
	// nothing sets blocks the app.
	strict bool

	params   []*param
	images   []image
	volumes  map[string]bool
	perms    map[string]string
	problems []Problem
}

type loginHint struct{ user, password, path string }

// param is one bundle parameter beyond the web address and purge.
type param struct {
	name, env, typ, def, desc string
	sensitive, generate       bool
	min, max                  int
	enum                      []string
	port                      bool
	pattern                   string
	// literal is the committed password a generated parameter replaces
	// (never written).
	literal string
}

type image struct{ alias, env, repository, tag, digest string }

func newDraft(store Store, dir string) *draft {
	return &draft{store: store, dir: dir, title: map[string]string{}, desc: map[string]string{}, vars: map[string]string{}, lazyVars: map[string]func() *param{},
		unknownVars: map[string]string{}, oldNames: map[string]string{}, envFiles: map[string]map[string]string{},
		volumes: map[string]bool{}, perms: map[string]string{}}
}

func (d *draft) warn(where, format string, args ...any) {
	d.problems = append(d.problems, Problem{Severity: Warning, Where: where, Reason: fmt.Sprintf(format, args...)})
}

func (d *draft) block(where, format string, args ...any) {
	d.problems = append(d.problems, Problem{Severity: Blocked, Where: where, Reason: fmt.Sprintf(format, args...)})
}

// permit declares a permission, with why (shown in the report).
func (d *draft) permit(p, why string) {
	if _, ok := d.perms[p]; !ok {
		d.perms[p] = why
	}
}

func (d *draft) permissions() []string {
	out := make([]string, 0, len(d.perms))
	for p := range d.perms {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (d *draft) param(name string) *param {
	for _, p := range d.params {
		if p.name == name {
			return p
		}
	}
	return nil
}

// addParam adds p unless a parameter of that name exists; it returns the
// one kept.
func (d *draft) addParam(p *param) *param {
	if q := d.param(p.name); q != nil {
		return q
	}
	if p.env == "" {
		p.env = strings.ToUpper(p.name)
	}
	d.params = append(d.params, p)
	return p
}

// secretParam is a generated secret for the store's variable or literal
// named key.
func (d *draft) secretParam(key, why string) *param {
	name := paramName(key)
	if !strings.Contains(name, "password") && !strings.Contains(name, "secret") && !strings.Contains(name, "key") && !strings.Contains(name, "token") && !strings.Contains(name, "seed") {
		name += "_secret"
	}
	return d.addParam(&param{name: name, typ: "string", sensitive: true, generate: true, desc: why})
}

var nonParam = regexp.MustCompile(`[^a-z0-9]+`)

// paramName makes a parameter name of a variable: DB_PASSWORD → db_password.
func paramName(v string) string {
	n := strings.Trim(nonParam.ReplaceAllString(strings.ToLower(v), "_"), "_")
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		n = "p_" + n
	}
	if n == "purge" || n == "port" || n == "web_address" {
		n = "app_" + n
	}
	return n
}

// secretKey tells whether an environment key names a secret.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|(^|_)key$|salt|seed)`)

// varRef finds ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?msg}
// and $NAME in compose text ($$ escapes).
var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// substitute rewrites the store runtime's variables in s: mapped ones to
// their value here, unknown ones reported (blocked), others left for the
// bundle's own parameters.
func (d *draft) substitute(where, s string) string { return d.replaceVars(where, s, true) }

// substituteQuiet substitutes mapped variables without reporting.
func (d *draft) substituteQuiet(s string) string { return d.replaceVars("", s, false) }

func (d *draft) replaceVars(where, s string, report bool) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return m
		}
		sub := varRef.FindStringSubmatch(m)
		name := sub[1]
		if name == "" {
			name = sub[3]
		}
		if v, ok := d.lookup(name); ok {
			return v
		}
		if !report {
			return m
		}
		if why, ok := d.unknownVars[name]; ok {
			d.block(where, "uses ${%s}, which only %s's runtime provides: %s", name, d.store, why)
		} else if d.strict && !d.provided(name) && sub[2] == "" {
			d.block(where, "uses ${%s}, which nothing sets here (a variable of %s's runtime or of another app)", name, d.store)
		}
		return m
	})
}

// lookup is the value of a mapped variable, making its parameter on the
// first use of a lazy one.
func (d *draft) lookup(name string) (string, bool) {
	if v, ok := d.vars[name]; ok {
		return v, true
	}
	if f, ok := d.lazyVars[name]; ok {
		p := f()
		d.vars[name] = "${" + p.env + "}"
		return d.vars[name], true
	}
	return "", false
}

// lazy maps the runtime's variables to a parameter made on first use.
func (d *draft) lazy(p *param, names ...string) {
	for _, n := range names {
		d.lazyVars[n] = func() *param { return d.addParam(p) }
	}
}

// provided tells whether the websoft9 step's env sets name.
func (d *draft) provided(name string) bool {
	if name == "WEB_ADDRESS" || d.paramByEnv(name) != nil {
		return true
	}
	for _, img := range d.images {
		if img.env == name {
			return true
		}
	}
	return false
}

func (d *draft) paramByEnv(env string) *param {
	for _, p := range d.params {
		if p.env == env {
			return p
		}
	}
	return nil
}

// rename rewrites the runtime's container and host names in s to service
// names.
func (d *draft) rename(s string) string {
	if len(d.oldNames) == 0 {
		return s
	}
	olds := make([]string, 0, len(d.oldNames))
	for o := range d.oldNames {
		olds = append(olds, o)
	}
	// Longest first: websoft9-wp-mysql before websoft9-wp.
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	for _, o := range olds {
		if o == "" || o == d.oldNames[o] {
			continue
		}
		s = replaceName(s, o, d.oldNames[o])
	}
	return s
}

// replaceName replaces old in s where it stands as a whole host name (not
// inside a longer word).
func replaceName(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		before := i == 0 || !nameChar(s[i-1])
		after := end == len(s) || !nameChar(s[end])
		b.WriteString(s[:i])
		if before && after {
			b.WriteString(repl)
		} else {
			b.WriteString(old)
		}
		s = s[end:]
	}
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// semver makes a bundle version (Porter wants semantic versions) of a
// store's version string: 2 → 2.0.0, 33-apache → 33.0.0-apache,
// v1.2 → 1.2.0.
func semver(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	core, pre, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	nums := []string{}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil || len(nums) == 3 {
			break
		}
		nums = append(nums, strings.TrimLeft(p, "0"))
	}
	if len(nums) == 0 {
		return "0.1.0"
	}
	for i := range nums {
		if nums[i] == "" {
			nums[i] = "0"
		}
	}
	for len(nums) < 3 {
		nums = append(nums, "0")
	}
	out := strings.Join(nums, ".")
	pre = strings.Trim(nonPre.ReplaceAllString(pre, "-"), "-")
	if pre != "" {
		out += "-" + pre
	}
	return out
}

var nonPre = regexp.MustCompile(`[^0-9A-Za-z.-]+`)

// parseImage splits repo[:tag][@digest].
func parseImage(ref string) (repo, tag, digest string) {
	repo = ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndex(repo, ":"); i >= 0 && !strings.Contains(repo[i:], "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// under tells whether path p is root or below it, and what follows root.
func under(p, root string) (string, bool) {
	rest, ok := strings.CutPrefix(path.Clean(p), path.Clean(root))
	return rest, ok && (rest == "" || rest[0] == '/')
}
