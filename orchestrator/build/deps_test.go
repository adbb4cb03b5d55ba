package build_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps the builder an adapter: no transport, no other adapter, no
// CNAB runtime, no Porter and no compose SDK in its import graph.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", ".").Output()
	require.NoError(t, err)

	forbidden := []string{
		"github.com/websoft9/stackhub/web",
		"github.com/websoft9/stackhub/cmd/",
		"github.com/websoft9/stackhub/orchestrator/sqlite",
		"github.com/websoft9/stackhub/orchestrator/inmem",
		"github.com/websoft9/stackhub/orchestrator/catalog",
		"github.com/websoft9/stackhub/orchestrator/cnabrun",
		"github.com/websoft9/stackhub/orchestrator/dockerhost",
		"github.com/websoft9/stackhub/porter-mixin/bundlerun",
		"github.com/labstack/echo",
		"github.com/cnabio/cnab-go/driver",
		"github.com/cnabio/cnab-go/action",
		"get.porter.sh/",
		"github.com/docker/compose/",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, prefix := range forbidden {
			if strings.HasPrefix(pkg, prefix) {
				t.Errorf("orchestrator/build imports %s (forbidden: %s)", pkg, prefix)
			}
		}
	}
}
