package build_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// demoDir is the repository's demo bundle; tests copy it before building,
// because Build writes .cnab/bundle.json into the bundle directory.
const demoDir = "../../bundles/testdata/demo"

// assertGolden compares got with the golden file at path;
// UPDATE_GOLDEN=1 rewrites the file instead.
func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run UPDATE_GOLDEN=1 go test ./orchestrator/build/")
	require.Equal(t, string(want), string(got), "got differs from %s (UPDATE_GOLDEN=1 rewrites it)", path)
}

// indentJSON pretty-prints data, keeping its key order.
func indentJSON(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, data, "", "  "))
	buf.WriteByte('\n')
	return buf.Bytes()
}

// mustParse parses the porter.yaml at path.
func mustParse(t *testing.T, path string) *manifest.Manifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := manifest.Parse(raw)
	require.NoError(t, err, path)
	return m
}

// parseYAML parses porter.yaml text.
func parseYAML(t *testing.T, text string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte(text))
	require.NoError(t, err)
	return m
}

// fakeELF returns the smallest ELF64 file debug/elf accepts, for machine,
// optionally with a PT_INTERP program header (a dynamically linked program),
// followed by payload so each fake is recognisable in an image.
func fakeELF(t testing.TB, machine elf.Machine, dynamic bool, payload string) []byte {
	t.Helper()
	hdr := elf.Header64{
		Ident:     [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Ehsize:    64,
		Phentsize: 56,
	}
	if dynamic {
		hdr.Phoff, hdr.Phnum = 64, 1
	}
	var buf bytes.Buffer
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, hdr))
	if dynamic {
		require.NoError(t, binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP)}))
	}
	buf.WriteString(payload)
	return buf.Bytes()
}

// fakeRuntimes writes a static linux/amd64 stand-in for bundle-runtime and
// websoft9-runtime into a new directory: the builder only copies them.
func fakeRuntimes(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"bundle-runtime", "websoft9-runtime"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fakeELF(t, elf.EM_X86_64, false, name), 0o755))
	}
	return dir
}

// copyDir copies the regular files and directories of src into a new
// temporary directory and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == ".cnab" {
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(t, err)
	return dst
}
