package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogConvertCommand(t *testing.T) {
	out, report := t.TempDir(), filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"catalog", "convert", "--from", "umbrel", "../../orchestrator/storeconv/testdata/umbrel", "--out", out, "--report", report},
		mapEnv(nil), &stdout, &stderr)
	require.Equal(t, 0, code, "%s%s", stdout.String(), stderr.String())
	assert.Contains(t, stdout.String(), "converted  uptime-kuma")
	assert.Contains(t, stdout.String(), "refused    lnbits")
	assert.Contains(t, stdout.String(), "depends on the app(s) lightning")
	assert.Contains(t, stdout.String(), "3 of 5 apps converted")
	assert.FileExists(t, filepath.Join(out, "uptime-kuma", "porter.yaml"))
	assert.NoDirExists(t, filepath.Join(out, "lnbits"))
	var rep struct {
		Attempted, Converted int
		Apps                 []struct {
			App       string
			Converted bool
			Problems  []struct{ Severity, Reason string }
		}
	}
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Equal(t, 5, rep.Attempted)
	assert.Equal(t, 3, rep.Converted)

	// Bad input: a clear usage error.
	for _, args := range [][]string{
		{"catalog", "convert", "--from", "yunohost", ".", "--out", out},
		{"catalog", "convert", "--from", "umbrel", "../../orchestrator/storeconv/testdata/umbrel"},
		{"catalog", "convert", "--from", "casaos", t.TempDir(), "--out", out},
	} {
		stderr.Reset()
		assert.Equal(t, exitUsage, run(t.Context(), args, mapEnv(nil), &bytes.Buffer{}, &stderr), "%v", args)
		assert.NotEmpty(t, stderr.String())
	}
	// Nothing converted: a failure.
	assert.Equal(t, exitFailed, run(t.Context(), []string{"catalog", "convert", "--from", "umbrel", "../../orchestrator/storeconv/testdata/umbrel/lnbits", "--out", out},
		mapEnv(nil), &bytes.Buffer{}, &bytes.Buffer{}))
}
