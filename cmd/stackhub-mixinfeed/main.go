// Command stackhub-mixinfeed writes the atom feed Porter reads to install a
// mixin (`porter mixins install websoft9 --feed-url URL`), as `porter
// mixins feed generate` does (getporter/porter pkg/pkgmgmt/feed): one entry
// per mixin version, whose category is the mixin name, whose content is
// the version and whose download links end in <mixin>-<os>-<arch>[.exe].
//
//	stackhub-mixinfeed -dir DIR -base-url URL -out atom.xml [-existing old.xml] [-updated RFC3339]
//
// DIR holds <version>/<mixin>-<os>-<arch> files; each links to
// URL/<version>/<file>. Entries of -existing are kept unless DIR has the
// same mixin and version. It imports only the standard library.
package main

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Feed is the subset of Atom that Porter writes and reads.
type Feed struct {
	XMLName    xml.Name   `xml:"http://www.w3.org/2005/Atom feed"`
	ID         string     `xml:"id"`
	Title      string     `xml:"title"`
	Updated    string     `xml:"updated"`
	Links      []Link     `xml:"link"`
	Author     Author     `xml:"author"`
	Categories []Category `xml:"category"`
	Entries    []Entry    `xml:"entry"`
}

// Entry is one mixin version.
type Entry struct {
	ID         string     `xml:"id"`
	Title      string     `xml:"title"`
	Updated    string     `xml:"updated"`
	Categories []Category `xml:"category"`
	Content    string     `xml:"content"`
	Links      []Link     `xml:"link"`
}

// Link is an atom link; Porter downloads the rel="download" ones.
type Link struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

// Category names a mixin.
type Category struct {
	Term string `xml:"term,attr"`
}

// Author is the feed's author.
type Author struct {
	Name string `xml:"name"`
	URI  string `xml:"uri"`
}

// binaryName is <mixin>-<os>-<arch>[.exe].
var binaryName = regexp.MustCompile(`^([a-z0-9]+(?:-runtime)?)-(linux|darwin|windows)-(amd64|arm64)(\.exe)?$`)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stackhub-mixinfeed:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("stackhub-mixinfeed", flag.ContinueOnError)
	dir := flags.String("dir", "", "directory of <version>/<mixin>-<os>-<arch> files (required)")
	base := flags.String("base-url", "", "URL under which <version>/<file> is downloadable (required)")
	out := flags.String("out", "atom.xml", "feed to write")
	existing := flags.String("existing", "", "an earlier feed whose other entries are kept")
	updated := flags.String("updated", "", "timestamp of the new entries, RFC 3339 (default: now)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *base == "" {
		return errors.New("-dir and -base-url are required")
	}
	when := time.Now().UTC()
	if *updated != "" {
		t, err := time.Parse(time.RFC3339, *updated)
		if err != nil {
			return fmt.Errorf("-updated: %w", err)
		}
		when = t.UTC()
	}
	var old *Feed
	if *existing != "" {
		data, err := os.ReadFile(*existing)
		if err != nil {
			return err
		}
		old = &Feed{}
		if err := xml.Unmarshal(data, old); err != nil {
			return fmt.Errorf("%s: %w", *existing, err)
		}
	}
	feed, err := Generate(os.DirFS(*dir), strings.TrimRight(*base, "/"), when, old)
	if err != nil {
		return err
	}
	data, err := xml.MarshalIndent(feed, "", "    ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d entries\n", filepath.Clean(*out), len(feed.Entries))
	return nil
}

// Generate builds the feed from fsys (<version>/<file> entries), keeping
// old's entries for other mixin versions. Entries are newest first, then
// by mixin and version.
func Generate(fsys fs.FS, base string, when time.Time, old *Feed) (*Feed, error) {
	versions, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	stamp := when.Format(time.RFC3339)
	fresh := map[string]*Entry{} // mixin@version
	for _, v := range versions {
		if !v.IsDir() {
			continue
		}
		files, err := fs.ReadDir(fsys, v.Name())
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			m := binaryName.FindStringSubmatch(f.Name())
			if m == nil || strings.HasSuffix(m[1], "-runtime") {
				continue // Porter derives the runtime from the linux/amd64 client name
			}
			key := m[1] + "@" + v.Name()
			e := fresh[key]
			if e == nil {
				e = &Entry{ID: base + "/" + v.Name() + "/" + m[1], Title: m[1] + " @ " + v.Name(), Updated: stamp,
					Categories: []Category{{Term: m[1]}}, Content: v.Name()}
				fresh[key] = e
			}
			e.Links = append(e.Links, Link{Rel: "download", Href: base + "/" + v.Name() + "/" + f.Name()})
		}
	}
	if len(fresh) == 0 {
		return nil, errors.New("no <version>/<mixin>-<os>-<arch> files found")
	}
	feed := &Feed{ID: base, Title: "StackHub mixins", Author: Author{Name: "Websoft9", URI: base}}
	if old != nil {
		for _, e := range old.Entries {
			if len(e.Categories) > 0 && fresh[e.Categories[0].Term+"@"+e.Content] == nil {
				feed.Entries = append(feed.Entries, e)
			}
		}
	}
	for _, e := range fresh {
		slices.SortFunc(e.Links, func(a, b Link) int { return strings.Compare(a.Href, b.Href) })
		feed.Entries = append(feed.Entries, *e)
	}
	slices.SortFunc(feed.Entries, func(a, b Entry) int {
		if c := strings.Compare(b.Updated, a.Updated); c != 0 {
			return c
		}
		return strings.Compare(a.Title, b.Title)
	})
	mixins := map[string]bool{}
	for _, e := range feed.Entries {
		if len(e.Categories) > 0 && !mixins[e.Categories[0].Term] {
			mixins[e.Categories[0].Term] = true
			feed.Categories = append(feed.Categories, e.Categories[0])
		}
	}
	slices.SortFunc(feed.Categories, func(a, b Category) int { return strings.Compare(a.Term, b.Term) })
	feed.Updated = feed.Entries[0].Updated
	feed.Links = []Link{{Rel: "self", Href: base + "/atom.xml"}}
	return feed, nil
}
