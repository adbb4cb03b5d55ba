package ocibundle_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const (
	workflowFile  = "../../.github/workflows/publish-bundles.yml"
	publishScript = ".github/scripts/publish-bundles.sh"
	// publishRun is the publish step's command; the integration test runs
	// the same script against a loopback registry.
	publishRun = publishScript + " bin/stackhub bundles"
	actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)

// TestWorkflow_Actionlint checks .github/workflows/publish-bundles.yml with
// actionlint (run through go run, so go.mod does not grow).
func TestWorkflow_Actionlint(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), goBin, "run", actionlint, "-color=false", workflowFile)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "actionlint:\n%s", out)
}

// TestWorkflow_Shape checks what the workflow promises: a v* tag trigger,
// lint and publish through the script the integration test runs, the
// registry and credentials from secrets, the mixin for linux amd64 and arm64
// with its feed.
func TestWorkflow_Shape(t *testing.T) {
	raw, err := os.ReadFile(workflowFile)
	require.NoError(t, err)
	var wf struct {
		On struct {
			Push struct {
				Tags []string `yaml:"tags"`
			} `yaml:"push"`
		} `yaml:"on"`
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &wf))
	assert.Equal(t, []string{"v*"}, wf.On.Push.Tags)

	var runs []string
	env := map[string]string{}
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			runs = append(runs, s.Run)
			for k, v := range s.Env {
				env[k] = v
			}
		}
	}
	assert.Contains(t, runs, publishRun)
	assert.Contains(t, runs, "make build")
	assert.Equal(t, "${{ secrets.BUNDLE_REGISTRY }}", env["BUNDLE_REGISTRY"])
	assert.Equal(t, "${{ secrets.BUNDLE_REGISTRY_PASSWORD }}", env["PASSWORD"])
	assert.Contains(t, string(raw), "for arch in amd64 arm64")
	assert.Contains(t, string(raw), "go run ./cmd/websoft9 feed")

	script, err := os.ReadFile("../../" + publishScript)
	require.NoError(t, err)
	assert.Contains(t, string(script), `"$stackhub" bundle lint "$dir"`)
	assert.Contains(t, string(script), `"$stackhub" bundle publish "$dir" --reference "$BUNDLE_REGISTRY/$app"`)
}
