package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/compression"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"

	"github.com/websoft9/stackhub/orchestrator"
)

// A volume is saved as a kopia directory tree of its files, so that a
// file the last backup holds unchanged (same size, modification time to
// the nanosecond, mode and owner) is not read again, and files compress
// and encrypt in parallel. Its tree is built here rather than by kopia's
// uploader, which reads a local directory: a volume's files come as tar
// archives from Docker.
//
// Two ways to build it:
//   - walk: when StackHub runs on the engine's host and sees the volume's
//     directory there (Docker's helper confirms it is the volume's), a
//     walk of the files' metadata builds the tree and only the files that
//     changed are read, there, each confined to the volume (os.Root, no
//     link followed).
//   - stream: otherwise, or when the volume holds what only an archive
//     describes (hard links, devices), Docker's archive of the whole
//     volume builds it; unchanged files are skipped as they pass.
//
// What a kopia tree cannot hold (hard links, devices, FIFOs, and extended
// attributes of any entry) is kept beside it, in extras/<key>.json, and
// put back in the archive a restore writes.

// smallFile is the largest file read whole and handed to a writer
// goroutine (many small files then compress and encrypt in parallel); a
// larger one is written as it streams, its chunks in parallel.
const smallFile = 1 << 20

// extra is what the tree of a volume cannot hold about one entry.
type extra struct {
	// Path is relative to the volume's root.
	Path string `json:"path"`
	// Type is the tar type of an entry outside the tree (hard link,
	// device, FIFO); 0 when the entry is in the tree and only PAX is
	// kept.
	Type     byte              `json:"type,omitempty"`
	Link     string            `json:"link,omitempty"`
	Mode     int64             `json:"mode,omitempty"`
	UID      int               `json:"uid,omitempty"`
	GID      int               `json:"gid,omitempty"`
	ModTime  time.Time         `json:"mtime,omitzero"`
	Devmajor int64             `json:"devmajor,omitempty"`
	Devminor int64             `json:"devminor,omitempty"`
	PAX      map[string]string `json:"pax,omitempty"`
}

