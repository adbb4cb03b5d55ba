package backup

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/localfs"
	"github.com/kopia/kopia/fs/virtualfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/snapshotfs"
	"github.com/kopia/kopia/snapshot/snapshotmaintenance"
	"github.com/kopia/kopia/snapshot/upload"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.BackupStore = (*Repository)(nil)

// Tags StackHub puts on a snapshot.
const (
	tagKind         = "stackhub"
	tagInstallation = "installation"
	tagApp          = "app"
	tagVersion      = "version"
	tagDigest       = "digest"
	tagQuiesce      = "quiesce"
)

// The snapshot's tree.
const (
	recordFile = "record.json"
	bundleDir  = "bundle"
	volumesDir = "volumes"
	extrasDir  = "extras"
)

// source is the kopia source of an installation's backups.
func source(installation string) snapshot.SourceInfo {
	return snapshot.SourceInfo{UserName: username, Host: hostname, Path: "/apps/" + installation}
}

// stream is a file of the snapshot whose bytes come from open, called
// once when kopia uploads it.
type stream struct {
	name string
	open func() (io.ReadCloser, error)
	mod  time.Time
}

func (s *stream) Name() string                { return s.name }
func (s *stream) IsDir() bool                 { return false }
func (s *stream) Mode() os.FileMode           { return 0o600 }
func (s *stream) ModTime() time.Time          { return s.mod }
func (s *stream) Size() int64                 { return 0 }
func (s *stream) Sys() any                    { return nil }
func (s *stream) Owner() fs.OwnerInfo         { return fs.OwnerInfo{} }
func (s *stream) Device() fs.DeviceInfo       { return fs.DeviceInfo{} }
func (s *stream) LocalFilesystemPath() string { return "" }
func (s *stream) Close()                      {}
func (s *stream) GetReader(context.Context) (io.ReadCloser, error) {
	return s.open()
}

// Save implements orchestrator.BackupStore.
func (r *Repository) Save(ctx context.Context, src orchestrator.BackupSource, progress func(orchestrator.BackupProgress)) (orchestrator.Backup, error) {
	now := time.Now()
	record := src.Record
	entries := []fs.Entry{&stream{name: recordFile, mod: now, open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(record))), nil
	}}}
	if src.BundleDir != "" {
		dir, err := localfs.Directory(src.BundleDir)
		if err != nil {
			return orchestrator.Backup{}, fmt.Errorf("backup %s: bundle: %w", src.Installation, err)
		}
		entries = append(entries, virtualfs.NewStaticDirectory(bundleDir, []fs.Entry{dir}))
	}

	tags := map[string]string{tagKind: "backup", tagInstallation: src.Installation}
	for k, v := range src.Tags {
		tags[k] = v
	}
	si := source(src.Installation)
	var man *snapshot.Manifest
	counting := &upload.CountingUploadProgress{}
	// kopia resets its counters when its upload starts, unsynchronized:
	// they are read once it is over (it writes the record and the bundle,
	// little next to the volumes).
	var uploaded atomic.Bool
	var trees []*volumeTree
	var treesMu sync.Mutex
	stop := reportProgress(func() orchestrator.BackupProgress {
		var p orchestrator.BackupProgress
		if uploaded.Load() {
			s := counting.Snapshot()
			p = orchestrator.BackupProgress{Bytes: s.TotalHashedBytes + s.TotalCachedBytes, Files: int64(s.TotalHashedFiles + s.TotalCachedFiles)}
		}
		treesMu.Lock()
		defer treesMu.Unlock()
		for _, t := range trees {
			p.Bytes += t.hashed.Load() + t.cached.Load()
			p.Total += t.total.Load()
			p.Files += t.files.Load()
		}
		return p
	}, progress)
	pool := newWriters()
	defer pool.close()
	err := r.write(ctx, "backup "+src.Installation, func(ctx context.Context, w repo.RepositoryWriter) error {
		pt, err := policy.TreeForSource(ctx, w, si)
		if err != nil {
			return err
		}
		prev, err := snapshot.FindPreviousManifests(ctx, w, si, nil)
		if err != nil {
			return err
		}
		var latest *snapshot.Manifest
		if len(prev) > 0 {
			latest = slices.MaxFunc(prev, func(a, b *snapshot.Manifest) int { return cmp.Compare(a.StartTime, b.StartTime) })
		}
		eff := pt.EffectivePolicy()
		comp, metaComp := eff.CompressionPolicy.CompressorName, eff.MetadataCompressionPolicy.MetadataCompressor()
		vols := []fs.Entry{}
		var extras []fs.Entry
		for _, v := range src.Volumes {
			t := newVolumeTree(ctx, w, v.Key, comp, metaComp, loadPrev(ctx, w, latest, v.Key), pool, r.log)
			treesMu.Lock()
			trees = append(trees, t)
			treesMu.Unlock()
			de, ex, err := t.build(src.Export, v)
			if err != nil {
				return err
			}
			vols = append(vols, builtDir{de: de})
			if len(ex) > 0 {
				b, err := json.Marshal(ex)
				if err != nil {
					return err
				}
				extras = append(extras, &stream{name: v.Key + ".json", mod: now, open: func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(b)), nil
				}})
			}
		}
		entries = append(entries, virtualfs.NewStaticDirectory(volumesDir, vols))
		if len(extras) > 0 {
			entries = append(entries, virtualfs.NewStaticDirectory(extrasDir, extras))
		}
		root := virtualfs.NewStaticDirectory("backup", entries)

		u := upload.NewUploader(w)
		u.Progress = counting
		u.ParallelUploads = runtime.NumCPU()
		// A .kopiaignore in a bundle must not leave files out.
		u.DisableIgnoreRules = true
		m, err := u.Upload(ctx, root, pt, si, prev...)
		uploaded.Store(true)
		if err != nil {
			return err
		}
		if m.IncompleteReason != "" {
			return fmt.Errorf("the snapshot is incomplete: %s", m.IncompleteReason)
		}
		if m.RootEntry != nil && m.RootEntry.DirSummary != nil && len(m.RootEntry.DirSummary.FailedEntries) > 0 {
			f := m.RootEntry.DirSummary.FailedEntries[0]
			return fmt.Errorf("%s could not be read: %s", f.EntryPath, f.Error)
		}
		m.Tags = tags
		m.Description = "StackHub backup of " + src.Installation
		if _, err := snapshot.SaveSnapshot(ctx, w, m); err != nil {
			return err
		}
		man = m
		return nil
	})
	stop()
	if err != nil {
		return orchestrator.Backup{}, classify("backup "+src.Installation, err)
	}
	return toBackup(man), nil
}

