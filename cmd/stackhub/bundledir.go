package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// AddDir implements orchestrator.BundleSource: the directory is extracted
// into a directory of its own under s.dir, linted (Porter's rules, the
// websoft9 mixin's lint when its client is at hand, the bundle policy),
// built with the server's runtimes (its invocation image loaded into
// Docker) and stored as dir-<DirDigest of its files>, the invocation
// image pinned by its ID as an archive's is. The app's own images are
// pulled from their registries at install, as for the catalog directory.
func (s *bundleSource) AddDir(ctx context.Context, files io.Reader, opts orchestrator.AddOptions) (orchestrator.App, error) {
	tmp, err := s.workDir(".add-")
	if err != nil {
		return orchestrator.App{}, err
	}
	defer os.RemoveAll(tmp)
	staging := filepath.Join(tmp, "files")
	if err := os.Mkdir(staging, 0o700); err != nil {
		return orchestrator.App{}, err
	}
	if err := extractBundleTar(files, staging); err != nil {
		return orchestrator.App{}, err
	}
	raw, err := os.ReadFile(filepath.Join(staging, build.ManifestFile))
	if err != nil {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.EINVALID, "the bundle's files hold no %s at their top", build.ManifestFile)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		// The lint names each problem with its line.
		if lerr := s.lintDir(ctx, staging, "in "+build.ManifestFile); lerr != nil {
			return orchestrator.App{}, lerr
		}
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINVALID, err, "%s: %v", build.ManifestFile, err)
	}
	if err := naming.ValidateApp(m.Name); err != nil {
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINVALID, err, "bundle name %q cannot name an app: %v", m.Name, err)
	}
	// ReadApp wants the directory named as the bundle.
	appDir := filepath.Join(tmp, m.Name)
	if err := os.Rename(staging, appDir); err != nil {
		return orchestrator.App{}, err
	}
	if err := s.shadows(ctx, m.Name); err != nil {
		return orchestrator.App{}, err
	}
	if err := s.lintDir(ctx, appDir, m.Name); err != nil {
		return orchestrator.App{}, err
	}
	app, err := catalog.ReadApp(appDir)
	if err != nil {
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINVALID, err,
			"bundle %s: its porter.yaml cannot be read as a StackHub app: %v", m.Name, err)
	}
	digest, err := catalog.DirDigest(appDir)
	if err != nil {
		return orchestrator.App{}, err
	}
	key := "dir-" + strings.TrimPrefix(digest, "sha256:")
	source := "catalog add"
	if o := app.Origin; o.Store != "" {
		source = fmt.Sprintf("catalog add (converted from %s:%s)", o.Store, cmp.Or(o.ID, m.Name))
	}
	// Checked, built, loaded and stored under the lock: a concurrent add of
	// the same name and version would move the invocation image's tag in
	// between.
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, err := s.cat.App(ctx, m.Name); err == nil && cur.Source != "" && cur.Version == app.Version && cur.Digest != digest && !opts.Force {
		return orchestrator.App{}, orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has %s %s as %s; this bundle is %s: a bundle never silently replaces another of the same version (bump the version, or add it with force)",
			m.Name, app.Version, cur.Digest, digest)
	}
	if s.afterBuild != nil {
		defer s.afterBuild()
	}
	res, err := build.Build(ctx, build.Options{Dir: appDir, RuntimesDir: s.runtimesDir})
	if err != nil {
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bundle %s cannot be built (see the server log)", m.Name)
	}
	err = build.Load(ctx, s.docker, res)
	var id string
	if err == nil {
		var inspect client.ImageInspectResult
		inspect, err = s.docker.ImageInspect(ctx, res.ImageRef)
		id = inspect.ID
	}
	if err != nil {
		if cerrdefs.IsUnavailable(err) || client.IsErrConnectionFailed(err) {
			return orchestrator.App{}, dockerhost.Unavailable(err)
		}
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINTERNAL, err, "the invocation image of %s cannot be loaded into Docker", m.Name)
	}
	// The run takes the invocation image by its ID: the content built here,
	// whatever later takes its tag.
	rm := map[string]string{res.ImageRef: id}
	final := filepath.Join(s.dir, key)
	stored := false
	if dirExists(final) {
		// The same files, added again: the entry stays, its invocation
		// image is the one just built (the former one may be gone).
		if err := writeRelocation(final, rm); err != nil {
			return orchestrator.App{}, err
		}
	} else {
		err = s.store(ctx, key, func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, "app"), 0o700); err != nil {
				return err
			}
			return os.Rename(appDir, filepath.Join(dir, "app", m.Name))
		}, res.Bundle, rm, source)
		if err != nil {
			return orchestrator.App{}, err
		}
		stored = true
	}
	added, err := s.add(key, opts)
	if err != nil {
		if stored {
			_ = os.RemoveAll(final) // nothing of a refused bundle is kept
		}
		return orchestrator.App{}, err
	}
	return added, nil
}

// lintDir lints the bundle directory as `stackhub bundle lint` does; its
// errors (Porter's rules, the mixin's, the bundle policy's) are EINVALID,
// each finding named.
func (s *bundleSource) lintDir(ctx context.Context, dir, name string) error {
	opts := build.LintOptions{Dir: dir, Mixins: map[string]build.MixinLinter{}}
	for _, d := range []string{s.runtimesDir, executableDir()} {
		if prog := filepath.Join(d, "websoft9"); d != "" && fileExists(prog) {
			opts.Mixins["websoft9"] = build.ProgramLinter("websoft9", prog)
			break
		}
	}
	findings, err := build.Lint(ctx, opts)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "bundle %s: %v", name, err)
	}
	var lines []string
	for _, f := range findings {
		if f.Level != manifest.LevelError {
			continue
		}
		line := cmp.Or(f.File, build.ManifestFile)
		if f.Line > 0 {
			line += fmt.Sprintf(":%d", f.Line)
		}
		if f.Field != "" {
			line += ": " + f.Field
		}
		line += ": " + f.Message
		if origin := strings.TrimSpace(f.Source + " " + f.Code); origin != "" {
			line += " (" + origin + ")"
		}
		// A compose file used by several steps gives the same finding
		// once per step.
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		return orchestrator.Errorf(orchestrator.EINVALID, "bundle %s has %d lint error(s): %s", name, len(lines), strings.Join(lines, "; "))
	}
	return nil
}

// writeRelocation replaces dir/relocation.json atomically.
func writeRelocation(dir string, rm map[string]string) error {
	data, err := json.MarshalIndent(rm, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".relocation-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, "relocation.json"))
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