// keptPAX tells the PAX records a backup keeps: extended attributes and
// ACLs (the rest are tar's own fields).
func keptPAX(recs map[string]string) map[string]string {
	var out map[string]string
	for k, v := range recs {
		if strings.HasPrefix(k, "SCHILY.xattr.") || strings.HasPrefix(k, "LIBARCHIVE.xattr.") || strings.HasPrefix(k, "SCHILY.acl.") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// node is an entry of the tree being built; a directory's kids is not nil.
type node struct {
	de   *snapshot.DirEntry
	kids map[string]*node
}

// volumeTree builds the tree of one volume.
type volumeTree struct {
	ctx      context.Context
	w        repo.RepositoryWriter
	key      string
	comp     compression.Name
	metaComp compression.Name
	root     *node
	prev     *prevTree
	extras   map[string]extra
	pool     *writers
	log      *slog.Logger

	total                 atomic.Int64
	hashed, cached, files atomic.Int64
}

func newVolumeTree(ctx context.Context, w repo.RepositoryWriter, key string, comp, metaComp compression.Name, prev *prevTree, pool *writers, log *slog.Logger) *volumeTree {
	t := &volumeTree{ctx: ctx, w: w, key: key, comp: comp, metaComp: metaComp, prev: prev, pool: pool, log: log}
	t.reset()
	return t
}

// reset empties the tree (a walk gave up: the stream builds it anew).
func (t *volumeTree) reset() {
	t.root = &node{de: &snapshot.DirEntry{Name: t.key, Type: snapshot.EntryTypeDirectory, Permissions: 0o755}, kids: map[string]*node{}}
	t.extras = map[string]extra{}
	t.hashed.Store(0)
	t.cached.Store(0)
	t.files.Store(0)
}

// errNoWalk: the walk met what only the archive describes (hard links,
// devices): the stream builds the tree.
var errNoWalk = errors.New("the volume holds entries only its archive describes")

// build builds the tree of v from x and writes it; it returns the root's
// entry (named v.Key) and the extras.
func (t *volumeTree) build(x orchestrator.VolumeExport, v orchestrator.Volume) (*snapshot.DirEntry, []extra, error) {
	if t.prev != nil && t.prev.size > 0 {
		t.total.Store(t.prev.size)
	}
	err := t.walk(x, v)
	if errors.Is(err, errNoWalk) {
		if !errors.Is(err, orchestrator.ErrNoHostView) {
			t.log.Info("backup: reading the whole volume", "volume", t.key, "why", err)
		}
		_ = t.pool.wait()
		t.reset()
		err = t.stream(x, v)
	}
	if werr := t.pool.wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, nil, err
	}
	if err := t.writeDir(".", t.root); err != nil {
		return nil, nil, err
	}
	// Attributes of entries the tree holds (a file gone meanwhile has
	// none), and the entries it cannot hold.
	var ex []extra
	for _, e := range t.extras {
		if e.Type != 0 || t.find(e.Path) != nil {
			ex = append(ex, e)
		}
	}
	// Hard links after what they link to, all in a stable order.
	sortExtras(ex)
	return t.root.de, ex, nil
}

// walk builds the tree from the host's view of v, reading the files that
// changed as it meets them.
func (t *volumeTree) walk(x orchestrator.VolumeExport, v orchestrator.Volume) error {
	var total int64
	changed := 0
	err := x.Walk(v, func(e orchestrator.VolumeEntry) error {
		de := &snapshot.DirEntry{Name: path.Base(e.Path), Permissions: snapshot.Permissions(e.Mode & fs.ModBits),
			ModTime: fs.UTCTimestampFromTime(e.ModTime), UserID: e.UID, GroupID: e.GID}
		switch {
		case e.Path == "":
			if !e.Mode.IsDir() {
				return fmt.Errorf("the volume's root is not a directory")
			}
			de.Name, de.Type = t.key, snapshot.EntryTypeDirectory
			t.root.de = de
			return nil
		case e.Mode.IsDir():
			de.Type = snapshot.EntryTypeDirectory
			return t.put(e.Path, &node{de: de, kids: map[string]*node{}})
		case e.Mode&os.ModeSymlink != 0:
			de.Type = snapshot.EntryTypeSymlink
			if err := t.put(e.Path, &node{de: de}); err != nil {
				return err
			}
			return t.symlink(e.Path, de, e.Link)
		case e.Mode.IsRegular() && e.Links <= 1:
			de.Type, de.FileSize = snapshot.EntryTypeFile, e.Size
			total += e.Size
			t.total.Store(max(t.total.Load(), total))
			if err := t.put(e.Path, &node{de: de}); err != nil {
				return err
			}
			if t.reuse(e.Path, de) {
				if ex, ok := t.prev.extras[e.Path]; ok && ex.Type == 0 {
					t.extras[e.Path] = ex
				}
				return nil
			}
			changed++
			rd, err := x.OpenFile(v, e.Path)
			if errors.Is(err, iofs.ErrNotExist) {
				// Removed since the walk saw it: not in this backup.
				t.drop(e.Path)
				return nil
			}
			if err != nil {
				return errReadFile{err}
			}
			defer rd.Close()
			if err := t.content(e.Path, de, &sizeGuard{r: rd, de: de}); err != nil {
				return errReadFile{err}
			}
			return nil
		default:
			return errNoWalk
		}
	})
	var rerr errReadFile
	switch {
	case err == nil:
	case errors.As(err, &rerr):
		return rerr.error
	case t.ctx.Err() != nil, errors.Is(err, errNoWalk):
		return err
	default:
		return fmt.Errorf("%w: %w", errNoWalk, err)
	}
	t.total.Store(total)
	t.log.Info("backup: volume walked", "volume", t.key, "bytes", total, "changed files read", changed)
	return nil
}

// errReadFile is a failure to read a file's content: the walk is not
// taken up by the archive.
type errReadFile struct{ error }

func (e errReadFile) Unwrap() error { return e.error }

// sizeGuard reads a file whose size the walk gave: exactly that many
// bytes. A file that grew since is cut at that size (the next backup sees
// another size and reads it again); one that shrank fails the backup (the
// app was to be still).
type sizeGuard struct {
	r    io.Reader
	de   *snapshot.DirEntry
	read int64
}

func (g *sizeGuard) Read(p []byte) (int, error) {
	if left := g.de.FileSize - g.read; int64(len(p)) > left {
		p = p[:left]
	}
	if len(p) == 0 {
		return 0, io.EOF
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	if errors.Is(err, io.EOF) && g.read < g.de.FileSize {
		g.de.ModTime = 0
		return n, fmt.Errorf("%s shrank while it was read: is the app still writing?", g.de.Name)
	}
	return n, err
}

// stream builds the tree from the archive of the whole volume.
func (t *volumeTree) stream(x orchestrator.VolumeExport, v orchestrator.Volume) error {
	rd, err := x.Open(v)
	if err != nil {
		return err
	}
	defer rd.Close()
	tr := tar.NewReader(rd)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the archive of volume %s: %w", t.key, err)
		}
		rel, err := t.rel(hdr.Name)
		if err != nil {
			return err
		}
		if pax := keptPAX(hdr.PAXRecords); pax != nil {
			t.extras[rel] = extra{Path: rel, PAX: pax}
		}
		de := headerEntry(hdr)
		switch hdr.Typeflag {
		case tar.TypeDir:
			de.Type = snapshot.EntryTypeDirectory
			if rel == "" {
				de.Name = t.key
				t.root.de = de
				continue
			}
			if n := t.find(rel); n != nil && n.kids != nil {
				n.de = de
				continue
			}
			if err := t.put(rel, &node{de: de, kids: map[string]*node{}}); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := t.put(rel, &node{de: de}); err != nil {
				return err
			}
			t.total.Store(max(t.total.Load(), t.hashed.Load()+t.cached.Load()+hdr.Size))
			if t.reuse(rel, de) {
				continue
			}
			if err := t.content(rel, de, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			de.Type = snapshot.EntryTypeSymlink
			if err := t.put(rel, &node{de: de}); err != nil {
				return err
			}
			if err := t.symlink(rel, de, hdr.Linkname); err != nil {
				return err
			}
		case tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			link := hdr.Linkname
			if hdr.Typeflag == tar.TypeLink {
				if link, err = t.rel(link); err != nil {
					return err
				}
			}
			t.extras[rel] = extra{Path: rel, Type: hdr.Typeflag, Link: link, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid,
				ModTime: hdr.ModTime, Devmajor: hdr.Devmajor, Devminor: hdr.Devminor, PAX: keptPAX(hdr.PAXRecords)}
		}
	}
}

// headerEntry is the entry a tar header describes (a file's, until the
// caller says otherwise).
func headerEntry(hdr *tar.Header) *snapshot.DirEntry {
	return &snapshot.DirEntry{Name: path.Base(strings.TrimSuffix(hdr.Name, "/")), Type: snapshot.EntryTypeFile,
		Permissions: snapshot.Permissions(hdr.FileInfo().Mode() & fs.ModBits), FileSize: hdr.Size,
		ModTime: fs.UTCTimestampFromTime(hdr.ModTime), UserID: uint32(hdr.Uid), GroupID: uint32(hdr.Gid)} //nolint:gosec // ids from Docker's archive
}

// rel returns archive name p relative to the volume's root.
func (t *volumeTree) rel(p string) (string, error) {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "./"), "/")
	switch {
	case p == t.key:
		return "", nil
	case strings.HasPrefix(p, t.key+"/"):
		rel := p[len(t.key)+1:]
		if path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", fmt.Errorf("volume %s: the archive holds a bad path %q", t.key, p)
		}
		return rel, nil
	}
	return "", fmt.Errorf("volume %s: the archive holds %q, outside the volume", t.key, p)
}

