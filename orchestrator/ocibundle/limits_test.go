package ocibundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// tarGz writes entries; a header with Size and no body gets zeros.
func tarGz(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	tw := tar.NewWriter(gz)
	for _, h := range hdrs {
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			_, err := io.CopyN(tw, zeros{}, h.Size)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	require.NoError(t, filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	}))
	return n
}

// TestExtractLimits: every limit refuses an archive past it with a clear
// reason, before memory or disk follow the archive's claims.
func TestExtractLimits(t *testing.T) {
	small := Limits{Compressed: 1 << 20, Unpacked: 8 << 20, Entries: 10, PathLen: 64, Ratio: 20, RatioAfter: 1 << 20}
	reg := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}
	}
	many := []*tar.Header{}
	for i := range 11 {
		many = append(many, reg("f"+strings.Repeat("x", i), 1))
	}
	noRatio, bigUnpacked := small, small
	noRatio.Ratio = 0
	bigUnpacked.Unpacked = 1 << 30
	tests := []struct {
		name    string
		archive []byte
		message string
		lim     *Limits
	}{
		{"bomb", tarGz(t, reg("zeros", 512<<20)), "decompression bomb", &bigUnpacked},
		{"claimed size", tarGz(t, reg("zeros", 512<<20)), "unpacks to more than", nil},
		{"unpacked", tarGz(t, reg("a", 5<<20), reg("b", 5<<20)), "unpacks to more than", &noRatio},
		{"entries", tarGz(t, many...), "more than 10 entries", nil},
		{"path length", tarGz(t, reg(strings.Repeat("p", 65), 1)), "longer than 64", nil},
		{"dot dot", tarGz(t, reg("a/../../evil", 1)), "outside", nil},
		{"absolute", tarGz(t, reg("/etc/evil", 1)), "outside", nil},
		{"symlink", tarGz(t, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), "links are refused", nil},
		{"hard link", tarGz(t, reg("a", 1), &tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}), "links are refused", nil},
		{"device", tarGz(t, &tar.Header{Name: "d", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}), "neither a file nor a directory", nil},
		{"fifo", tarGz(t, &tar.Header{Name: "p", Typeflag: tar.TypeFifo}), "neither a file nor a directory", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lim := small
			if tc.lim != nil {
				lim = *tc.lim
			}
			err := extractTarGz(bytes.NewReader(tc.archive), dir, lim)
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.message)
			assert.LessOrEqual(t, dirSize(t, dir), int64(16<<20), "disk stays bounded")
		})
	}

	t.Run("compressed", func(t *testing.T) {
		var random bytes.Buffer
		_, err := io.CopyN(&random, &pseudo{x: 1}, 2<<20)
		require.NoError(t, err)
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		require.NoError(t, tw.WriteHeader(reg("r", int64(random.Len()))))
		_, err = tw.Write(random.Bytes())
		require.NoError(t, err)
		require.NoError(t, tw.Close())
		require.NoError(t, gz.Close())
		err = extractTarGz(bytes.NewReader(buf.Bytes()), t.TempDir(), small)
		require.Error(t, err)
		assert.Contains(t, orchestrator.ErrorMessage(err), "larger than")
	})

	t.Run("within limits", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, extractTarGz(bytes.NewReader(tarGz(t, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, reg("d/f", 1000))), dir, small))
		data, err := os.ReadFile(filepath.Join(dir, "d", "f"))
		require.NoError(t, err)
		assert.Len(t, data, 1000)
	})
}

// pseudo is incompressible filler (xorshift).
type pseudo struct{ x uint64 }

func (p *pseudo) Read(b []byte) (int, error) {
	for i := range b {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		b[i] = byte(p.x)
	}
	return len(b), nil
}
