package naming

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerName is the grammar of Docker container names (moby
// daemon/names.go RestrictedNamePattern); compose project names are
// stricter (compose-spec: lowercase letters, digits, '_' and '-').
var (
	dockerName     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	composeProject = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// validAppName spells out the documented rule without a regexp: 1 to 63
// bytes of lowercase ASCII letters, digits and '-', not starting with '-'.
func validAppName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// FuzzAppName checks ValidateApp against the documented rule, and that an
// accepted name makes Docker and compose names that are valid, at most 128
// bytes, safe as a path element, and distinct for distinct apps.
func FuzzAppName(f *testing.F) {
	for _, s := range []string{"demo", "a", "0redmine-2", strings.Repeat("a", 63), strings.Repeat("a", 64), "", "-demo",
		"Demo", "demo_1", "demo;rm -rf /", "<script>", "demo\n", ".", "..", "../x", "a/b", "a\\b", "%2e%2e%2f", "..\x00",
		"$(id)", "`id`", "demo-", "аpp", "app\u202e", "a\u200db", "ａpp", "app🙂", "websoft9-demo"} {
		f.Add(s, "demo")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, name := range []string{a, b} {
			err := ValidateApp(name)
			if want := validAppName(name); (err == nil) != want {
				t.Fatalf("ValidateApp(%q) = %v, want accepted=%t", name, err, want)
			}
			if err != nil {
				if strings.TrimSpace(err.Error()) == "" {
					t.Fatalf("ValidateApp(%q) refuses without a reason", name)
				}
				continue
			}
			if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
				t.Fatalf("accepted %q is not a safe path element", name)
			}
			for _, c := range []string{MainContainer(name), Container(name, "db", false), Container(name, "web", true)} {
				if len(c) > 128 || !dockerName.MatchString(c) {
					t.Fatalf("app %q makes container name %q, which Docker refuses", name, c)
				}
				if !strings.HasPrefix(c, Prefix+name) {
					t.Fatalf("app %q makes container name %q without the %s%s prefix", name, c, Prefix, name)
				}
			}
			if p := Project(name); len(p) > 128 || !composeProject.MatchString(p) {
				t.Fatalf("app %q makes compose project %q, which compose refuses", name, p)
			}
			if got, want := Container(name, "web", true), MainContainer(name); got != want {
				t.Fatalf("main service container of %q is %q, want %q", name, got, want)
			}
		}
		if a != b && ValidateApp(a) == nil && ValidateApp(b) == nil {
			if MainContainer(a) == MainContainer(b) || Project(a) == Project(b) {
				t.Fatalf("apps %q and %q share container %q or project %q", a, b, MainContainer(a), Project(a))
			}
		}
	})
}
