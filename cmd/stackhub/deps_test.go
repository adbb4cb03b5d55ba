package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mod = "github.com/websoft9/stackhub/"

// allowed lists, for every package of the module, what its non-test files
// may import besides the standard library: packages of the module by path
// (relative to the module), and third-party packages by path prefix (a
// prefix names that package and those below it). The layers of the
// project's style guide: leaf ← domain ← adapters ← transport ← main, and
// nothing of the engine inside bundle images. A package without an entry
// fails TestDeps, so a new package says what it may use before it lands.
var allowed = map[string][]string{
	// Leaves: the standard library, at most one small third-party package.
	"bundles":                             nil,
	"orchestrator/failpoint":              nil,
	"orchestrator/portalloc":              nil,
	"orchestrator/secretbox":              nil,
	"orchestrator/password":               {"golang.org/x/crypto/argon2"},
	"orchestrator/pageout":                {"golang.org/x/sys/unix"},
	"porter-mixin/naming":                 nil,
	"porter-mixin/events":                 nil,
	"web/wire":                            nil,
	"web/console":                         nil,
	"orchestrator/dockerhost/dockertest":  {"orchestrator/dockerhost", "github.com/moby/moby/client", "github.com/moby/moby/api/types/swarm"},
	"orchestrator/ocibundle/registrytest": {"golang.org/x/crypto/bcrypt"},
	"porter-mixin/mixintest":              {"orchestrator/build", "porter-mixin", "porter-mixin/manifest", "github.com/stretchr/testify"},
	// What the stand-in images' program does (stackhub-testapp links it).
	"orchestrator/dockerhost/dockertest/standin": nil,

	// The domain: vocabulary, interfaces and use cases; no I/O technology.
	"orchestrator": {"orchestrator/failpoint", "orchestrator/portalloc", "porter-mixin/events", "porter-mixin/naming",
		"github.com/cnabio/cnab-go/bundle", "github.com/pquerna/otp", "github.com/pquerna/otp/totp", "golang.org/x/net/idna"},
	// The bundle policy's rules: pure checks on Docker's and compose's types.
	"orchestrator/dockerpolicy": {"porter-mixin/naming", "github.com/compose-spec/compose-go/v2/types", "github.com/moby/moby/api/types"},

	// Adapters: the domain, leaves, and their one technology.
	"orchestrator/backup":    {"orchestrator", "github.com/kopia/kopia"},
	"orchestrator/sqlite":    {"orchestrator", "modernc.org/sqlite"},
	"orchestrator/storeconv": {"gopkg.in/yaml.v3"},
	"orchestrator/catalog":   {"orchestrator", "porter-mixin/manifest", "porter-mixin/naming", "github.com/cnabio/cnab-go/bundle", "gopkg.in/yaml.v3"},
	"orchestrator/build": {"orchestrator", "orchestrator/dockerpolicy", "porter-mixin/manifest", "github.com/cnabio/cnab-go/bundle",
		"github.com/cnabio/cnab-go/schema", "github.com/compose-spec/compose-go/v2", "github.com/containerd/errdefs",
		"github.com/distribution/reference", "github.com/google/go-containerregistry", "github.com/moby/moby/api",
		"github.com/moby/moby/client", "github.com/moby/patternmatcher", "gopkg.in/yaml.v3"},
	"orchestrator/cnabrun": {"orchestrator", "porter-mixin/naming", "github.com/cnabio/cnab-go/action", "github.com/cnabio/cnab-go/bundle",
		"github.com/cnabio/cnab-go/claim", "github.com/cnabio/cnab-go/driver", "github.com/cnabio/cnab-go/valuesource",
		"github.com/containerd/errdefs", "github.com/distribution/reference", "github.com/moby/docker-image-spec",
		"github.com/moby/moby/api", "github.com/moby/moby/client"},
	"orchestrator/dockerhost": {"orchestrator", "porter-mixin/naming", "github.com/containerd/errdefs", "github.com/moby/moby/api",
		"github.com/moby/moby/client", "github.com/shirou/gopsutil/v4"},
	"orchestrator/dockerpolicy/socket": {"orchestrator/dockerpolicy", "porter-mixin/naming", "github.com/moby/moby/api/types"},
	"orchestrator/ocibundle": {"orchestrator", "orchestrator/build", "porter-mixin/naming", "github.com/cnabio/cnab-go/bundle",
		"github.com/cnabio/cnab-to-oci", "github.com/containerd/containerd/v2/core", "github.com/containerd/errdefs",
		"github.com/containerd/log", "github.com/distribution/reference", "github.com/docker/cli/cli/config",
		"github.com/google/go-containerregistry", "github.com/moby/moby/api", "github.com/moby/moby/client",
		"github.com/opencontainers/image-spec", "github.com/sirupsen/logrus"},

	// Transport: the domain's root only, never an adapter.
	"web": {"orchestrator", "web/console", "web/wire", "github.com/labstack/echo/v4"},
	// Metrics: the domain's root for what it reports, Prometheus's client.
	// Only cmd/stackhub imports it; web and the engine report through
	// interfaces of their own.
	"web/metrics": {"orchestrator", "web/wire", "github.com/prometheus/client_golang"},
	// The gateway: the domain's routes, certmagic for certificates (zap is
	// its logger's type).
	"gateway": {"orchestrator", "github.com/caddyserver/certmagic", "go.uber.org/zap"},
	// The typed API client: the API's JSON shapes, nothing of the server.
	"web/client": {"web/wire"},

	// Inside bundle images: the mixin and the bundle runtime, never the engine.
	"porter-mixin/manifest":  {"gopkg.in/yaml.v3"},
	"porter-mixin/bundlerun": {"porter-mixin/manifest"},
	// Compose model to Swarm specs: pure, on compose's and Docker's types.
	"porter-mixin/swarmspec": {"porter-mixin/naming", "github.com/compose-spec/compose-go/v2/types", "github.com/moby/moby/api/types"},
	"porter-mixin": {"porter-mixin/events", "porter-mixin/naming", "porter-mixin/swarmspec", "github.com/compose-spec/compose-go/v2",
		"github.com/containerd/errdefs", "github.com/docker/cli/cli", "github.com/docker/compose/v5/pkg", "github.com/moby/moby/api/pkg/stdcopy",
		"github.com/moby/moby/api/types/container", "github.com/moby/moby/api/types/swarm", "github.com/moby/moby/client", "gopkg.in/yaml.v3"},
	"cmd/websoft9":       {"porter-mixin"},
	"cmd/bundle-runtime": {"porter-mixin/bundlerun"},

	// Main: wiring. Everything but the test harnesses.
	"cmd/stackhub": {"bundles", "gateway", "orchestrator", "orchestrator/backup", "orchestrator/build", "orchestrator/catalog", "orchestrator/cnabrun", "orchestrator/pageout", "orchestrator/storeconv",
		"orchestrator/dockerhost", "orchestrator/dockerpolicy", "orchestrator/dockerpolicy/socket", "orchestrator/ocibundle",
		"orchestrator/password", "orchestrator/secretbox", "orchestrator/sqlite", "porter-mixin/manifest", "porter-mixin/naming",
		"web", "web/client", "web/metrics", "web/wire", "github.com/cnabio/cnab-go/bundle", "github.com/containerd/errdefs", "github.com/distribution/reference", "github.com/dustin/go-humanize",
		"github.com/mattn/go-runewidth", "github.com/moby/moby/client", "github.com/oklog/ulid", "github.com/spf13/cobra", "github.com/spf13/pflag",
		"golang.org/x/sys/unix", "golang.org/x/term", "gopkg.in/yaml.v3"},
	"cmd/stackhub-bench": {"orchestrator", "orchestrator/backup", "orchestrator/build", "orchestrator/dockerhost", "orchestrator/dockerhost/dockertest", "orchestrator/storeconv", "porter-mixin/naming", "orchestrator/dockerpolicy", "orchestrator/dockerpolicy/socket", "orchestrator/sqlite", "web/client", "web/wire",
		"github.com/compose-spec/compose-go/v2", "github.com/containerd/errdefs", "github.com/docker/cli/cli",
		"github.com/docker/compose/v5/pkg", "github.com/moby/moby/client"},
	"cmd/stackhub-testapp": {"orchestrator/dockerhost/dockertest/standin"},
	// StackHub's node volume helper (image stackhub/volumes): standard library only.
	"cmd/stackhub-volumes": {},
	// Tooling: the release build (make release) packages with nfpm.
	"cmd/stackhub-release": {"github.com/goreleaser/nfpm/v2"},
}