// find returns the node at rel, or nil.
func (t *volumeTree) find(rel string) *node {
	n := t.root
	if rel == "" {
		return n
	}
	for part := range strings.SplitSeq(rel, "/") {
		if n.kids == nil {
			return nil
		}
		if n = n.kids[part]; n == nil {
			return nil
		}
	}
	return n
}

// put places n at rel, making the directories above it that no entry
// described yet.
func (t *volumeTree) put(rel string, n *node) error {
	if rel == "" {
		return fmt.Errorf("volume %s: the archive's root is not a directory", t.key)
	}
	dir, name := path.Split(rel)
	parent := t.root
	if dir != "" {
		for part := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
			k := parent.kids[part]
			if k == nil {
				k = &node{de: &snapshot.DirEntry{Name: part, Type: snapshot.EntryTypeDirectory, Permissions: 0o755}, kids: map[string]*node{}}
				parent.kids[part] = k
			}
			if k.kids == nil {
				return fmt.Errorf("volume %s: %s is not a directory", t.key, part)
			}
			parent = k
		}
	}
	if old := parent.kids[name]; old != nil && old.kids != nil && n.kids != nil {
		n.kids = old.kids
	}
	parent.kids[name] = n
	return nil
}

// drop takes rel out of the tree.
func (t *volumeTree) drop(rel string) {
	dir, name := path.Split(rel)
	if parent := t.find(strings.TrimSuffix(dir, "/")); parent != nil && parent.kids != nil {
		delete(parent.kids, name)
	}
}

// reuse points de at the previous backup's copy of file rel when that one
// has the same size, modification time, mode and owner.
func (t *volumeTree) reuse(rel string, de *snapshot.DirEntry) bool {
	p := t.prev.entry(rel)
	if p == nil || p.Type != snapshot.EntryTypeFile || p.FileSize != de.FileSize || p.ModTime != de.ModTime ||
		p.Permissions != de.Permissions || p.UserID != de.UserID || p.GroupID != de.GroupID || de.ModTime == 0 {
		return false
	}
	de.ObjectID = p.ObjectID
	t.cached.Add(de.FileSize)
	t.files.Add(1)
	return true
}

