package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/cnabio/cnab-go/bundle"

	"github.com/websoft9/stackhub/orchestrator"
)

// Vault keeps a copy of every bundle an installation ran, by digest, under
// Dir/<algorithm>-<hex>/<name>/ (ReadApp wants the directory named after
// the bundle), with vault.json beside it: where the bundle came from and,
// for a pulled or imported one, its bundle.json. A rollback, a restore or
// a clone runs the version it needs from here after the catalog moved on.
type Vault struct {
	Dir string
}

var _ orchestrator.BundleVault = (*Vault)(nil)

// vaultMeta is vault.json.
type vaultMeta struct {
	Name    string         `json:"name"`
	Version string         `json:"version"`
	Digest  string         `json:"digest"`
	Source  string         `json:"source,omitempty"`
	Bundle  *bundle.Bundle `json:"bundle,omitempty"`
}

var digestForm = regexp.MustCompile(`^[a-z0-9]+:[a-f0-9]{32,128}$`)

// path is where the bundle of digest is kept.
func (v *Vault) path(digest string) (string, error) {
	if !digestForm.MatchString(digest) {
		return "", orchestrator.Errorf(orchestrator.EINVALID, "%q is not a bundle digest (sha256:<hex>)", digest)
	}
	return filepath.Join(v.Dir, strings.Replace(digest, ":", "-", 1)), nil
}

// Keep implements orchestrator.BundleVault: it copies app's bundle
// directory once per digest (a crash mid-copy leaves only a temporary
// directory, removed by the next Keep).
func (v *Vault) Keep(_ context.Context, app orchestrator.App) error {
	dir, err := v.path(app.Digest)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.json")); err == nil {
		return nil
	}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return fmt.Errorf("keep bundle %s: %w", app.Name, err)
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("keep bundle %s: %w", app.Name, err)
	}
	// Only the bundle's files: a catalog directory's build leftovers
	// (.cnab) are made again from them.
	src := os.DirFS(app.Dir)
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == ".cnab" && app.Bundle == nil {
			return fs.SkipDir
		}
		dst := filepath.Join(tmp, app.Name, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o700)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm()|0o600)
	})
	if err != nil {
		return fmt.Errorf("keep bundle %s %s: %w", app.Name, app.Version, errors.Join(err, os.RemoveAll(tmp)))
	}
	meta, err := json.Marshal(vaultMeta{Name: app.Name, Version: app.Version, Digest: app.Digest, Source: app.Source, Bundle: app.Bundle})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "vault.json"), meta, 0o600); err != nil {
		return fmt.Errorf("keep bundle %s: %w", app.Name, errors.Join(err, os.RemoveAll(tmp)))
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("keep bundle %s: %w", app.Name, errors.Join(err, os.RemoveAll(tmp)))
	}
	return nil
}

// Kept implements orchestrator.BundleVault. Returns ENOTFOUND when no
// bundle of that digest was kept.
func (v *Vault) Kept(_ context.Context, name, digest string) (orchestrator.App, error) {
	dir, err := v.path(digest)
	if err != nil {
		return orchestrator.App{}, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "vault.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no bundle %s of %s is kept", digest, name)
	}
	if err != nil {
		return orchestrator.App{}, fmt.Errorf("kept bundle %s: %w", digest, err)
	}
	var meta vaultMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return orchestrator.App{}, fmt.Errorf("kept bundle %s: %w", digest, err)
	}
	if meta.Name != name {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "bundle %s is %s's, not %s's", digest, meta.Name, name)
	}
	app, err := ReadApp(filepath.Join(dir, name))
	if err != nil {
		return orchestrator.App{}, fmt.Errorf("kept bundle %s: %w", digest, err)
	}
	app.Digest, app.Source, app.Bundle = meta.Digest, meta.Source, meta.Bundle
	return app, nil
}

// KeepDir implements orchestrator.BundleVault: the bundle in dir (its
// directory named after it, as a backup saves it) is kept under digest.
// It is refused when its files' digest is not digest.
func (v *Vault) KeepDir(ctx context.Context, dir, digest string) (orchestrator.App, error) {
	app, err := ReadApp(dir)
	if err != nil {
		return orchestrator.App{}, err
	}
	got, err := DirDigest(dir)
	if err != nil {
		return orchestrator.App{}, err
	}
	if got != digest {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.EINVALID, "the bundle's files are %s, not %s as recorded", got, digest)
	}
	app.Digest = digest
	if err := v.Keep(ctx, app); err != nil {
		return orchestrator.App{}, err
	}
	return v.Kept(ctx, app.Name, digest)
}