// reportProgress calls progress every half second with what now returns
// until the returned stop is called (which reports once more).
func reportProgress(now func() orchestrator.BackupProgress, progress func(orchestrator.BackupProgress)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	report := func() { progress(now()) }
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		report()
	}
}

func toBackup(m *snapshot.Manifest) orchestrator.Backup {
	b := orchestrator.Backup{ID: string(m.ID), Installation: m.Tags[tagInstallation], App: m.Tags[tagApp], Version: m.Tags[tagVersion],
		Digest: m.Tags[tagDigest], Quiesce: m.Tags[tagQuiesce], Created: m.StartTime.ToTime(), Size: m.Stats.TotalFileSize,
		Files: int(m.Stats.TotalFileCount), Description: m.Description}
	if s := m.RootEntry; s != nil && s.DirSummary != nil {
		// The volumes' trees are written before kopia's uploader runs: the
		// root's summary counts them, its stats do not.
		b.Size, b.Files = s.DirSummary.TotalFileSize, int(s.DirSummary.TotalFileCount)
	}
	if b.Installation == "" {
		b.Installation = strings.TrimPrefix(m.Source.Path, "/apps/")
	}
	return b
}

// manifests returns the StackHub snapshots of installation ("" for all).
func (r *Repository) manifests(ctx context.Context, installation string) ([]*snapshot.Manifest, error) {
	tags := map[string]string{tagKind: "backup"}
	if installation != "" {
		tags[tagInstallation] = installation
	}
	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, tags)
	if err != nil {
		return nil, classify("list backups", err)
	}
	ms, err := snapshot.LoadSnapshots(ctx, r.rep, ids)
	if err != nil {
		return nil, classify("list backups", err)
	}
	slices.SortFunc(ms, func(a, b *snapshot.Manifest) int { return b.StartTime.ToTime().Compare(a.StartTime.ToTime()) })
	return ms, nil
}

// Backups implements orchestrator.BackupStore.
func (r *Repository) Backups(ctx context.Context, installation string) ([]orchestrator.Backup, error) {
	ms, err := r.manifests(ctx, installation)
	if err != nil {
		return nil, err
	}
	out := make([]orchestrator.Backup, 0, len(ms))
	for _, m := range ms {
		out = append(out, toBackup(m))
	}
	return out, nil
}

