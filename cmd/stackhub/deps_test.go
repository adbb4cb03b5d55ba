package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mod = "github.com/websoft9/stackhub/"

// adapters are the orchestrator packages that wrap one technology each.
var adapters = []string{
	mod + "orchestrator/sqlite", mod + "orchestrator/inmem", mod + "orchestrator/catalog",
	mod + "orchestrator/build", mod + "orchestrator/cnabrun", mod + "orchestrator/dockerhost",
	mod + "orchestrator/ocibundle",
}

// TestDeps keeps imports one-way (style.md §1): leaf ← domain ← adapters ←
// transport ← main, and nothing of the engine inside bundle images. It asks
// `go list -deps` for each guarded package, so a new import anywhere in its
// graph is caught; make check-deps runs it uncached.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	engine := []string{mod + "orchestrator", mod + "web", mod + "cmd/"}
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"porter-mixin/naming", []string{mod, "gopkg.in/yaml"}},
		{"orchestrator/portalloc", []string{mod}},
		{"orchestrator/failpoint", []string{mod, "github.com/"}},
		{"orchestrator/secretbox", []string{mod}},
		{"orchestrator/password", []string{mod}},
		{"porter-mixin/events", []string{mod, "github.com/"}},
		{"web/wire", []string{mod, "github.com/"}},
		{"web/console", []string{mod, "github.com/"}},
		{"porter-mixin/manifest", append(engine, mod+"porter-mixin/bundlerun", "get.porter.sh/", "github.com/docker/")},
		{"porter-mixin", append(engine, "get.porter.sh/", "github.com/cnabio/")},
		{"porter-mixin/bundlerun", append(engine, mod+"porter-mixin/naming", "get.porter.sh/", "github.com/docker/", "github.com/moby/")},
		{"orchestrator", append(adapters, mod+"web", "github.com/labstack/echo", "github.com/moby/", "github.com/docker/",
			"github.com/cnabio/cnab-go/driver", "github.com/cnabio/cnab-go/action", "modernc.org/sqlite", "golang.org/x/crypto")},
		{"orchestrator/sqlite", except(adapters, mod+"orchestrator/sqlite", mod+"web", "github.com/labstack/echo", "github.com/moby/")},
		{"orchestrator/catalog", except(adapters, mod+"orchestrator/catalog", mod+"web", "github.com/labstack/echo", "github.com/moby/")},
		{"orchestrator/build", except(adapters, mod+"orchestrator/build", mod+"web", "github.com/labstack/echo",
			"github.com/cnabio/cnab-go/driver", "github.com/cnabio/cnab-go/action", "github.com/docker/compose/")},
		{"orchestrator/cnabrun", except(adapters, mod+"orchestrator/cnabrun", mod+"web", "github.com/labstack/echo")},
		{"orchestrator/dockerhost", except(adapters, mod+"orchestrator/dockerhost", mod+"web", "github.com/labstack/echo",
			"github.com/cnabio/cnab-go/driver", "github.com/cnabio/cnab-go/action")},
		{"orchestrator/ocibundle", except(except(adapters, mod+"orchestrator/ocibundle"), mod+"orchestrator/build", mod+"web", "github.com/labstack/echo",
			"github.com/cnabio/cnab-go/driver", "github.com/cnabio/cnab-go/action", "github.com/docker/compose/")},
		// The test registry harness is for tests only: no shipped binary links it.
		{"cmd/stackhub", []string{mod + "orchestrator/ocibundle/registrytest"}},
		{"web", append(adapters, "github.com/moby/", "github.com/docker/", "github.com/cnabio/cnab-go/driver", "modernc.org/sqlite")},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "../../"+tc.pkg).Output()
			require.NoError(t, err)
			self := mod + tc.pkg
			for _, dep := range strings.Fields(string(out)) {
				if dep == self || strings.HasPrefix(dep, self+"/internal") {
					continue
				}
				for _, prefix := range tc.forbidden {
					if within(dep, prefix) {
						t.Errorf("%s imports %s (forbidden: %s)", tc.pkg, dep, prefix)
					}
				}
			}
		})
	}
}

// within tells whether package dep is prefix or below it; a prefix ending
// in "/" matches any package path that starts with it.
func within(dep, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(dep, prefix)
	}
	return dep == prefix || strings.HasPrefix(dep, prefix+"/")
}

// except returns list without drop, followed by more.
func except(list []string, drop string, more ...string) []string {
	out := []string{}
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return append(out, more...)
}
