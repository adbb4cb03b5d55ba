package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Stamp is what the binaries are stamped with (-X main.version, …).
type Stamp struct {
	// Version is the release's version as tagged, e.g. v1.2.0 or
	// v1.2.0-3-gabc1234-dirty (git describe).
	Version string
	// Commit is the full commit hash.
	Commit string
	// Date is the commit's time: a build of one commit is reproducible.
	Date time.Time
}

// gitStamp reads the stamp of the checkout at root; version, when not
// empty, is taken as given.
func gitStamp(ctx context.Context, root, version string) (Stamp, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var s Stamp
	var err error
	if s.Commit, err = git("rev-parse", "HEAD"); err != nil {
		return Stamp{}, err
	}
	secs, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Stamp{}, err
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return Stamp{}, fmt.Errorf("commit time %q: %w", secs, err)
	}
	s.Date = time.Unix(n, 0).UTC()
	s.Version = version
	if s.Version == "" {
		if s.Version, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
			return Stamp{}, err
		}
	}
	return s, nil
}

// describe matches git describe's output: a tag, then -N-gHASH when
// commits follow it, then -dirty.
var describe = regexp.MustCompile(`^(.*?)(?:-([0-9]+)-g([0-9a-f]+))?(-dirty)?$`)

// debVersion turns a version as tagged into a Debian package version that
// sorts the way releases do: v1.2.0 → 1.2.0; a pre-release sorts before
// its release (v1.2.0-rc.1 → 1.2.0~rc.1); commits after a tag sort after
// it (v1.2.0-3-gabc1234 → 1.2.0+3.gabc1234); an untagged checkout (git
// describe gives only a hash) is 0.0.0~git<commit time>.<hash>.
func debVersion(version string, date time.Time) (string, error) {
	m := describe.FindStringSubmatch(version)
	tag, count, hash, dirty := m[1], m[2], m[3], m[4] != ""
	tag = strings.TrimPrefix(tag, "v")
	var v string
	switch {
	case tag == "":
		return "", fmt.Errorf("version %q: no version", version)
	case count == "" && abbrevHash.MatchString(tag), tag[0] < '0' || tag[0] > '9':
		// The hash of an untagged checkout (git describe --always).
		v = "0.0.0~git" + date.UTC().Format("20060102150405") + "." + tag
	default:
		v = strings.ReplaceAll(tag, "-", "~")
		if count != "" {
			v += "+" + count + ".g" + hash
		}
	}
	if dirty {
		if strings.Contains(v, "+") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	if !debVersionOK.MatchString(v) {
		return "", fmt.Errorf("version %q: %q is not a Debian version", version, v)
	}
	return v, nil
}

// abbrevHash is an abbreviated commit hash.
var abbrevHash = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// debVersionOK is a Debian upstream version without epoch or revision.
var debVersionOK = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
