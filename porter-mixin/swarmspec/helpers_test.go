package swarmspec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// assertGolden compares got with the golden file at path;
// UPDATE_GOLDEN=1 rewrites the file instead.
func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run UPDATE_GOLDEN=1 go test ./porter-mixin/swarmspec/")
	require.Equal(t, string(want), string(got), "got differs from %s (UPDATE_GOLDEN=1 rewrites it)", path)
}

// mustLoad loads a compose file as the mixin does for app blog (project
// websoft9-blog), with env offered to interpolation.
func mustLoad(t *testing.T, compose string, env ...string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "docker-compose.yml")
	require.NoError(t, os.WriteFile(path, []byte(compose), 0o644))
	return mustLoadFile(t, path, "websoft9-blog", env)
}

func mustLoadFile(t *testing.T, path, project string, env []string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithName(project), cli.WithWorkingDirectory(filepath.Dir(path)), cli.WithEnv(env))
	require.NoError(t, err)
	p, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "compose-go loads the model")
	return p
}

// blogOptions are the options of most tests: app blog, main service web,
// on node n1.
func blogOptions() Options {
	return Options{App: "blog", Main: "web", Node: Node{ID: "n1"}}
}

// mustConvert converts and fails the test on any error.
func mustConvert(t *testing.T, p *types.Project, opts Options) *Plan {
	t.Helper()
	plan, err := Convert(p, opts)
	require.NoError(t, err)
	return plan
}

// service returns the plan's service of compose name name.
func service(t *testing.T, plan *Plan, name string) Service {
	t.Helper()
	for _, s := range plan.Services {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "no service", "the plan has no service %s", name)
	return Service{}
}

// problems returns the Unsupported problems of err, failing the test
// when err is not an UnsupportedError.
func problems(t *testing.T, err error) []Unsupported {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnsupported)
	uerr, ok := errors.AsType[*UnsupportedError](err)
	require.True(t, ok, "an *UnsupportedError: %v", err)
	return uerr.Problems
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

func errorsAsUnsupported(err error) (*UnsupportedError, bool) {
	return errors.AsType[*UnsupportedError](err)
}
