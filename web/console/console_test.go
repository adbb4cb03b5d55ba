package console

import (
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(FS(), name)
	require.NoError(t, err, name)
	return string(b)
}

func modules(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".js") {
			out = append(out, p)
		}
		return err
	}))
	sort.Strings(out)
	return out
}

func exists(name string) bool {
	st, err := fs.Stat(FS(), name)
	return err == nil && !st.IsDir()
}

func TestFilesEmbedded(t *testing.T) {
	for _, name := range []string{Index, "app.js", "api.js", "i18n.js", "charts.js", "style.css", "favicon.svg"} {
		assert.True(t, exists(name), "%s is embedded", name)
	}
}

var (
	attrRef     = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)
	inlineEvent = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttr   = regexp.MustCompile(`(?i)\sstyle\s*=`)
	scriptTag   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
)

// TestIndexIsLocalAndCSPClean checks that the page loads only embedded
// files, by relative URL, and has nothing the CSP would block: no inline
// script, event handler or style attribute.
func TestIndexIsLocalAndCSPClean(t *testing.T) {
	html := readFile(t, Index)
	refs := attrRef.FindAllStringSubmatch(html, -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		ref := m[1]
		assert.NotContains(t, ref, "//", "%s: no other origin", ref)
		assert.False(t, strings.HasPrefix(ref, "/"), "%s: relative, so the page works under /console/", ref)
		assert.True(t, exists(ref), "%s is embedded", ref)
	}
	scripts := scriptTag.FindAllStringSubmatch(html, -1)
	require.Len(t, scripts, 1, "one entry module")
	assert.Contains(t, scripts[0][1], `type="module"`)
	assert.Contains(t, scripts[0][1], `src="app.js"`)
	assert.Empty(t, strings.TrimSpace(scripts[0][2]), "no inline script")
	assert.False(t, inlineEvent.MatchString(html), "no inline event handler")
	assert.False(t, styleAttr.MatchString(html), "no style attribute")
	assert.NotContains(t, html, "<style", "no inline style sheet")
}

var importSpec = regexp.MustCompile(`(?m)(?:^\s*import\s+(?:[\w*{}\s,]+\s+from\s+)?|^\s*export\s+[\w*{}\s,]+\s+from\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]`)

// TestModuleImportsResolve checks that every ES module imports only other
// embedded modules, by relative path, and that every module is reached
// from app.js.
func TestModuleImportsResolve(t *testing.T) {
	mods := modules(t)
	require.Contains(t, mods, "app.js")
	imported := map[string]bool{"app.js": true}
	for _, m := range mods {
		src := readFile(t, m)
		for _, sm := range importSpec.FindAllStringSubmatch(src, -1) {
			spec := sm[1]
			if !assert.True(t, strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../"), "%s imports %q: only relative specifiers (no CDN, no bare package)", m, spec) {
				continue
			}
			target := path.Join(path.Dir(m), spec)
			assert.True(t, exists(target), "%s imports %q: %s is not embedded", m, spec, target)
			imported[target] = true
		}
	}
	for _, m := range mods {
		assert.True(t, imported[m], "%s is imported by no module", m)
	}
}

var forbidden = regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\(|setAttribute\(\s*['"]style|https?://(?:cdn|unpkg|cdnjs)`)

// TestModulesAvoidHTMLInjection keeps the modules free of what would parse
// API data as HTML or need 'unsafe-eval' / 'unsafe-inline'.
func TestModulesAvoidHTMLInjection(t *testing.T) {
	for _, m := range modules(t) {
		src := readFile(t, m)
		assert.Empty(t, forbidden.FindAllString(src, -1), "%s", m)
	}
}

var (
	messageKey = regexp.MustCompile(`(?m)^\s*'([^']+)':`)
	usedKey    = regexp.MustCompile(`\bt\(\s*'([^']+)'`)
)

func messageKeys(t *testing.T, name string) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, m := range messageKey.FindAllStringSubmatch(readFile(t, name), -1) {
		assert.False(t, keys[m[1]], "%s: %s twice", name, m[1])
		keys[m[1]] = true
	}
	require.NotEmpty(t, keys, name)
	return keys
}

// TestMessages checks that English and Chinese have the same keys and
// that every key the modules name literally exists.
func TestMessages(t *testing.T) {
	en, zh := messageKeys(t, "messages-en.js"), messageKeys(t, "messages-zh.js")
	for k := range en {
		assert.True(t, zh[k], "messages-zh.js lacks %s", k)
	}
	for k := range zh {
		assert.True(t, en[k], "messages-en.js lacks %s", k)
	}
	for _, m := range modules(t) {
		for _, u := range usedKey.FindAllStringSubmatch(readFile(t, m), -1) {
			assert.True(t, en[u[1]], "%s uses %s, which has no message", m, u[1])
		}
	}
	// Keys built at run time from API words.
	for _, k := range []string{"state.running", "state.stopped", "state.failed", "state.installing", "stage.pulling",
		"stage.done", "action.start", "action.stop", "action.restart", "apps.pending.start", "job.end.done", "role.viewer", "role.operator", "role.admin",
		"appPage.health.healthy", "appPage.health.unhealthy", "appPage.health.starting"} {
		assert.True(t, en[k], k)
	}
}
