package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cnabio/cnab-go/bundle"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/catalog"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// bundleSource implements orchestrator.BundleSource: bundles pulled from a
// registry, imported from an archive or added as a bundle directory are
// kept under dir, one directory per bundle (oci-<index digest>,
// archive-<bundle.json digest> or dir-<catalog.DirDigest of its files>)
// holding bundle.json, relocation.json, source and app/<name>/ (the
// invocation image's /cnab/app, or the directory as it was added), and
// are added to the catalog, at start too.
type bundleSource struct {
	dir    string
	reg    ocibundle.Registry
	docker *client.Client
	cat    *catalog.Catalog
	log    *slog.Logger
	// runtimesDir holds the runtimes a bundle directory is built with
	// (serve's --runtimes-dir), and maybe the websoft9 client that lints
	// its steps.
	runtimesDir string
	// afterBuild, when set, runs after each build (the server hands the
	// image's memory back).
	afterBuild func()
	// mu serialises writes under dir.
	mu sync.Mutex
}

var _ orchestrator.BundleSource = (*bundleSource)(nil)

// Resolve implements orchestrator.BundleSource.
func (s *bundleSource) Resolve(ctx context.Context, ref string, opts orchestrator.AddOptions) (orchestrator.App, error) {
	pulled, err := ocibundle.Pull(ctx, ref, s.reg)
	if err != nil {
		return orchestrator.App{}, serverSide(err)
	}
	if err := naming.ValidateApp(pulled.Bundle.Name); err != nil {
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINVALID, err, "bundle %s: its name cannot name an app", ref)
	}
	if err := orchestrator.CheckBundle(pulled.Bundle); err != nil {
		return orchestrator.App{}, err
	}
	if err := s.shadows(ctx, pulled.Bundle.Name); err != nil {
		return orchestrator.App{}, err
	}
	// The app's files come from the registry and are checked against the
	// bundle policy before Docker pulls anything: a refused bundle leaves
	// nothing on the host.
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return orchestrator.App{}, err
	}
	pullDir, err := os.MkdirTemp(s.dir, ".pull-")
	if err != nil {
		return orchestrator.App{}, err
	}
	defer os.RemoveAll(pullDir)
	appDir := filepath.Join(pullDir, pulled.Bundle.Name)
	if err := ocibundle.ExtractApp(ctx, pulled, s.reg, appDir); err != nil {
		return orchestrator.App{}, serverSide(err)
	}
	if err := policyLint(ctx, appDir, pulled.Bundle.Name); err != nil {
		return orchestrator.App{}, err
	}
	// Docker pulls the invocation image with the credentials of the Docker
	// configuration (the run checks its digest), before anything is kept.
	inv := pulled.InvocationImage()
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	_, err = s.docker.ImageInspect(ictx, inv)
	cancel()
	if cerrdefs.IsNotFound(err) {
		if err := ocibundle.PullImage(ctx, s.docker, inv, s.reg); err != nil {
			return orchestrator.App{}, serverSide(err)
		}
	} else if err != nil {
		return orchestrator.App{}, dockerhost.Unavailable(err)
	}
	key := "oci-" + strings.TrimPrefix(pulled.Digest, "sha256:")
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.store(ctx, key, func(tmp string) error {
		if err := os.MkdirAll(filepath.Join(tmp, "app"), 0o700); err != nil {
			return err
		}
		return os.Rename(appDir, filepath.Join(tmp, "app", pulled.Bundle.Name))
	}, pulled.Bundle, pulled.RelocationMap, pulled.Reference+"@"+pulled.Digest)
	if err != nil {
		return orchestrator.App{}, serverSide(err)
	}
	return s.add(key, opts)
}

// shadows refuses a bundle named like an app of the catalog directory.
func (s *bundleSource) shadows(ctx context.Context, name string) error {
	if cur, err := s.cat.App(ctx, name); err == nil && cur.Source == "" {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "the catalog already has an app named %s; a bundle from elsewhere cannot replace it", name)
	}
	return nil
}

// serverSide turns a registry's refusal of the server's credentials into a
// precondition: it is not the API caller's credentials that failed (a 401
// would end a console session).
func serverSide(err error) error {
	if orchestrator.ErrorCode(err) == orchestrator.EUNAUTHORIZED {
		return orchestrator.WrapError(orchestrator.EPRECONDITION, err, "%s", orchestrator.ErrorMessage(err))
	}
	return err
}

// workDir makes a directory of its own under s.dir for one bundle on its
// way in (the caller removes it): the same file system as the store, so
// storing it is a rename.
func (s *bundleSource) workDir(prefix string) (string, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(s.dir, prefix)
}

// Import implements orchestrator.BundleSource.
// Archives are read, verified and loaded into Docker concurrently, each in
// a directory of its own; only storing the result takes the lock.
func (s *bundleSource) Import(ctx context.Context, archive io.Reader, opts orchestrator.AddOptions) (orchestrator.App, error) {
	tmp, err := s.workDir(".import-")
	if err != nil {
		return orchestrator.App{}, err
	}
	defer os.RemoveAll(tmp)
	staging := filepath.Join(tmp, "staging")
	// Its name, shape and place in the catalog are checked before any
	// image reaches Docker.
	loaded, err := ocibundle.ImportArchive(ctx, archive, s.docker, staging,
		func(b *bundle.Bundle, appDir string) error {
			if err := s.shadows(ctx, b.Name); err != nil {
				return err
			}
			// Refused before any of its images reaches Docker.
			return policyLint(ctx, appDir, b.Name)
		})
	if err != nil {
		return orchestrator.App{}, err
	}
	b := loaded.Bundle
	rm := map[string]string(loaded.RelocationMap)
	// The invocation image runs by its ID: its content, verified against
	// contentDigest on the way in (Docker keeps no repository digest for
	// a loaded image).
	rm[b.InvocationImages[0].Image] = loaded.InvocationID
	canonical, err := json.Marshal(b)
	if err != nil {
		return orchestrator.App{}, err
	}
	sum := sha256.Sum256(canonical)
	key := "archive-" + hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.store(ctx, key, func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, "app"), 0o700); err != nil {
			return err
		}
		return os.Rename(staging, filepath.Join(dir, "app", b.Name))
	}, b, rm, fmt.Sprintf("archive (bundle.json sha256:%x)", sum))
	if err != nil {
		return orchestrator.App{}, err
	}
	return s.add(key, opts)
}

