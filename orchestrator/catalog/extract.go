package catalog

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Extract writes the catalog files of fsys (<app>/porter.yaml and the files
// beside it) to dir, replacing what dir held, so that the builder and the
// bundle runtime work from ordinary files. The new tree is written beside
// dir and swapped in, so a reader never sees half a catalog.
func Extract(fsys fs.FS, dir string) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("extract catalog: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("extract catalog: %w", err)
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(tmp, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("extract catalog: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extract catalog: %w", err)
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("extract catalog: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("extract catalog: %w", err)
	}
	return os.RemoveAll(old)
}
