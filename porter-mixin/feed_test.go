package portermixin

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFeed(t *testing.T) {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	fsys := fstest.MapFS{
		"v0.1.0/websoft9-linux-amd64":        {ModTime: t1},
		"v0.1.0/websoft9-darwin-arm64":       {ModTime: t1.Add(-time.Hour)},
		"v0.1.0/websoft9-windows-amd64.exe":  {ModTime: t1},
		"v0.2.0-rc.1/websoft9-linux-amd64":   {ModTime: t2},
		"websoft9/websoft9":                  {ModTime: t2}, // the install layout is not a download
		"websoft9/runtimes/websoft9-runtime": {ModTime: t2},
		"atom.xml":                           {ModTime: t2},
		"notaversion/websoft9-linux-amd64":   {ModTime: t2},
	}
	feed, err := ScanFeed(fsys, "https://example.com/mixins/")
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, feed.Write(&out))
	assert.Equal(t, xml.Header+`<feed xmlns="http://www.w3.org/2005/Atom">
  <id>https://example.com/mixins/</id>
  <title>StackHub mixins</title>
  <updated>2026-01-03T03:04:05Z</updated>
  <link rel="self" href="https://example.com/mixins/atom.xml"></link>
  <author>
    <name>StackHub</name>
  </author>
  <category term="websoft9"></category>
  <entry>
    <id>https://example.com/mixins/v0.2.0-rc.1/websoft9</id>
    <title>websoft9 @ v0.2.0-rc.1</title>
    <updated>2026-01-03T03:04:05Z</updated>
    <category term="websoft9"></category>
    <content>v0.2.0-rc.1</content>
    <link rel="download" href="https://example.com/mixins/v0.2.0-rc.1/websoft9-linux-amd64"></link>
  </entry>
  <entry>
    <id>https://example.com/mixins/v0.1.0/websoft9</id>
    <title>websoft9 @ v0.1.0</title>
    <updated>2026-01-02T03:04:05Z</updated>
    <category term="websoft9"></category>
    <content>v0.1.0</content>
    <link rel="download" href="https://example.com/mixins/v0.1.0/websoft9-darwin-arm64"></link>
    <link rel="download" href="https://example.com/mixins/v0.1.0/websoft9-linux-amd64"></link>
    <link rel="download" href="https://example.com/mixins/v0.1.0/websoft9-windows-amd64.exe"></link>
  </entry>
</feed>
`, out.String())

	// Read back as Porter does: first category = mixin, content = version,
	// updated in RFC 3339, download links found by <mixin>-<goos>-<goarch>.
	var back Feed
	require.NoError(t, xml.Unmarshal(out.Bytes(), &back))
	require.Len(t, back.Entries, 2)
	e := back.Entries[1]
	assert.Equal(t, Name, e.Categories[0].Term)
	assert.Equal(t, "v0.1.0", e.Content)
	_, err = time.Parse(time.RFC3339, e.Updated)
	require.NoError(t, err)
	assert.Contains(t, e.Links, FeedLink{Rel: "download", Href: "https://example.com/mixins/v0.1.0/websoft9-linux-amd64"})

	_, err = ScanFeed(fstest.MapFS{"websoft9/websoft9": {}}, "https://example.com/mixins")
	require.ErrorContains(t, err, "no mixin binaries")
}

// Publishing a version keeps the earlier versions of the feed it replaces.
func TestFeedKeepsEarlierVersions(t *testing.T) {
	feed, err := ScanFeed(fstest.MapFS{
		"v1.1.0/websoft9-linux-amd64": {ModTime: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	}, "https://example.com/dl")
	require.NoError(t, err)
	var buf strings.Builder
	earlier := &Feed{Updated: "2026-01-02T00:00:00Z", Categories: []FeedCategory{{Term: "websoft9"}}, Entries: []FeedEntry{
		{Title: "websoft9 @ v1.1.0", Updated: "2026-01-02T00:00:00Z", Content: "v1.1.0"},
		{Title: "websoft9 @ v1.0.0", Updated: "2026-01-01T00:00:00Z", Content: "v1.0.0", Categories: []FeedCategory{{Term: "websoft9"}}},
	}}
	require.NoError(t, earlier.Write(&buf))
	read, err := ReadFeed(strings.NewReader(buf.String()))
	require.NoError(t, err)
	feed.Keep(read)
	require.Len(t, feed.Entries, 2, "v1.1.0 from the scan, v1.0.0 kept")
	assert.Equal(t, "https://example.com/dl/v1.1.0/websoft9-linux-amd64", feed.Entries[0].Links[0].Href, "the scanned v1.1.0 wins")
	assert.Equal(t, "websoft9 @ v1.0.0", feed.Entries[1].Title)
	assert.Equal(t, []FeedCategory{{Term: "websoft9"}}, feed.Categories)
	assert.Equal(t, "2026-02-01T00:00:00Z", feed.Updated)
}

// TestFeedLatest: `porter mixins install websoft9 --feed-url URL` without
// --version asks the feed for "latest", which Porter resolves to the
// highest semantic version without a pre-release (by number, not text),
// ignoring canary; untagged builds are left out of the feed, as Porter's
// generator leaves them out.
func TestFeedLatest(t *testing.T) {
	fsys := fstest.MapFS{
		"v0.2.0/websoft9-linux-amd64":             {},
		"v0.10.0/websoft9-linux-amd64":            {},
		"v0.9.3/websoft9-linux-amd64":             {},
		"v0.11.0-rc.1/websoft9-linux-amd64":       {},
		"v0.12.0-3-gabc1234/websoft9-linux-amd64": {},
		"canary/websoft9-linux-amd64":             {},
		"latest/websoft9-linux-amd64":             {}, // the --url download of latest, not a feed entry
		"v1.0.0/other-linux-amd64":                {},
	}
	feed, err := ScanFeed(fsys, "https://example.com/mixins")
	require.NoError(t, err)
	var versions []string
	for _, e := range feed.Entries {
		if e.Categories[0].Term == Name {
			versions = append(versions, e.Content)
		}
	}
	assert.ElementsMatch(t, []string{"v0.2.0", "v0.10.0", "v0.9.3", "v0.11.0-rc.1", "canary"}, versions, "no untagged build, no latest directory")
	got, ok := feed.Latest(Name)
	require.True(t, ok)
	assert.Equal(t, "v0.10.0", got, "highest by number, pre-releases and canary left out")
	got, ok = feed.Latest("other")
	assert.True(t, ok)
	assert.Equal(t, "v1.0.0", got)

	feed, err = ScanFeed(fstest.MapFS{"v0.1.0-rc.1/websoft9-linux-amd64": {}, "canary/websoft9-linux-amd64": {}}, "https://example.com/mixins")
	require.NoError(t, err)
	_, ok = feed.Latest(Name)
	assert.False(t, ok, "a feed of pre-releases has no latest for Porter")
}
