package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/backup"
)

// A repository whose disk fills up: the backup fails with a clear error,
// the backups before it stay whole, and once there is room again the next
// one succeeds. The disk is a 24 MiB tmpfs (root only).
func TestRepositoryDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	require.NoError(t, os.Mkdir(disk, 0o700))
	if out, err := exec.CommandContext(t.Context(), "mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", disk).Run() })
	r, o := newRepo(t, filepath.Join(disk, "repo"))
	defer r.Close(t.Context())

	small := volumeTar(t, "data", map[string][]byte{"a.bin": random(4 << 20)})
	b1, err := r.Save(t.Context(), orchestrator.BackupSource{Installation: "full", Record: []byte(`{}`),
		Volumes: []orchestrator.Volume{{Name: "full_data", Key: "data"}}, Export: tarExport{"data": small}}, nil)
	require.NoError(t, err)

	// Room for a few MiB more, then 40 MiB of random data.
	filler := filepath.Join(disk, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 8<<20), 0o600))
	big := volumeTar(t, "data", map[string][]byte{"a.bin": random(4 << 20), "b.bin": random(40 << 20)})
	_, err = r.Save(t.Context(), orchestrator.BackupSource{Installation: "full", Record: []byte(`{}`),
		Volumes: []orchestrator.Volume{{Name: "full_data", Key: "data"}}, Export: tarExport{"data": big}}, nil)
	require.Error(t, err)
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "no space left")
	assert.Contains(t, err.Error(), "needed)", "refused by the free-space check before the write, not after kopia's retries")
	assert.NotContains(t, err.Error(), "despite 10 retries")

	// Nothing corrupted: the first backup is listed, verifies and restores.
	list, err := r.Backups(t.Context(), "full")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, b1.ID, list[0].ID)
	res, err := r.Verify(t.Context(), "", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, tarEntries(t, small), tarEntries(t, restoreArchive(t, r, b1.ID, "data")))

	// Room again: the same backup succeeds, on a repository opened anew.
	require.NoError(t, os.Remove(filler))
	require.NoError(t, r.Close(t.Context()))
	r, err = backup.Open(t.Context(), o)
	require.NoError(t, err)
	medium := volumeTar(t, "data", map[string][]byte{"a.bin": random(4 << 20), "b.bin": random(8 << 20)})
	b2, err := r.Save(t.Context(), orchestrator.BackupSource{Installation: "full", Record: []byte(`{}`),
		Volumes: []orchestrator.Volume{{Name: "full_data", Key: "data"}}, Export: tarExport{"data": medium}}, nil)
	require.NoError(t, err)
	assert.Equal(t, tarEntries(t, medium), tarEntries(t, restoreArchive(t, r, b2.ID, "data")))
	res, err = r.Verify(t.Context(), "", nil)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
}