// content writes file rel's content from rd (de.FileSize bytes).
func (t *volumeTree) content(rel string, de *snapshot.DirEntry, rd io.Reader) error {
	t.files.Add(1)
	desc := "FILE:" + t.key + "/" + rel
	if de.FileSize <= smallFile {
		buf := t.pool.buffer(int(de.FileSize))
		if _, err := io.ReadFull(rd, buf); err != nil {
			t.pool.release(buf)
			return fmt.Errorf("read %s of volume %s: %w", rel, t.key, err)
		}
		t.pool.submit(func() error {
			defer t.pool.release(buf)
			oid, err := t.writeObject(desc, 0, &countingReader{r: bytes.NewReader(buf), n: &t.hashed})
			de.ObjectID = oid
			return err
		})
		return nil
	}
	oid, err := t.writeObject(desc, runtime.NumCPU(), &countingReader{r: io.LimitReader(rd, de.FileSize), n: &t.hashed})
	de.ObjectID = oid
	return err
}

// symlink writes link target as the object of symbolic link rel.
func (t *volumeTree) symlink(rel string, de *snapshot.DirEntry, target string) error {
	de.FileSize = int64(len(target))
	oid, err := t.writeObject("SYMLINK:"+t.key+"/"+rel, 0, strings.NewReader(target))
	de.ObjectID = oid
	return err
}

// writeObject writes the bytes of rd as one object.
func (t *volumeTree) writeObject(desc string, async int, rd io.Reader) (object.ID, error) {
	ow := t.w.NewObjectWriter(t.ctx, object.WriterOptions{Description: desc, Compressor: t.comp, MetadataCompressor: t.metaComp, AsyncWrites: async})
	defer ow.Close()
	if _, err := io.Copy(ow, rd); err != nil {
		return object.EmptyID, fmt.Errorf("%s: %w", strings.SplitN(desc, ":", 2)[1], err)
	}
	oid, err := ow.Result()
	if err != nil {
		return object.EmptyID, fmt.Errorf("%s: %w", strings.SplitN(desc, ":", 2)[1], err)
	}
	return oid, nil
}

// writeDir writes the manifests of directory n and those below it.
func (t *volumeTree) writeDir(rel string, n *node) error {
	var b snapshotfs.DirManifestBuilder
	for name, k := range n.kids {
		if k.kids != nil {
			if err := t.writeDir(path.Join(rel, name), k); err != nil {
				return err
			}
		}
		b.AddEntry(k.de)
	}
	m := b.Build(n.de.ModTime, "")
	oid, err := snapshotfs.WriteDirManifest(t.ctx, t.w, path.Join(t.key, rel), m, t.metaComp)
	if err != nil {
		return err
	}
	n.de.ObjectID, n.de.DirSummary = oid, m.Summary
	return nil
}

