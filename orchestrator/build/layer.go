package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the modification time of every tar entry and the image's
// creation time, so that an unchanged input gives an unchanged digest.
var epoch = time.Unix(0, 0).UTC()

// Owners of image files.
const (
	rootUID    = 0
	nonrootUID = 65532
	rootGID    = 0
)

// entry is one file, directory or symlink of a layer. name is relative to
// the image root ("cnab/app/run"), without a trailing slash.
type entry struct {
	name     string
	typeflag byte
	mode     int64
	uid, gid int
	data     []byte
	linkname string
}

func dirEntry(name string, mode int64, uid, gid int) entry {
	return entry{name: name, typeflag: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

func fileEntry(name string, mode int64, uid, gid int, data []byte) entry {
	return entry{name: name, typeflag: tar.TypeReg, mode: mode, uid: uid, gid: gid, data: data}
}

func symlinkEntry(name, target string, uid, gid int) entry {
	return entry{name: name, typeflag: tar.TypeSymlink, mode: 0o777, uid: uid, gid: gid, linkname: target}
}

// tarEntries writes entries as an uncompressed tar, sorted by name, with
// fixed times and no user or group names: the bytes depend only on the
// entries. It refuses duplicate names.
func tarEntries(entries []entry) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, e := range sorted {
		if i > 0 && sorted[i-1].name == e.name {
			return nil, fmt.Errorf("%s is added twice", e.name)
		}
		hdr := &tar.Header{
			Typeflag: e.typeflag,
			Name:     e.name,
			Linkname: e.linkname,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			Size:     int64(len(e.data)),
			ModTime:  epoch,
		}
		if e.typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newLayer returns the entries as a gzip-compressed image layer.
func newLayer(entries []entry) (v1.Layer, error) {
	data, err := tarEntries(entries)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