// harnesses are test-only packages no shipped binary may link.
var harnesses = []string{"orchestrator/dockerhost/dockertest", "orchestrator/dockerhost/dockertest/standin", "orchestrator/ocibundle/registrytest", "porter-mixin/mixintest"}

// shipped are the binaries that go to users and into bundle images.
var shipped = []string{"cmd/stackhub", "cmd/websoft9", "cmd/bundle-runtime", "cmd/stackhub-volumes"}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listPackages asks go list for every package of the module and the
// standard library's packages among their dependencies.
func listPackages(t *testing.T) (pkgs []goPackage, std map[string]bool) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-json=ImportPath,Imports,Deps,Standard", "../../...").Output()
	require.NoError(t, err)
	std = map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		require.NoError(t, dec.Decode(&p))
		switch {
		case p.Standard:
			std[p.ImportPath] = true
		case strings.HasPrefix(p.ImportPath, mod):
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, std
}

// TestDeps keeps imports one-way with an allowlist: every package of the
// module imports only the standard library and what its entry in allowed
// names; a package without an entry fails; no shipped binary links a test
// harness. make check-deps runs it uncached.
func TestDeps(t *testing.T) {
	pkgs, std := listPackages(t)
	require.NotEmpty(t, pkgs)
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		seen[rel] = true
		allow, ok := allowed[rel]
		if !ok {
			t.Errorf("%s has no entry in allowed (cmd/stackhub/deps_test.go): say what it may import", rel)
			continue
		}
		for _, imp := range p.Imports {
			if std[imp] || permitted(imp, allow) {
				continue
			}
			t.Errorf("%s imports %s, which its entry in allowed does not name", rel, strings.TrimPrefix(imp, mod))
		}
	}
	for rel := range allowed {
		assert.True(t, seen[rel], "allowed names %s, which is no package of the module", rel)
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if !slices.Contains(shipped, rel) {
			continue
		}
		for _, h := range harnesses {
			assert.NotContains(t, p.Deps, mod+h, "the shipped %s links the test harness %s", rel, h)
		}
	}
}

// permitted tells whether imp is named by allow: a package of the module
// exactly, a third-party package by prefix.
func permitted(imp string, allow []string) bool {
	if rel, ok := strings.CutPrefix(imp, mod); ok {
		return slices.Contains(allow, rel)
	}
	return slices.ContainsFunc(allow, func(a string) bool { return imp == a || strings.HasPrefix(imp, a+"/") })
}

// TestPermitted: module packages match exactly, third-party ones by prefix.
func TestPermitted(t *testing.T) {
	allow := []string{"orchestrator", "github.com/moby/moby/api"}
	assert.True(t, permitted(mod+"orchestrator", allow))
	assert.False(t, permitted(mod+"orchestrator/sqlite", allow), "a module package is named exactly")
	assert.True(t, permitted("github.com/moby/moby/api/types/container", allow))
	assert.False(t, permitted("github.com/moby/moby/apix", allow))
	assert.False(t, permitted("github.com/moby/moby/client", allow))
}
