package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
)

// prefetch is how many files ahead of the one being written writeArchive
// reads, so that reading the repository overlaps writing the archive.
const prefetch = 8

// readDir reads the entries of directory object oid as they were saved
// (kopia's own reader gives a directory the newest time found below it).
func readDir(ctx context.Context, rep repo.Repository, oid object.ID) ([]*snapshot.DirEntry, error) {
	rd, err := rep.OpenObject(ctx, oid)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var m snapshot.DirManifest
	if err := json.NewDecoder(rd).Decode(&m); err != nil {
		return nil, fmt.Errorf("directory %s: %w", oid, err)
	}
	return m.Entries, nil
}

// child returns the entry called name among entries, or nil.
func child(entries []*snapshot.DirEntry, name string) *snapshot.DirEntry {
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// writeArchive writes the volume tree at de as the tar archive Docker
// takes back (paths starting with key/), modification times to the
// nanosecond, with what extras kept: extended attributes, then hard links,
// devices and FIFOs.
func writeArchive(ctx context.Context, rep repo.Repository, w io.Writer, de *snapshot.DirEntry, key string, ex []extra) error {
	pax := map[string]map[string]string{}
	for _, e := range ex {
		if e.Type == 0 && e.PAX != nil {
			pax[e.Path] = e.PAX
		}
	}
	tw := tar.NewWriter(w)
	a := &archiver{ctx: ctx, rep: rep, tw: tw, key: key, pax: pax}
	if err := a.dir(de, ""); err != nil {
		return err
	}
	for _, e := range ex {
		if e.Type == 0 {
			continue
		}
		hdr := &tar.Header{Typeflag: e.Type, Name: key + "/" + e.Path, Mode: e.Mode, Uid: e.UID, Gid: e.GID, ModTime: e.ModTime,
			Devmajor: e.Devmajor, Devminor: e.Devminor, PAXRecords: e.PAX, Format: tar.FormatPAX}
		hdr.Linkname = e.Link
		if e.Type == tar.TypeLink {
			hdr.Linkname = key + "/" + e.Link
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	return tw.Close()
}

type archiver struct {
	ctx context.Context
	rep repo.Repository
	tw  *tar.Writer
	key string
	pax map[string]map[string]string
}

// header is the tar header of e at rel.
func (a *archiver) header(e *snapshot.DirEntry, rel string) *tar.Header {
	mode := int64(os.FileMode(e.Permissions) & os.ModePerm)
	perm := os.FileMode(e.Permissions)
	if perm&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if perm&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if perm&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	hdr := &tar.Header{Name: path.Join(a.key, rel), Mode: mode, Uid: int(e.UserID), Gid: int(e.GroupID),
		ModTime: e.ModTime.ToTime(), Format: tar.FormatPAX, PAXRecords: a.pax[rel]}
	switch e.Type {
	case snapshot.EntryTypeDirectory:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case snapshot.EntryTypeSymlink:
		hdr.Typeflag = tar.TypeSymlink
	default:
		hdr.Typeflag, hdr.Size = tar.TypeReg, e.FileSize
	}
	return hdr
}

// fetched is a file's content read ahead.
type fetched struct {
	rd  io.ReadCloser
	err error
}

// open reads file e: a small one whole, here (decrypted, decompressed).
func (a *archiver) open(e *snapshot.DirEntry) (io.ReadCloser, error) {
	rd, err := a.rep.OpenObject(a.ctx, e.ObjectID)
	if err != nil || e.FileSize > smallFile {
		return rd, err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return io.NopCloser(bytes.NewReader(b)), err
}

// dir writes directory de (at rel) and what it holds.
func (a *archiver) dir(de *snapshot.DirEntry, rel string) error {
	if err := a.tw.WriteHeader(a.header(de, rel)); err != nil {
		return err
	}
	entries, err := readDir(a.ctx, a.rep, de.ObjectID)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", path.Join(a.key, rel), err)
	}
	// The files' contents are read prefetch ahead, each on its own
	// goroutine, and written in order.
	var files []*snapshot.DirEntry
	for _, e := range entries {
		if e.Type == snapshot.EntryTypeFile {
			files = append(files, e)
		}
	}
	ahead := make([]chan fetched, len(files))
	next := 0
	start := func() {
		if next >= len(files) {
			return
		}
		ch := make(chan fetched, 1)
		ahead[next] = ch
		f := files[next]
		next++
		go func() {
			rd, err := a.open(f)
			ch <- fetched{rd: rd, err: err}
		}()
	}
	defer func() {
		for _, ch := range ahead {
			if ch == nil {
				continue
			}
			if o := <-ch; o.rd != nil {
				o.rd.Close()
			}
		}
	}()
	for range prefetch {
		start()
	}
	fi := 0
	for _, e := range entries {
		p := path.Join(rel, e.Name)
		if e.Name == "" || e.Name == "." || e.Name == ".." || path.Base(p) != e.Name {
			return fmt.Errorf("bad entry name %q in %s", e.Name, path.Join(a.key, rel))
		}
		switch e.Type {
		case snapshot.EntryTypeDirectory:
			if err := a.dir(e, p); err != nil {
				return err
			}
		case snapshot.EntryTypeSymlink:
			target, err := a.readlink(e)
			if err != nil {
				return fmt.Errorf("read link %s: %w", p, err)
			}
			hdr := a.header(e, p)
			hdr.Linkname = target
			if err := a.tw.WriteHeader(hdr); err != nil {
				return err
			}
		case snapshot.EntryTypeFile:
			o := <-ahead[fi]
			ahead[fi] = nil
			fi++
			start()
			if o.err != nil {
				return fmt.Errorf("read %s: %w", p, o.err)
			}
			err := a.file(e, p, o.rd)
			o.rd.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// readlink reads a symbolic link's target.
func (a *archiver) readlink(e *snapshot.DirEntry) (string, error) {
	rd, err := a.rep.OpenObject(a.ctx, e.ObjectID)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, 64<<10))
	return string(b), err
}

// file writes file e at rel from rd.
func (a *archiver) file(e *snapshot.DirEntry, rel string, rd io.Reader) error {
	hdr := a.header(e, rel)
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(a.tw, rd)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("read %s: %d bytes of %d", rel, n, hdr.Size)
	}
	return nil
}

// rawEntry returns the saved entry at p (slash-separated) of snapshot m.
func rawEntry(ctx context.Context, rep repo.Repository, m *snapshot.Manifest, p string) (*snapshot.DirEntry, error) {
	e := m.RootEntry
	for _, part := range splitPath(p) {
		if e == nil || e.Type != snapshot.EntryTypeDirectory {
			return nil, fs.ErrEntryNotFound
		}
		entries, err := readDir(ctx, rep, e.ObjectID)
		if err != nil {
			return nil, err
		}
		if e = child(entries, part); e == nil {
			return nil, fs.ErrEntryNotFound
		}
	}
	return e, nil
}