// load returns snapshot id, ENOTFOUND when it is none of StackHub's.
func (r *Repository) load(ctx context.Context, id string) (*snapshot.Manifest, error) {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/\\ ") {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%q is not a backup ID", id)
	}
	m, err := snapshot.LoadSnapshot(ctx, r.rep, manifest.ID(id))
	if errors.Is(err, snapshot.ErrSnapshotNotFound) || errors.Is(err, manifest.ErrNotFound) || (err == nil && m.Tags[tagKind] != "backup") {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s not found", id)
	}
	if err != nil {
		return nil, classify("backup "+id, err)
	}
	return m, nil
}

// Backup implements orchestrator.BackupStore.
func (r *Repository) Backup(ctx context.Context, id string) (orchestrator.Backup, error) {
	m, err := r.load(ctx, id)
	if err != nil {
		return orchestrator.Backup{}, err
	}
	return toBackup(m), nil
}

// entry finds the entry at p (slash-separated) in snapshot id.
func (r *Repository) entry(ctx context.Context, id, p string) (fs.Entry, error) {
	m, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := snapshotfs.SnapshotRoot(r.rep, m)
	if err != nil {
		return nil, classify("backup "+id, err)
	}
	for _, part := range splitPath(p) {
		d, ok := e.(fs.Directory)
		if !ok {
			return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s holds no %s", id, p)
		}
		c, err := d.Child(ctx, part)
		if err != nil {
			return nil, orchestrator.WrapError(orchestrator.ENOTFOUND, err, "backup %s holds no %s", id, p)
		}
		e = c
	}
	return e, nil
}

// open reads file p of snapshot id.
func (r *Repository) open(ctx context.Context, id, p string) (io.ReadCloser, error) {
	e, err := r.entry(ctx, id, p)
	if err != nil {
		return nil, err
	}
	f, ok := e.(fs.File)
	if !ok {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s: %s is not a file", id, p)
	}
	rd, err := f.Open(ctx)
	if err != nil {
		return nil, classify("read "+p+" of backup "+id, err)
	}
	return rd, nil
}

// Record implements orchestrator.BackupStore.
func (r *Repository) Record(ctx context.Context, id string) ([]byte, error) {
	rd, err := r.open(ctx, id, recordFile)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, 16<<20))
	if err != nil {
		return nil, classify("read the record of backup "+id, err)
	}
	return b, nil
}

// OpenVolume implements orchestrator.BackupStore: the archive is written
// from the volume's tree as it is read (a backup of an earlier StackHub
// holds it as one archive).
func (r *Repository) OpenVolume(ctx context.Context, id, key string) (io.ReadCloser, error) {
	if key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "%q is not a volume key", key)
	}
	m, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	de, err := rawEntry(ctx, r.rep, m, volumesDir+"/"+key)
	if errors.Is(err, fs.ErrEntryNotFound) {
		return r.open(ctx, id, volumesDir+"/"+key+".tar")
	}
	if err != nil {
		return nil, classify("read volume "+key+" of backup "+id, err)
	}
	if de.Type != snapshot.EntryTypeDirectory {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s: volume %s is not a directory", id, key)
	}
	ex, err := readExtras(ctx, r.rep, m, key)
	if err != nil && !errors.Is(err, fs.ErrEntryNotFound) {
		return nil, classify("read the extras of volume "+key+" of backup "+id, err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeArchive(ctx, r.rep, pw, de, key, ex))
	}()
	return pr, nil
}

// splitPath splits slash-separated p, dropping empty parts.
func splitPath(p string) []string {
	var out []string
	for part := range strings.SplitSeq(p, "/") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// ExtractBundle implements orchestrator.BackupStore.
func (r *Repository) ExtractBundle(ctx context.Context, id, dir string) (string, error) {
	e, err := r.entry(ctx, id, bundleDir)
	if err != nil {
		return "", err
	}
	d, ok := e.(fs.Directory)
	if !ok {
		return "", orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s holds no bundle", id)
	}
	apps, err := fs.GetAllEntries(ctx, d)
	if err != nil || len(apps) != 1 {
		return "", orchestrator.Errorf(orchestrator.ENOTFOUND, "backup %s holds no bundle", id)
	}
	app := apps[0]
	out := filepath.Join(dir, app.Name())
	if err := copyTree(ctx, app, out); err != nil {
		return "", classify("extract the bundle of backup "+id, err)
	}
	return out, nil
}

// copyTree writes e (a directory of regular files) at dst.
func copyTree(ctx context.Context, e fs.Entry, dst string) error {
	switch e := e.(type) {
	case fs.Directory:
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		return fs.IterateEntries(ctx, e, func(ctx context.Context, c fs.Entry) error {
			name := c.Name()
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
				return fmt.Errorf("bad entry name %q", name)
			}
			return copyTree(ctx, c, filepath.Join(dst, name))
		})
	case fs.File:
		rd, err := e.Open(ctx)
		if err != nil {
			return err
		}
		defer rd.Close()
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, e.Mode().Perm()|0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, rd); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("%s: only directories and files are restored from a bundle", path.Base(dst))
}

