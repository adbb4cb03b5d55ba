package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogFormat: text is logfmt, json one JSON object per line, anything
// else refused by the flag's validation before serve starts.
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info", "json")
	require.NoError(t, err)
	log.Info("StackHub serving", "addr", "127.0.0.1:9000")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "StackHub serving", line["msg"])
	assert.Equal(t, "127.0.0.1:9000", line["addr"])

	buf.Reset()
	log, err = newLogger(&buf, "info", "text")
	require.NoError(t, err)
	log.Info("StackHub serving", "addr", "127.0.0.1:9000")
	assert.Contains(t, buf.String(), `msg="StackHub serving" addr=127.0.0.1:9000`)

	_, err = newLogger(&buf, "info", "xml")
	assert.EqualError(t, err, `--log-format "xml": want text or json`)

	cfg := DefaultConfig()
	assert.Equal(t, "text", cfg.LogFormat, "text by default")
	for format, ok := range map[string]bool{"text": true, "json": true, "JSON": false, "": false, "logfmt": false} {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.LogFormat = format
		if err := cfg.Validate(); ok {
			assert.NoError(t, err, format)
		} else {
			assert.EqualError(t, err, `--log-format "`+format+`": want text or json`)
		}
	}

	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--data-dir", t.TempDir(), "--log-format", "yaml"}, func(string) string { return "" }, &stdout, &stderr)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr.String(), `--log-format "yaml": want text or json`)
	assert.False(t, strings.Contains(stdout.String(), "listening"), "refused before serving")
}
