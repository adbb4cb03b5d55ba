// Package storeconv turns apps of other self-hosting stores (Websoft9,
// CasaOS, Runtipi, Umbrel) and plain compose projects into StackHub
// bundles: a porter.yaml with the websoft9 mixin and a compose file that
// takes every host port, setting and secret from the bundle's parameters.
//
// Each store's runtime fills variables, names containers and mounts data
// its own way (docs/store-formats.md); the converter maps what has a
// StackHub equivalent (a port parameter, a generated secret, a named
// volume, a declared permission) and reports, per app, what it cannot
// convert and why. An app with a blocking problem is not written.
//
// The converter reads files only: it never runs a store's scripts, hooks
// or templates, and never pulls an image.
package storeconv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Store is a format the converter reads.
type Store string

// The stores.
const (
	Websoft9 Store = "websoft9"
	CasaOS   Store = "casaos"
	Runtipi  Store = "runtipi"
	Umbrel   Store = "umbrel"
	Compose  Store = "compose"
)

// Stores are the formats, for help texts and validation.
var Stores = []Store{Websoft9, CasaOS, Runtipi, Umbrel, Compose}

// Severity of a problem: a blocked app is not converted; a warning is
// converted and says what a reviewer must look at.
type Severity string

// Severities.
const (
	Blocked Severity = "blocked"
	Warning Severity = "warning"
)

// Problem is one thing the converter could not carry over as it was.
type Problem struct {
	Severity Severity `json:"severity"`
	// Where is the file, service or key concerned.
	Where  string `json:"where,omitempty"`
	Reason string `json:"reason"`
}

// Result is one app's conversion.
type Result struct {
	Store Store `json:"store"`
	// Source is the app's folder in the store.
	Source string `json:"source"`
	// App is the bundle's name.
	App       string    `json:"app"`
	Converted bool      `json:"converted"`
	Problems  []Problem `json:"problems"`
	// Permissions the bundle declares (bundle trust).
	Permissions []string `json:"permissions,omitempty"`
	// Files are the bundle's files by name (porter.yaml, docker-compose.yml,
	// an icon); none when not converted.
	Files map[string][]byte `json:"-"`
}

// Report is what --report writes: every app attempted, per store.
type Report struct {
	Attempted int      `json:"attempted"`
	Converted int      `json:"converted"`
	Apps      []Result `json:"apps"`
}

// NewReport sums results up.
func NewReport(results []Result) Report {
	r := Report{Attempted: len(results), Apps: results}
	for _, a := range results {
		if a.Converted {
			r.Converted++
		}
	}
	return r
}

// ParseStore reads a --from value.
func ParseStore(s string) (Store, error) {
	for _, st := range Stores {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(Stores))
	for i, st := range Stores {
		names[i] = string(st)
	}
	return "", fmt.Errorf("unknown store %q: one of %s", s, strings.Join(names, ", "))
}

// Convert converts the app in dir, or every app of a store checkout in
// dir, in the order of their folders.
func Convert(ctx context.Context, store Store, dir string) ([]Result, error) {
	apps, err := appDirs(store, dir)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(apps))
	for _, app := range apps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, convertOne(store, app))
	}
	return out, nil
}

// marker is the file that makes a folder an app of each store.
var marker = map[Store]string{
	Websoft9: "variables.json",
	CasaOS:   "docker-compose.yml",
	Runtipi:  "config.json",
	Umbrel:   "umbrel-app.yml",
	Compose:  "docker-compose.yml",
}

// appDirs finds the apps: dir itself when it holds the store's marker
// file, else its subfolders that do (a store checkout's apps/, Apps/ or
// top level).
func appDirs(store Store, dir string) ([]string, error) {
	m, ok := marker[store]
	if !ok {
		return nil, fmt.Errorf("unknown store %q", store)
	}
	if store == Compose {
		for _, name := range []string{"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"} {
			if fileExists(filepath.Join(dir, name)) {
				return []string{dir}, nil
			}
		}
	} else if fileExists(filepath.Join(dir, m)) {
		return []string{dir}, nil
	}
	for _, sub := range []string{"apps", "Apps", "."} {
		root := filepath.Join(dir, sub)
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		var apps []string
		for _, e := range entries {
			if e.IsDir() && fileExists(filepath.Join(root, e.Name(), m)) {
				apps = append(apps, filepath.Join(root, e.Name()))
			}
		}
		if len(apps) > 0 {
			sort.Strings(apps)
			return apps, nil
		}
	}
	return nil, fmt.Errorf("%s: no %s app here (no %s in it or its app folders)", dir, store, m)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// convertOne reads, converts and renders one app; a panic-free path: every
// failure is a problem of the result.
func convertOne(store Store, dir string) Result {
	res := Result{Store: store, Source: dir, Problems: []Problem{}}
	d, err := read(store, dir)
	if d != nil {
		res.App = d.name
	}
	if err != nil {
		var p *problemError
		if errors.As(err, &p) {
			res.Problems = append(res.Problems, p.Problem)
		} else {
			res.Problems = append(res.Problems, Problem{Severity: Blocked, Reason: err.Error()})
		}
		if res.App == "" {
			res.App = bundleName(filepath.Base(dir))
		}
		return res
	}
	d.convert()
	res.Problems = append(res.Problems, d.problems...)
	res.Permissions = d.permissions()
	for _, p := range d.problems {
		if p.Severity == Blocked {
			return res
		}
	}
	files, err := d.render()
	if err != nil {
		res.Problems = append(res.Problems, Problem{Severity: Blocked, Reason: err.Error()})
		return res
	}
	res.Files, res.Converted = files, true
	return res
}

// problemError is a reader's blocking problem.
type problemError struct{ Problem }

func (p *problemError) Error() string { return p.Reason }

func blocked(where, format string, args ...any) error {
	return &problemError{Problem{Severity: Blocked, Where: where, Reason: fmt.Sprintf(format, args...)}}
}

// Write writes a converted app's files into out/<app>/, replacing what a
// former conversion left there.
func Write(out string, r Result) (string, error) {
	if !r.Converted {
		return "", fmt.Errorf("%s was not converted", r.App)
	}
	dir := filepath.Join(out, r.App)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	names := make([]string, 0, len(r.Files))
	for name := range r.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), r.Files[name], 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// bundleName makes a bundle name of a store's id: lower case, letters,
// digits and single hyphens (UptimeKuma → uptimekuma, org.icewhale.x → x).
func bundleName(id string) string {
	if i := strings.LastIndex(id, "."); i >= 0 && strings.Count(id, ".") >= 2 {
		id = id[i+1:]
	}
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(id), "-"), "-")
	if n == "" {
		return "app"
	}
	if n[0] >= '0' && n[0] <= '9' {
		n = "app-" + n
	}
	if len(n) > 40 {
		n = strings.TrimRight(n[:40], "-")
	}
	return n
}