// store writes dir/key once: fill puts the app files into a temporary
// directory that becomes dir/key whole. A key already stored is kept (its
// content is named by its digest).
func (s *bundleSource) store(ctx context.Context, key string, fill func(tmp string) error, b *bundle.Bundle, rm map[string]string, source string) error {
	final := filepath.Join(s.dir, key)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.dir, ".store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	bj, err := json.Marshal(b)
	if err != nil {
		return err
	}
	rj, err := json.MarshalIndent(rm, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"bundle.json": bj, "relocation.json": rj, "source": []byte(source)} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			return err
		}
	}
	// Only a bundle that reads as an app, and asks nothing StackHub's
	// bundle policy refuses, is kept.
	if _, err := s.read(tmp); err != nil {
		return err
	}
	if err := policyLint(ctx, filepath.Join(tmp, "app", b.Name), b.Name); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

// policyLint refuses a bundle whose compose models break StackHub's bundle
// policy, naming every violation: the policed socket would refuse them at
// the first run.
func policyLint(ctx context.Context, dir, name string) error {
	findings, err := build.LintPolicy(ctx, dir)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "bundle %s: %v", name, err)
	}
	if len(findings) == 0 {
		return nil
	}
	lines := make([]string, len(findings))
	for i, f := range findings {
		lines[i] = fmt.Sprintf("%s:%d: %s: %s (rule %s)", cmp.Or(f.File, build.ManifestFile), f.Line, f.Field, f.Message, f.Code)
	}
	return orchestrator.Errorf(orchestrator.EINVALID, "bundle %s breaks StackHub's bundle policy: %s", name, strings.Join(lines, "; "))
}

// add reads dir/key as an app and puts it in the catalog.
func (s *bundleSource) add(key string, opts orchestrator.AddOptions) (orchestrator.App, error) {
	app, err := s.read(filepath.Join(s.dir, key))
	if err != nil {
		return orchestrator.App{}, err
	}
	if err := s.cat.Add(app, opts); err != nil {
		return orchestrator.App{}, err
	}
	s.log.Info("bundle added to the catalog", "app", app.Name, "version", app.Version, "source", app.Source)
	return app, nil
}

func (s *bundleSource) read(dir string) (orchestrator.App, error) {
	bj, err := os.ReadFile(filepath.Join(dir, "bundle.json"))
	if err != nil {
		return orchestrator.App{}, err
	}
	b, err := bundle.Unmarshal(bj)
	if err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: %w", dir, err)
	}
	var rm map[string]string
	if rj, err := os.ReadFile(filepath.Join(dir, "relocation.json")); err != nil {
		return orchestrator.App{}, err
	} else if err := json.Unmarshal(rj, &rm); err != nil {
		return orchestrator.App{}, fmt.Errorf("%s: relocation.json: %w", dir, err)
	}
	source, err := os.ReadFile(filepath.Join(dir, "source"))
	if err != nil {
		return orchestrator.App{}, err
	}
	app, err := catalog.ReadApp(filepath.Join(dir, "app", b.Name))
	if err != nil {
		return orchestrator.App{}, orchestrator.WrapError(orchestrator.EINVALID, err,
			"bundle %s: its porter.yaml cannot be read as a StackHub app: %v", b.Name, err)
	}
	app.Bundle, app.Relocation, app.Source = b, rm, string(source)
	// The entry records each image's digest, as bundle.json has it: the
	// content a run uses (imagePinner).
	app.Images = app.Images[:0]
	for _, alias := range slices.Sorted(maps.Keys(b.Images)) {
		img := b.Images[alias]
		ref := img.Image
		if img.Digest != "" && !strings.Contains(ref, "@") {
			ref += "@" + img.Digest
		}
		app.Images = append(app.Images, ref)
	}
	// The store's key names the bundle's digest: oci-<manifest digest>,
	// archive-<sha256 of bundle.json>, dir-<DirDigest of its files>.
	if kind, hex, ok := strings.Cut(filepath.Base(dir), "-"); ok && (kind == "oci" || kind == "archive" || kind == "dir") {
		app.Digest = "sha256:" + hex
	}
	return app, nil
}

// loadAll adds every stored bundle to the catalog; one that cannot be read
// is logged and skipped. Of two versions of one app, the last one read
// wins (directory order).
func (s *bundleSource) loadAll() {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.Error("read the stored bundles", "dir", s.dir, "err", err)
		return
	}
	// Stored first, added first: of two bundles of one name and version
	// (the later one added with force), the later one stays.
	modTime := func(e os.DirEntry) time.Time {
		if fi, err := e.Info(); err == nil {
			return fi.ModTime()
		}
		return time.Time{}
	}
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int { return modTime(a).Compare(modTime(b)) })
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			if strings.HasPrefix(e.Name(), ".") {
				_ = os.RemoveAll(filepath.Join(s.dir, e.Name())) // a write cut short
			}
			continue
		}
		if _, err := s.add(e.Name(), orchestrator.AddOptions{Force: true}); err != nil {
			s.log.Error("stored bundle skipped", "dir", filepath.Join(s.dir, e.Name()), "err", err)
		}
	}
}
