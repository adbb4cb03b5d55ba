package backup_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// tarExport serves volumes from their archives; it has no host view.
type tarExport map[string][]byte

func (x tarExport) Open(v orchestrator.Volume) (io.ReadCloser, error) {
	b, ok := x[v.Key]
	if !ok {
		return nil, fmt.Errorf("no volume %s", v.Key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (x tarExport) Walk(orchestrator.Volume, func(orchestrator.VolumeEntry) error) error {
	return orchestrator.ErrNoHostView
}

func (x tarExport) OpenFile(orchestrator.Volume, string) (io.ReadCloser, error) {
	return nil, errors.New("a tar export reads no single file")
}

// dirExport serves volumes from local directories as Docker's API does
// (modification times in the archives to the second) and counts what it
// is asked.
type dirExport struct {
	dirs map[string]string
	mu   sync.Mutex
	// opens counts whole-volume archives; files lists the files read
	// one by one.
	opens int
	files []string
}

func (x *dirExport) Open(v orchestrator.Volume) (io.ReadCloser, error) {
	x.mu.Lock()
	x.opens++
	x.mu.Unlock()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	root := x.dirs[v.Key]
	links := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join(v.Key, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		return addEntry(tw, p, name, info, links)
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&b), nil
}

// addEntry writes p to tw the way Docker's archive does.
func addEntry(tw *tar.Writer, p, name string, info fs.FileInfo, links map[uint64]string) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime = info.ModTime().Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().IsRegular() && st.Nlink > 1 {
		if first, ok := links[st.Ino]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			links[st.Ino] = name
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

func (x *dirExport) Walk(v orchestrator.Volume, fn func(orchestrator.VolumeEntry) error) error {
	root, ok := x.dirs[v.Key]
	if !ok {
		return orchestrator.ErrNoHostView
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := orchestrator.VolumeEntry{Path: filepath.ToSlash(rel), Mode: info.Mode(), ModTime: info.ModTime()}
		if e.Path == "." {
			e.Path = ""
		}
		if info.Mode().IsRegular() {
			e.Size = info.Size()
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.UID, e.GID, e.Links = st.Uid, st.Gid, uint64(st.Nlink)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			e.Link, _ = os.Readlink(p)
		}
		return fn(e)
	})
}

func (x *dirExport) OpenFile(v orchestrator.Volume, rel string) (io.ReadCloser, error) {
	x.mu.Lock()
	x.files = append(x.files, rel)
	x.mu.Unlock()
	return os.Open(filepath.Join(x.dirs[v.Key], filepath.FromSlash(rel)))
}

// entry is what a restore must give back of an archive's entry.
type entry struct {
	Type           byte
	Mode           int64
	UID, GID       int
	MTime          int64 // seconds
	Size           int64
	Link, Checksum string
	PAX            map[string]string
}

// tarEntries describes archive b by path, the way a restore compares.
func tarEntries(t *testing.T, b []byte) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		h := sha256.New()
		_, err = io.Copy(h, tr)
		require.NoError(t, err)
		e := entry{Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, MTime: hdr.ModTime.Unix(), Size: hdr.Size, Link: hdr.Linkname}
		if hdr.Typeflag == tar.TypeReg {
			e.Checksum = hex.EncodeToString(h.Sum(nil))
		}
		for k, v := range hdr.PAXRecords {
			if len(k) > 6 && k[:6] == "SCHILY" {
				if e.PAX == nil {
					e.PAX = map[string]string{}
				}
				e.PAX[k] = v
			}
		}
		name := hdr.Name
		if len(name) > 1 && name[len(name)-1] == '/' {
			name = name[:len(name)-1]
		}
		out[name] = e
	}
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