// sortExtras orders extras: entries of the tree first, then the others,
// hard links last, each part by path.
func sortExtras(ex []extra) {
	rank := func(e extra) int {
		switch e.Type {
		case 0:
			return 0
		case tar.TypeLink:
			return 2
		}
		return 1
	}
	slices.SortFunc(ex, func(a, b extra) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// prevTree is a volume's tree in the last backup.
type prevTree struct {
	ctx    context.Context
	root   fs.Directory
	dirs   map[string]fs.Directory
	extras map[string]extra
	size   int64
}

// loadPrev finds volume key in snapshot m (none when m is nil, or the
// volume was saved as one archive).
func loadPrev(ctx context.Context, rep repo.Repository, m *snapshot.Manifest, key string) *prevTree {
	p := &prevTree{ctx: ctx, dirs: map[string]fs.Directory{}, extras: map[string]extra{}}
	if m == nil {
		return p
	}
	de, err := rawEntry(ctx, rep, m, volumesDir+"/"+key)
	if err != nil || de.Type != snapshot.EntryTypeDirectory {
		return p
	}
	p.root, _ = snapshotfs.EntryFromDirEntry(rep, de).(fs.Directory)
	if de.DirSummary != nil {
		p.size = de.DirSummary.TotalFileSize
	}
	if ex, err := readExtras(ctx, rep, m, key); err == nil {
		for _, e := range ex {
			p.extras[e.Path] = e
		}
	}
	return p
}

// entry returns the previous entry at rel, or nil.
func (p *prevTree) entry(rel string) *snapshot.DirEntry {
	if p == nil || p.root == nil {
		return nil
	}
	dir, name := path.Split(rel)
	d := p.dirAt(strings.TrimSuffix(dir, "/"))
	if d == nil {
		return nil
	}
	e, err := d.Child(p.ctx, name)
	if err != nil {
		return nil
	}
	h, ok := e.(snapshot.HasDirEntry)
	if !ok {
		return nil
	}
	return h.DirEntry()
}

// dirAt returns the previous directory at rel ("" the root), or nil. Only
// the directories above the last one asked for stay loaded: archives and
// walks go depth first.
func (p *prevTree) dirAt(rel string) fs.Directory {
	if rel == "" {
		return p.root
	}
	if d, ok := p.dirs[rel]; ok {
		return d
	}
	for k := range p.dirs {
		if !strings.HasPrefix(rel, k+"/") {
			delete(p.dirs, k)
		}
	}
	parent, base := path.Split(rel)
	var d fs.Directory
	if pd := p.dirAt(strings.TrimSuffix(parent, "/")); pd != nil {
		if e, err := pd.Child(p.ctx, base); err == nil {
			d, _ = e.(fs.Directory)
		}
	}
	p.dirs[rel] = d
	return d
}

// readExtras reads extras/<key>.json of snapshot m; fs.ErrEntryNotFound
// when it has none.
func readExtras(ctx context.Context, rep repo.Repository, m *snapshot.Manifest, key string) ([]extra, error) {
	de, err := rawEntry(ctx, rep, m, extrasDir+"/"+key+".json")
	if err != nil {
		return nil, err
	}
	rd, err := rep.OpenObject(ctx, de.ObjectID)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var ex []extra
	if err := json.NewDecoder(io.LimitReader(rd, 256<<20)).Decode(&ex); err != nil {
		return nil, fmt.Errorf("extras of %s: %w", key, err)
	}
	return ex, nil
}

// writers writes small files' objects on as many goroutines as cores,
// from buffers it lends.
type writers struct {
	jobs chan func() error
	wg   sync.WaitGroup
	once sync.Once
	mu   sync.Mutex
	err  error
	bufs sync.Pool
}

func newWriters() *writers {
	n := runtime.NumCPU()
	p := &writers{jobs: make(chan func() error, n)}
	for range n {
		go func() {
			for job := range p.jobs {
				if err := job(); err != nil {
					p.mu.Lock()
					if p.err == nil {
						p.err = err
					}
					p.mu.Unlock()
				}
				p.wg.Done()
			}
		}()
	}
	return p
}

func (p *writers) submit(job func() error) {
	p.wg.Add(1)
	p.jobs <- job
}

// wait waits for the jobs submitted and returns the first error.
func (p *writers) wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// close stops the goroutines (after wait).
func (p *writers) close() { p.once.Do(func() { close(p.jobs) }) }

func (p *writers) buffer(n int) []byte {
	if b, ok := p.bufs.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n, max(n, 1<<20))
}

func (p *writers) release(b []byte) {
	if cap(b) <= smallFile {
		p.bufs.Put(&b)
	}
}

// countingReader counts what it reads into n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	k, err := r.r.Read(p)
	r.n.Add(int64(k))
	return k, err
}

// builtDir is a directory tree already written to the repository, for
// kopia's uploader to take as it is.
type builtDir struct {
	de *snapshot.DirEntry
}

var _ snapshot.HasDirEntryOrNil = builtDir{}

func (d builtDir) Name() string       { return d.de.Name }
func (d builtDir) IsDir() bool        { return true }
func (d builtDir) Mode() os.FileMode  { return os.ModeDir | os.FileMode(d.de.Permissions) }
func (d builtDir) ModTime() time.Time { return d.de.ModTime.ToTime() }
func (d builtDir) Size() int64        { return 0 }
func (d builtDir) Sys() any           { return nil }
func (d builtDir) Owner() fs.OwnerInfo {
	return fs.OwnerInfo{UserID: d.de.UserID, GroupID: d.de.GroupID}
}
func (d builtDir) Device() fs.DeviceInfo       { return fs.DeviceInfo{} }
func (d builtDir) LocalFilesystemPath() string { return "" }
func (d builtDir) Close()                      {}
func (d builtDir) SupportsMultipleIterations() bool {
	return false
}

func (d builtDir) Child(context.Context, string) (fs.Entry, error) {
	return nil, fs.ErrEntryNotFound
}

func (d builtDir) Iterate(context.Context) (fs.DirectoryIterator, error) {
	return nil, errors.New("a volume's tree is written already")
}

func (d builtDir) DirEntryOrNil(context.Context) (*snapshot.DirEntry, error) { return d.de, nil }
