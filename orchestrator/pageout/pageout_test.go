package pageout_test

import (
	"errors"
	"os"
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/pageout"
)

// TestExecutableMappings: of a Go server's maps, exactly the binary's text
// and read-only data are picked: never its writable data or an
// inaccessible (---p) part, anonymous memory, another file (one whose name
// starts like it), a path with a space, or the kernel's pseudo-mappings.
func TestExecutableMappings(t *testing.T) {
	data, err := os.ReadFile("testdata/maps")
	require.NoError(t, err)
	maps, err := pageout.ParseMaps(data)
	require.NoError(t, err)
	require.Len(t, maps, 14)
	assert.Equal(t, "/opt/stack hub/stackhub", maps[8].Path, "a path with a space is kept whole")
	assert.Empty(t, maps[3].Path, "an anonymous mapping has no path")

	got := pageout.ExecutableMappings(maps, "/usr/bin/stackhub")
	want := []pageout.Mapping{
		{Start: 0x400000, End: 0x1a1a000, Perms: "r-xp", Inode: 1573123, Path: "/usr/bin/stackhub"},
		{Start: 0x1a1a000, End: 0x3b43000, Perms: "r--p", Inode: 1573123, Path: "/usr/bin/stackhub"},
	}
	assert.Equal(t, want, got)

	got = pageout.ExecutableMappings(maps, "/opt/stack hub/stackhub")
	require.Len(t, got, 1)
	assert.Equal(t, uintptr(0x100000), got[0].Len())
}

// TestParseMaps_Refuses: a line that is not a mapping is an error, not a
// mapping of address 0.
func TestParseMaps_Refuses(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"no range", "00400000 r-xp 00000000 fd:00 1 /bin/x\n"},
		{"bad address", "0040000g-01a1a000 r-xp 00000000 fd:00 1 /bin/x\n"},
		{"end before start", "01a1a000-00400000 r-xp 00000000 fd:00 1 /bin/x\n"},
		{"bad perms", "00400000-01a1a000 rx 00000000 fd:00 1 /bin/x\n"},
		{"bad inode", "00400000-01a1a000 r-xp 00000000 fd:00 x /bin/x\n"},
		{"too few fields", "00400000-01a1a000 r-xp\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pageout.ParseMaps([]byte(tc.line))
			assert.Error(t, err)
		})
	}
}

// TestExecutableMappings_Self: in this test binary's own maps, the code of
// a function lies in a picked r-x mapping, and no picked mapping is
// writable.
func TestExecutableMappings_Self(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	data, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	maps, err := pageout.ParseMaps(data)
	require.NoError(t, err)
	mine := pageout.ExecutableMappings(maps, exe)
	require.NotEmpty(t, mine)
	pc := reflect.ValueOf(TestExecutableMappings_Self).Pointer()
	in := false
	for _, m := range mine {
		assert.False(t, m.Writable(), "%+v", m)
		if m.Start <= pc && pc < m.End {
			in = true
			assert.Equal(t, "r-xp", m.Perms)
		}
	}
	assert.True(t, in, "the text at %#x is in none of %+v", pc, mine)
}

// TestExecutable: the test process's file-backed resident memory falls
// after the call, its anonymous memory is untouched, and the process runs
// on (the pages it needs fault back in).
func TestExecutable(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := pageout.Executable()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		return
	}
	res, err := pageout.Executable()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.Mappings, 2, "text and read-only data")
	assert.Positive(t, res.Bytes)
	require.Positive(t, res.Before.File)
	t.Logf("RssFile %d → %d KiB, RssAnon %d → %d KiB", res.Before.File, res.After.File, res.Before.Anon, res.After.Anon)
	assert.Less(t, res.After.File, res.Before.File/2, "RssFile should fall by more than half")
	assert.InDelta(t, res.Before.Anon, res.After.Anon, 1024, "RssAnon should stay (KiB)")

	after, err := pageout.ReadResident("/proc/self/status")
	require.NoError(t, err)
	assert.Positive(t, after.RSS)
}
