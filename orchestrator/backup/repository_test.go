package backup_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/backup"
)

// volumeTar is a volume's archive as Docker's API gives it: paths start
// with the key.
func volumeTar(t *testing.T, key string, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: key + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for name, data := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: key + "/" + name, Typeflag: tar.TypeReg, Mode: 0o640, Uid: 999, Size: int64(len(data))}))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// source makes a backup source of two volumes and the demo bundle.
func source(t *testing.T, name string, vols map[string][]byte) orchestrator.BackupSource {
	src := orchestrator.BackupSource{Installation: name, Record: []byte(`{"name":"` + name + `","secrets":"sealed:..."}`),
		BundleDir: "../../bundles/testdata/demo", Tags: map[string]string{"app": "demo", "version": "0.1.0", "digest": "sha256:abc", "quiesce": "stopped"}}
	for key := range vols {
		src.Volumes = append(src.Volumes, orchestrator.Volume{Name: "websoft9-" + name + "_" + key, Key: key})
	}
	src.Export = tarExport(vols)
	return src
}

func roundTrip(t *testing.T, o backup.Options) {
	ctx := t.Context()
	require.NoError(t, backup.Create(ctx, o))
	err := backup.Create(ctx, o)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "a location holds one repository: %v", err)

	r, err := backup.Open(ctx, o)
	require.NoError(t, err)
	defer r.Close(ctx)

	files := volumeTar(t, "files", map[string][]byte{"a.bin": random(3 << 20), "b.txt": []byte("hello\n")})
	db := volumeTar(t, "db", map[string][]byte{"ibdata": random(1 << 20)})
	var last orchestrator.BackupProgress
	b1, err := r.Save(ctx, source(t, "blog", map[string][]byte{"files": files, "db": db}), func(p orchestrator.BackupProgress) { last = p })
	require.NoError(t, err)
	assert.Equal(t, "blog", b1.Installation)
	assert.Equal(t, "demo", b1.App)
	assert.Equal(t, "sha256:abc", b1.Digest)
	assert.Equal(t, "stopped", b1.Quiesce)
	assert.GreaterOrEqual(t, b1.Size, int64(len(files)+len(db)))
	assert.GreaterOrEqual(t, last.Bytes, int64(len(files)+len(db)), "the last progress counts every byte")

	// What was saved comes back byte for byte.
	rec, err := r.Record(ctx, b1.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"blog","secrets":"sealed:..."}`, string(rec))
	for key, want := range map[string][]byte{"files": files, "db": db} {
		rd, err := r.OpenVolume(ctx, b1.ID, key)
		require.NoError(t, err)
		got, err := io.ReadAll(rd)
		rd.Close()
		require.NoError(t, err)
		assert.Equal(t, tarEntries(t, want), tarEntries(t, got), key)
	}
	dir, err := r.ExtractBundle(ctx, b1.ID, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "demo", filepath.Base(dir))
	want, err := os.ReadFile("../../bundles/testdata/demo/porter.yaml")
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// A second backup with a small change: listed first, its own data.
	files2 := volumeTar(t, "files", map[string][]byte{"a.bin": random(3 << 20), "b.txt": []byte("hello again\n")})
	b2, err := r.Save(ctx, source(t, "blog", map[string][]byte{"files": files2, "db": db}), nil)
	require.NoError(t, err)
	other, err := r.Save(ctx, source(t, "wiki", map[string][]byte{"files": files}), nil)
	require.NoError(t, err)
	list, err := r.Backups(ctx, "blog")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{b2.ID, b1.ID}, []string{list[0].ID, list[1].ID}, "newest first")
	all, err := r.Backups(ctx, "")
	require.NoError(t, err)
	assert.Len(t, all, 3)

	res, err := r.Verify(ctx, "", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, 3, res.Backups)
	assert.Positive(t, res.Bytes)

	// Retention: the last one stays, the first goes; the other app's stays.
	gone, err := r.Prune(ctx, "blog", orchestrator.Retention{Last: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{b1.ID}, gone)
	_, err = r.Backup(ctx, b1.ID)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
	rd, err := r.OpenVolume(ctx, b2.ID, "db")
	require.NoError(t, err, "data b2 shares with the pruned backup is kept")
	got, err = io.ReadAll(rd)
	rd.Close()
	require.NoError(t, err)
	assert.Equal(t, db, got)
	_, err = r.Backup(ctx, other.ID)
	require.NoError(t, err)

	require.NoError(t, r.Delete(ctx, other.ID))
	_, err = r.Backup(ctx, other.ID)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
	_, err = r.OpenVolume(ctx, b2.ID, "../x")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	_, err = r.OpenVolume(ctx, b2.ID, "nope")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
}

func TestFilesystemRepository(t *testing.T) {
	dir := t.TempDir()
	o := backup.Options{ID: "local", Location: backup.Location{Kind: "filesystem", Path: filepath.Join(dir, "repo")},
		Password: "correct horse battery staple", StateDir: filepath.Join(dir, "state")}
	roundTrip(t, o)

	// The state directory never holds the password.
	filepath.WalkDir(o.StateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			assert.NotContains(t, string(b), o.Password, p)
		}
		return nil
	})

	wrong := o
	wrong.Password = "not the password"
	_, err := backup.Open(t.Context(), wrong)
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "wrong repository password")

	none := o
	none.Location.Path = filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(none.Location.Path, 0o700))
	_, err = backup.Open(t.Context(), none)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "%v", err)
}

func TestS3Repository(t *testing.T) {
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("backups"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	o := backup.Options{ID: "s3", Location: backup.Location{Kind: "s3", Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "backups",
		Prefix: "stackhub/", AccessKey: "AKIDEXAMPLE", SecretKey: "secret-key-never-on-disk", Insecure: true},
		Password: "correct horse battery staple", StateDir: filepath.Join(t.TempDir(), "state")}
	roundTrip(t, o)
	filepath.WalkDir(o.StateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			assert.NotContains(t, string(b), "secret-key-never-on-disk", "kopia's config names the repository, never its key: %s", p)
		}
		return nil
	})
}

// TestCorruptionFound: a flipped byte in the repository is found by
// verify and refused by a read.
func TestCorruptionFound(t *testing.T) {
	dir := t.TempDir()
	o := backup.Options{ID: "local", Location: backup.Location{Kind: "filesystem", Path: filepath.Join(dir, "repo")},
		Password: "correct horse battery staple", StateDir: filepath.Join(dir, "state")}
	require.NoError(t, backup.Create(t.Context(), o))
	r, err := backup.Open(t.Context(), o)
	require.NoError(t, err)
	b, err := r.Save(t.Context(), source(t, "blog", map[string][]byte{"files": volumeTar(t, "files", map[string][]byte{"a.bin": random(2 << 20)})}), nil)
	require.NoError(t, err)
	require.NoError(t, r.Close(t.Context()))

	// The largest data pack (a blob p…, in directories by prefix) is the
	// volume's.
	var biggest string
	var size int64
	filepath.WalkDir(o.Location.Path, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(o.Location.Path, p)
		if info, e := d.Info(); e == nil && !d.IsDir() && strings.HasPrefix(rel, "p") && info.Size() > size {
			biggest, size = p, info.Size()
		}
		return nil
	})
	require.NotEmpty(t, biggest)
	data, err := os.ReadFile(biggest)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(biggest, data, 0o600))

	r, err = backup.Open(t.Context(), o)
	require.NoError(t, err)
	defer r.Close(t.Context())
	res, err := r.Verify(t.Context(), b.ID, nil)
	require.NoError(t, err)
	assert.NotEmpty(t, res.Errors, "the damage is found")
	rd, err := r.OpenVolume(t.Context(), b.ID, "files")
	if err == nil {
		_, err = io.ReadAll(rd)
		rd.Close()
	}
	assert.Error(t, err, "a damaged archive is never handed out as good")
}
