package backup_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/backup"
)

// openRepo creates and opens a filesystem repository, closed at the end.
func openRepo(t *testing.T) *backup.Repository {
	t.Helper()
	r, _ := newRepo(t, filepath.Join(t.TempDir(), "repo"))
	t.Cleanup(func() { r.Close(t.Context()) })
	return r
}

// newRepo creates a filesystem repository at path and opens it; the
// caller closes it.
func newRepo(t *testing.T, path string) (*backup.Repository, backup.Options) {
	t.Helper()
	o := backup.Options{ID: "tree", Location: backup.Location{Kind: "filesystem", Path: path},
		Password: "a long test password", StateDir: filepath.Join(t.TempDir(), "state")}
	require.NoError(t, backup.Create(t.Context(), o))
	r, err := backup.Open(t.Context(), o)
	require.NoError(t, err)
	return r, o
}

func restoreArchive(t *testing.T, r *backup.Repository, id, key string) []byte {
	t.Helper()
	rd, err := r.OpenVolume(t.Context(), id, key)
	require.NoError(t, err)
	defer rd.Close()
	b, err := io.ReadAll(rd)
	require.NoError(t, err)
	return b
}

// An archive with what a kopia tree cannot hold (hard link, FIFO, device,
// extended attributes) comes back whole.
func TestVolumeArchiveKeepsEverything(t *testing.T) {
	mt := time.Unix(1_700_000_123, 0)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, data []byte) {
		h.ModTime, h.Format = mt, tar.FormatPAX
		h.Size = int64(len(data))
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 33, Gid: 33}, nil)
	add(&tar.Header{Name: "data/sub/", Typeflag: tar.TypeDir, Mode: 0o2775}, nil)
	add(&tar.Header{Name: "data/sub/big.bin", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 999, Gid: 998}, random(6<<20))
	add(&tar.Header{Name: "data/sub/empty", Typeflag: tar.TypeReg, Mode: 0o644}, nil)
	add(&tar.Header{Name: "data/cap", Typeflag: tar.TypeReg, Mode: 0o4755,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}}, []byte("binary"))
	add(&tar.Header{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: "sub/big.bin", Mode: 0o777}, nil)
	add(&tar.Header{Name: "data/hard", Typeflag: tar.TypeLink, Linkname: "data/cap", Mode: 0o4755}, nil)
	add(&tar.Header{Name: "data/fifo", Typeflag: tar.TypeFifo, Mode: 0o600}, nil)
	add(&tar.Header{Name: "data/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, nil)
	require.NoError(t, tw.Close())

	r := openRepo(t)
	src := orchestrator.BackupSource{Installation: "keep", Record: []byte(`{}`),
		Volumes: []orchestrator.Volume{{Name: "keep_data", Key: "data"}}, Export: tarExport{"data": b.Bytes()}}
	saved, err := r.Save(t.Context(), src, nil)
	require.NoError(t, err)
	assert.Equal(t, tarEntries(t, b.Bytes()), tarEntries(t, restoreArchive(t, r, saved.ID, "data")))

	res, err := r.Verify(t.Context(), saved.ID, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
}

// With a view of the volume's files, a second backup reads only the files
// that changed, and each backup restores as it was.
func TestWalkBackupReadsOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o640))
	}
	for i := range 40 {
		write(filepath.Join("d"+string(rune('a'+i%4)), "f"+string(rune('a'+i))), random(1000+i*5000))
	}
	write("big", random(9<<20))
	require.NoError(t, os.Symlink("big", filepath.Join(dir, "to-big")))

	r := openRepo(t)
	x := &dirExport{dirs: map[string]string{"data": dir}}
	src := orchestrator.BackupSource{Installation: "walk", Record: []byte(`{}`), Volumes: []orchestrator.Volume{{Name: "walk_data", Key: "data"}}, Export: x}
	var last orchestrator.BackupProgress
	b1, err := r.Save(t.Context(), src, func(p orchestrator.BackupProgress) { last = p })
	require.NoError(t, err)
	assert.Zero(t, x.opens, "no archive: the files are read one by one")
	assert.Len(t, x.files, 41, "every file")
	assert.Positive(t, last.Total)
	assert.GreaterOrEqual(t, last.Bytes, last.Total, "the last progress counts every byte of the files")
	first, err := x.Open(src.Volumes[0])
	require.NoError(t, err)
	want1, _ := io.ReadAll(first)
	assert.Equal(t, tarEntries(t, want1), tarEntries(t, restoreArchive(t, r, b1.ID, "data")))

	// Change two files (a later time, whatever the clock's resolution),
	// add one, remove one.
	later := time.Now().Add(time.Minute)
	write("da/fa", random(777))
	write("big", append(random(1<<20), make([]byte, 8<<20)...))
	for _, f := range []string{"da/fa", "big"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, f), later, later))
	}
	write("dc/new", []byte("new file"))
	require.NoError(t, os.Remove(filepath.Join(dir, "db", "fb")))
	x.opens, x.files = 0, nil
	b2, err := r.Save(t.Context(), src, nil)
	require.NoError(t, err)
	assert.Zero(t, x.opens, "no whole-volume archive")
	assert.Equal(t, []string{"big", "da/fa", "dc/new"}, sortedCopy(x.files), "only what changed is read")
	second, err := x.Open(src.Volumes[0])
	require.NoError(t, err)
	want2, _ := io.ReadAll(second)
	got2 := tarEntries(t, restoreArchive(t, r, b2.ID, "data"))
	assert.Equal(t, tarEntries(t, want2), got2)
	assert.NotContains(t, got2, "data/db/fb")
	assert.Equal(t, tarEntries(t, want1), tarEntries(t, restoreArchive(t, r, b1.ID, "data")), "the first backup is untouched")

	// A hard link makes the walk give up: the whole archive is read.
	require.NoError(t, os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "hard")))
	x.opens, x.files = 0, nil
	b3, err := r.Save(t.Context(), src, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, x.opens)
	third, err := x.Open(src.Volumes[0])
	require.NoError(t, err)
	want3, _ := io.ReadAll(third)
	assert.Equal(t, tarEntries(t, want3), tarEntries(t, restoreArchive(t, r, b3.ID, "data")))
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(dir, "hard"), &st))
	assert.EqualValues(t, 2, st.Nlink)

	res, err := r.Verify(t.Context(), "", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
}

// vanishing is a dirExport whose file gone is removed between the walk and
// its read.
type vanishing struct {
	*dirExport
	gone string
}

func (v vanishing) OpenFile(vol orchestrator.Volume, rel string) (io.ReadCloser, error) {
	if rel == v.gone {
		return nil, &os.PathError{Op: "open", Path: rel, Err: os.ErrNotExist}
	}
	return v.dirExport.OpenFile(vol, rel)
}

// A file removed while the backup walks is left out; the rest is saved.
func TestWalkFileRemovedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kept"), []byte("kept"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gone"), []byte("gone"), 0o644))
	r := openRepo(t)
	x := vanishing{dirExport: &dirExport{dirs: map[string]string{"data": dir}}, gone: "gone"}
	b, err := r.Save(t.Context(), orchestrator.BackupSource{Installation: "v", Record: []byte(`{}`),
		Volumes: []orchestrator.Volume{{Name: "v_data", Key: "data"}}, Export: x}, nil)
	require.NoError(t, err)
	got := tarEntries(t, restoreArchive(t, r, b.ID, "data"))
	assert.Contains(t, got, "data/kept")
	assert.NotContains(t, got, "data/gone")
}