// Verify implements orchestrator.BackupStore: every file of the backup (or
// of all of them) is read back and its chunks checked against their hashes
// and authentication tags, and every chunk's pack is checked to exist.
func (r *Repository) Verify(ctx context.Context, id string, progress func(orchestrator.BackupProgress)) (orchestrator.VerifyResult, error) {
	var ms []*snapshot.Manifest
	if id != "" {
		m, err := r.load(ctx, id)
		if err != nil {
			return orchestrator.VerifyResult{}, err
		}
		ms = []*snapshot.Manifest{m}
	} else {
		var err error
		if ms, err = r.manifests(ctx, ""); err != nil {
			return orchestrator.VerifyResult{}, err
		}
	}
	opts := snapshotfs.VerifierOptions{VerifyFilesPercent: 100, MaxErrors: 100}
	if dr, ok := r.rep.(repo.DirectRepository); ok {
		bm, err := blob.ReadBlobMap(ctx, dr.BlobReader())
		if err != nil {
			return orchestrator.VerifyResult{}, classify("verify: list the repository", err)
		}
		opts.BlobMap = bm
	}
	v := snapshotfs.NewVerifier(ctx, r.rep, opts)
	res, err := v.InParallel(ctx, func(tw *snapshotfs.TreeWalker) error {
		for _, m := range ms {
			root, err := snapshotfs.SnapshotRoot(r.rep, m)
			if err != nil {
				return err
			}
			if err := tw.Process(ctx, root, string(m.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	out := orchestrator.VerifyResult{Backups: len(ms), Bytes: res.Stats.ProcessedBytes, Files: int64(res.Stats.ProcessedObjectCount)}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, e.Error())
	}
	if progress != nil {
		progress(orchestrator.BackupProgress{Bytes: out.Bytes, Files: out.Files})
	}
	if err != nil && len(out.Errors) == 0 {
		return out, classify("verify", err)
	}
	return out, nil
}

// Delete implements orchestrator.BackupStore.
func (r *Repository) Delete(ctx context.Context, id string) error {
	if _, err := r.load(ctx, id); err != nil {
		return err
	}
	return classify("delete backup "+id, r.write(ctx, "delete "+id, func(ctx context.Context, w repo.RepositoryWriter) error {
		return w.DeleteManifest(ctx, manifest.ID(id))
	}))
}

// Prune implements orchestrator.BackupStore: keep decides which of the
// installation's backups stay, the rest are deleted, and a full
// maintenance collects the data no backup uses any more (StackHub is the
// repository's only writer, so no safety delay is needed).
func (r *Repository) Prune(ctx context.Context, installation string, keep orchestrator.Retention) ([]string, error) {
	ms, err := r.manifests(ctx, installation)
	if err != nil {
		return nil, err
	}
	var gone []string
	if keep != (orchestrator.Retention{}) {
		keepers := kept(ms, keep)
		for _, m := range ms {
			if !keepers[string(m.ID)] {
				gone = append(gone, string(m.ID))
			}
		}
		err = r.write(ctx, "prune "+installation, func(ctx context.Context, w repo.RepositoryWriter) error {
			for _, id := range gone {
				if err := w.DeleteManifest(ctx, manifest.ID(id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, classify("prune "+installation, err)
		}
	}
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return gone, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err = repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "maintenance"}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		return snapshotmaintenance.Run(ctx, w, maintenance.ModeFull, true, maintenance.SafetyNone)
	})
	return gone, classify("collect unused data", err)
}

// kept returns the IDs keep keeps among ms (newest first): the first Last,
// and the newest of each of the last Daily days, Weekly ISO weeks and
// Monthly months that have a backup.
func kept(ms []*snapshot.Manifest, keep orchestrator.Retention) map[string]bool {
	out := map[string]bool{}
	for i, m := range ms {
		if i < keep.Last {
			out[string(m.ID)] = true
		}
	}
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for _, m := range ms {
			k := key(m.StartTime.ToTime().UTC())
			if seen[k] {
				continue
			}
			if len(seen) >= n {
				return
			}
			seen[k] = true
			out[string(m.ID)] = true
		}
	}
	bucket(keep.Daily, func(t time.Time) string { return t.Format(time.DateOnly) })
	bucket(keep.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return strconv.Itoa(y) + "-" + strconv.Itoa(w) })
	bucket(keep.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	return out
}
