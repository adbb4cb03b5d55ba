// Package dockertest holds the helpers StackHub's integration tests share:
// the one gate that fails (never skips) a test when no Docker engine
// answers, the runtimes make build leaves in bin/, free ports, a private
// engine a test may stop and start (StartDockerd), a proxy that breaks
// Docker on purpose (StartFaultProxy), and a cluster of engines on one
// machine for Swarm tests (StartCluster, StartSwarm).
package dockertest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
)

// RequireDocker returns a client for the engine at DOCKER_HOST (default
// /var/run/docker.sock) that negotiates the API version. It fails tb when
// no engine answers: make test starts one (make docker-up).
func RequireDocker(tb testing.TB) *client.Client {
	tb.Helper()
	c, err := dockerhost.NewClient()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := dockerhost.New(c).Ping(tb.Context()); err != nil {
		tb.Fatalf("no Docker engine answers (make docker-up starts one): %v", err)
	}
	return c
}

// RuntimesDir returns the repository's bin/, where make build puts
// bundle-runtime and websoft9-runtime, failing tb when they are missing.
func RuntimesDir(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin")
	for _, f := range []string{"bundle-runtime", "websoft9-runtime"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			tb.Fatalf("run make build first: the invocation image needs bin/%s", f)
		}
	}
	return dir
}

// FreePort returns the highest port of [lo, hi] that nothing listens on.
// The engine allocates from the bottom of a bundle's ranges, so tests that
// pick ports themselves and tests that let the engine pick do not meet.
func FreePort(tb testing.TB, lo, hi int) int {
	tb.Helper()
	for p := hi; p >= lo; p-- {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err == nil {
			ln.Close()
			return p
		}
	}
	tb.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}
