package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
)

// Limits of a bundle directory sent to `catalog add`: its files are a
// manifest, compose files and an icon, never images.
const (
	// maxBundleDirBytes bounds the sum of the files' sizes.
	maxBundleDirBytes = 10 << 20
	// maxBundleDirEntries bounds its files and directories.
	maxBundleDirEntries = 1000
)

// writeBundleTar writes the regular files of bundle directory dir, with
// the directories holding them, to w as a gzip-compressed tar whose paths
// are relative to dir and slash-separated. The builder's output (.cnab/)
// is left out. A symbolic link or special file, or more than
// maxBundleDirBytes or maxBundleDirEntries in all, is an error naming it:
// the server would refuse it.
func writeBundleTar(w io.Writer, dir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	var total int64
	entries := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == build.GeneratedDir {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: a bundle directory sent to the server holds regular files only", rel)
		case !d.IsDir() && !info.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		}
		if entries++; entries > maxBundleDirEntries {
			return fmt.Errorf("more than %d files and directories", maxBundleDirEntries)
		}
		hdr := &tar.Header{Name: rel, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
			return tw.WriteHeader(hdr)
		}
		if total += info.Size(); total > maxBundleDirBytes {
			return fmt.Errorf("its files are larger than %d bytes in all", maxBundleDirBytes)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		// A file that grew since it was listed makes the tar writer fail.
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// extractBundleTar writes the files of a bundle directory's tar (gzip-
// compressed or not) under dst, which must exist and be empty. Only
// regular files and directories are taken; a link or special file, a path
// that is absolute or leaves dst, a file given twice, or more than
// maxBundleDirBytes or maxBundleDirEntries in all is EINVALID naming it.
// Files are written 0644 (0755 when executable), directories 0755.
func extractBundleTar(r io.Reader, dst string) error {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return orchestrator.WrapError(orchestrator.EINVALID, err, "the bundle's files are not a readable tar: %v", err)
		}
		defer gz.Close()
		in = gz
	}
	refuse := func(format string, args ...any) error {
		return orchestrator.Errorf(orchestrator.EINVALID, "the bundle's files: "+format, args...)
	}
	tr := tar.NewReader(in)
	var total int64
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if entries == 0 {
				return refuse("the tar is empty")
			}
			return nil
		}
		if err != nil {
			return orchestrator.WrapError(orchestrator.EINVALID, err, "the bundle's files are not a readable tar: %v", err)
		}
		if entries >= maxBundleDirEntries {
			return refuse("more than %d files and directories", maxBundleDirEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader { // git archive's comment
			continue
		}
		rel, err := localPath(hdr.Name)
		if err != nil {
			return refuse("%v", err)
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel == "." {
				continue
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", rel, err)
			}
			continue
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return refuse("%s is a link: only regular files and directories are taken", rel)
		default:
			return refuse("%s is not a regular file (tar type %q)", rel, hdr.Typeflag)
		}
		if rel == "." {
			return refuse("a file without a name")
		}
		if hdr.Size < 0 || hdr.Size > maxBundleDirBytes-total {
			return refuse("larger than %d bytes in all (at %s)", maxBundleDirBytes, rel)
		}
		total += hdr.Size
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", rel, err)
		}
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			return refuse("%s is given twice", rel)
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", rel, err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return orchestrator.WrapError(orchestrator.EINVALID, err, "the bundle's files: %s cannot be read: %v", rel, err)
		}
	}
}

// localPath checks a tar entry's name: relative, slash-separated, with no
// .. element, no backslash or NUL. It returns the name cleaned ("." for
// the top directory).
func localPath(name string) (string, error) {
	if strings.ContainsAny(name, "\\\x00") {
		return "", fmt.Errorf("%q: a path holds a backslash or NUL", name)
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("%q: absolute paths are refused", name)
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", fmt.Errorf("%q: paths leaving the bundle directory are refused", name)
		}
	}
	clean := path.Clean(name)
	if clean != "." && !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("%q is not a path inside the bundle directory", name)
	}
	return clean, nil
}
