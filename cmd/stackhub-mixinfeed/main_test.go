package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	fsys := fstest.MapFS{
		"v1.1.0/websoft9-linux-amd64": {},
		"v1.1.0/websoft9-linux-arm64": {},
		"v1.1.0/checksums.txt":        {},
	}
	old := &Feed{Entries: []Entry{
		{ID: "x", Title: "websoft9 @ v1.0.0", Updated: "2026-01-01T00:00:00Z", Categories: []Category{{Term: "websoft9"}}, Content: "v1.0.0",
			Links: []Link{{Rel: "download", Href: "https://example.com/dl/v1.0.0/websoft9-linux-amd64"}}},
		{ID: "y", Title: "websoft9 @ v1.1.0", Updated: "2026-01-02T00:00:00Z", Categories: []Category{{Term: "websoft9"}}, Content: "v1.1.0"},
	}}
	when := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	feed, err := Generate(fsys, "https://example.com/dl", when, old)
	require.NoError(t, err)
	require.Len(t, feed.Entries, 2, "v1.1.0 replaced, v1.0.0 kept")
	e := feed.Entries[0]
	assert.Equal(t, "websoft9 @ v1.1.0", e.Title)
	assert.Equal(t, "v1.1.0", e.Content)
	assert.Equal(t, "2026-02-01T00:00:00Z", e.Updated)
	assert.Equal(t, []Category{{Term: "websoft9"}}, e.Categories)
	assert.Equal(t, []Link{
		{Rel: "download", Href: "https://example.com/dl/v1.1.0/websoft9-linux-amd64"},
		{Rel: "download", Href: "https://example.com/dl/v1.1.0/websoft9-linux-arm64"},
	}, e.Links)
	assert.Equal(t, "websoft9 @ v1.0.0", feed.Entries[1].Title)
	assert.Equal(t, []Category{{Term: "websoft9"}}, feed.Categories)
	assert.Equal(t, "2026-02-01T00:00:00Z", feed.Updated)

	data, err := xml.Marshal(feed)
	require.NoError(t, err)
	assert.Contains(t, string(data), `<feed xmlns="http://www.w3.org/2005/Atom">`)
	assert.Contains(t, string(data), `<link rel="download" href="https://example.com/dl/v1.1.0/websoft9-linux-amd64"></link>`)
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "v0.1.0"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v0.1.0", "websoft9-linux-amd64"), []byte("x"), 0o755))
	out := filepath.Join(t.TempDir(), "atom.xml")
	require.NoError(t, run([]string{"-dir", dir, "-base-url", "https://example.com/dl/", "-out", out, "-updated", "2026-03-01T00:00:00Z"}, os.Stderr))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var feed Feed
	require.NoError(t, xml.Unmarshal(data, &feed))
	require.Len(t, feed.Entries, 1)
	assert.Equal(t, "https://example.com/dl/v0.1.0/websoft9", feed.Entries[0].ID)
	assert.Error(t, run([]string{"-dir", t.TempDir(), "-base-url", "u", "-out", out}, os.Stderr), "no binaries")
}
