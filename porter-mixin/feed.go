package portermixin

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Feed is an Atom feed in the shape `porter mixins install --feed-url`
// reads (getporter/porter pkg/pkgmgmt/feed): one category per mixin at the
// top, and per mixin version an entry whose first category is the mixin
// name, whose content is the version, whose updated is RFC 3339, and whose
// download links end in <mixin>-<goos>-<goarch>[.exe]. Porter picks the
// client by <mixin>-<goos>-<goarch> and the runtime by <mixin>-linux-amd64.
type Feed struct {
	XMLName    xml.Name       `xml:"http://www.w3.org/2005/Atom feed"`
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Link       []FeedLink     `xml:"link"`
	Author     FeedAuthor     `xml:"author"`
	Categories []FeedCategory `xml:"category"`
	Entries    []FeedEntry    `xml:"entry"`
}

// FeedEntry is one mixin version.
type FeedEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Categories []FeedCategory `xml:"category"`
	Content    string         `xml:"content"`
	Links      []FeedLink     `xml:"link"`
}

// FeedLink is an Atom link; rel "download" marks a mixin binary.
type FeedLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

// FeedCategory carries a mixin name.
type FeedCategory struct {
	Term string `xml:"term,attr"`
}

// FeedAuthor names the publisher.
type FeedAuthor struct {
	Name string `xml:"name"`
}

// feedFile matches <version>/<mixin>-<goos>-<goarch>[.exe], the layout
// `porter mixins install --url BASE --version VERSION` downloads from.
var feedFile = regexp.MustCompile(`^(canary|v?[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]*)?)/([a-z0-9-]+)-(linux|darwin|windows)-(amd64|arm64)(\.exe)?$`)

// gitDescribe matches an untagged build's version (git describe:
// v1.2.3-2-ga1b3c5), which Porter's feed generator leaves out
// (pkg/pkgmgmt/feed shouldPublishVersion), as ScanFeed does.
var gitDescribe = regexp.MustCompile(`-[0-9]+-g[0-9a-f]+$`)

// stableVersion matches the versions Porter's "latest" can pick: semver
// without a pre-release (Masterminds semver, a leading v allowed).
var stableVersion = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:\+[0-9A-Za-z.-]+)?$`)

// Latest returns the version `porter mixins install MIXIN --feed-url`
// installs when no --version is given: Porter's default is "latest", which
// its feed search (pkg/pkgmgmt/feed MixinFeed.Search) resolves to the
// highest semantic version without a pre-release among the mixin's
// entries, ignoring canary and anything else that is not semver. ok is
// false when the feed has no such version: Porter would then install
// nothing.
func (f *Feed) Latest(mixin string) (version string, ok bool) {
	var best [3]int
	for _, e := range f.Entries {
		if len(e.Categories) == 0 || e.Categories[0].Term != mixin {
			continue
		}
		m := stableVersion.FindStringSubmatch(e.Content)
		if m == nil {
			continue
		}
		var v [3]int
		for i := range v {
			n, err := strconv.Atoi(m[i+1])
			if err != nil {
				n = -1
			}
			v[i] = n
		}
		if v[0] < 0 || v[1] < 0 || v[2] < 0 {
			continue
		}
		if !ok || slices.Compare(v[:], best[:]) > 0 {
			best, version, ok = v, e.Content, true
		}
	}
	return version, ok
}

// ScanFeed builds the feed of the mixin binaries in fsys (laid out as
// <version>/<mixin>-<goos>-<goarch>[.exe]; other files are ignored), with
// links under baseURL, the URL fsys is served at. An entry's updated time
// is its newest file's modification time. It fails when no binary matches.
func ScanFeed(fsys fs.FS, baseURL string) (*Feed, error) {
	type key struct{ mixin, version string }
	type fileset struct {
		links   []FeedLink
		updated time.Time
	}
	sets := map[key]*fileset{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		m := feedFile.FindStringSubmatch(p)
		if d.IsDir() || m == nil || gitDescribe.MatchString(m[1]) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		href, err := url.JoinPath(baseURL, m[1], d.Name())
		if err != nil {
			return fmt.Errorf("feed: link for %s: %w", p, err)
		}
		k := key{mixin: m[2], version: m[1]}
		s := sets[k]
		if s == nil {
			s = &fileset{}
			sets[k] = s
		}
		s.links = append(s.links, FeedLink{Rel: "download", Href: href})
		if t := info.ModTime().UTC().Truncate(time.Second); t.After(s.updated) {
			s.updated = t
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed: scan: %w", err)
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("feed: no mixin binaries <version>/<mixin>-<goos>-<goarch>[.exe] found")
	}
	self, err := url.JoinPath(baseURL, "atom.xml")
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	feed := &Feed{ID: baseURL, Title: "StackHub mixins", Link: []FeedLink{{Rel: "self", Href: self}}, Author: FeedAuthor{Name: Author}}
	keys := make([]key, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	// Newest first, then by mixin and version, as Porter's generator orders them.
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(sets[b].updated.Compare(sets[a].updated), cmp.Compare(a.mixin, b.mixin), cmp.Compare(a.version, b.version))
	})
	var newest time.Time
	var mixins []string
	for _, k := range keys {
		s := sets[k]
		slices.SortFunc(s.links, func(a, b FeedLink) int { return cmp.Compare(a.Href, b.Href) })
		id, _ := url.JoinPath(baseURL, k.version, k.mixin)
		feed.Entries = append(feed.Entries, FeedEntry{
			ID: id, Title: k.mixin + " @ " + k.version, Updated: s.updated.Format(time.RFC3339),
			Categories: []FeedCategory{{Term: k.mixin}}, Content: k.version, Links: s.links,
		})
		if s.updated.After(newest) {
			newest = s.updated
		}
		if !slices.Contains(mixins, k.mixin) {
			mixins = append(mixins, k.mixin)
		}
	}
	slices.Sort(mixins)
	for _, name := range mixins {
		feed.Categories = append(feed.Categories, FeedCategory{Term: name})
	}
	feed.Updated = newest.Format(time.RFC3339)
	return feed, nil
}

// Write encodes the feed as indented XML with a declaration.
func (f *Feed) Write(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	return nil
}

// ReadFeed decodes a feed written earlier (Porter's, or Write's).
func ReadFeed(r io.Reader) (*Feed, error) {
	var f Feed
	if err := xml.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("feed: read: %w", err)
	}
	return &f, nil
}

// Keep adds the entries of an earlier feed that f does not have (same
// mixin and version, by title), so that publishing a new version keeps the
// older ones installable; the order stays newest first.
func (f *Feed) Keep(earlier *Feed) {
	have := map[string]bool{}
	for _, e := range f.Entries {
		have[e.Title] = true
	}
	for _, e := range earlier.Entries {
		if have[e.Title] {
			continue
		}
		f.Entries = append(f.Entries, e)
		for _, c := range e.Categories {
			if !slices.ContainsFunc(f.Categories, func(x FeedCategory) bool { return x.Term == c.Term }) {
				f.Categories = append(f.Categories, c)
			}
		}
		if e.Updated > f.Updated {
			f.Updated = e.Updated
		}
	}
	slices.SortStableFunc(f.Entries, func(a, b FeedEntry) int { return cmp.Compare(b.Updated, a.Updated) })
	slices.SortFunc(f.Categories, func(a, b FeedCategory) int { return cmp.Compare(a.Term, b.Term) })
}
