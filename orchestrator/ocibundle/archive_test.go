package ocibundle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

func testBundle() *bundle.Bundle {
	return &bundle.Bundle{
		SchemaVersion: "1.2.0", Name: "unit", Version: "0.1.0",
		InvocationImages: []bundle.InvocationImage{{BaseImage: bundle.BaseImage{ImageType: "docker", Image: "example.com/unit:porter-0123"}}},
	}
}

// entries lists the names in a gzipped tar and returns its files.
func entries(t *testing.T, data []byte) ([]string, map[string][]byte) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		require.NoError(t, err)
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[hdr.Name] = b
		}
	}
}

// rewrite returns a gzipped tar of names/files, with edit applied to each file.
func rewrite(t *testing.T, names []string, files map[string][]byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		b, ok := files[n]
		if !ok {
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755}))
			continue
		}
		b = edit(n, b)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func TestArchive_LocalBuild(t *testing.T) {
	img, err := random.Image(1024, 2)
	require.NoError(t, err)
	digest, err := img.Digest()
	require.NoError(t, err)
	var out bytes.Buffer
	src := testBundle()
	archived, err := ocibundle.Archive(t.Context(), &out, ocibundle.ArchiveOptions{Bundle: src, InvocationImage: img})
	require.NoError(t, err)
	assert.Equal(t, digest.String(), archived.InvocationImages[0].Digest)
	assert.Empty(t, src.InvocationImages[0].Digest, "the caller's bundle is not modified")

	names, files := entries(t, out.Bytes())
	require.GreaterOrEqual(t, len(names), 8)
	assert.Equal(t, []string{"./", "./bundle.json", "./relocation-mapping.json", "./artifacts/", "./artifacts/layout/",
		"./artifacts/layout/oci-layout", "./artifacts/layout/index.json"}, names[:7], "Porter's order")
	assert.JSONEq(t, `{"example.com/unit:porter-0123":"example.com/unit:porter-0123"}`, string(files["./relocation-mapping.json"]))
	assert.Contains(t, string(files["./artifacts/layout/index.json"]), `"org.opencontainers.image.ref.name": "example.com/unit:porter-0123"`)
	assert.Contains(t, string(files["./artifacts/layout/index.json"]), digest.String())

	b, err := ocibundle.ReadArchive(t.Context(), bytes.NewReader(out.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, digest.String(), b.InvocationImages[0].Digest)

	// A digest recorded beforehand must match.
	wrong := testBundle()
	wrong.InvocationImages[0].Digest = "sha256:" + string(bytes.Repeat([]byte("a"), 64))
	_, err = ocibundle.Archive(t.Context(), io.Discard, ocibundle.ArchiveOptions{Bundle: wrong, InvocationImage: img})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "digest mismatch")
}

func TestReadArchive_Refuses(t *testing.T) {
	img, err := random.Image(4096, 1)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	layerDigest, err := layers[0].Digest()
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = ocibundle.Archive(t.Context(), &out, ocibundle.ArchiveOptions{Bundle: testBundle(), InvocationImage: img})
	require.NoError(t, err)
	names, files := entries(t, out.Bytes())

	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 0xff; return c }
	tests := []struct {
		name    string
		archive []byte
		message string
	}{
		{"layer altered", rewrite(t, names, files, func(n string, b []byte) []byte {
			if n == "./artifacts/layout/blobs/sha256/"+layerDigest.Hex {
				return flip(b)
			}
			return b
		}), "digest mismatch"},
		{"contentDigest altered", rewrite(t, names, files, func(n string, b []byte) []byte {
			if n == "./bundle.json" {
				d, _ := img.Digest()
				return bytes.ReplaceAll(b, []byte(d.Hex), bytes.Repeat([]byte("0"), 64))
			}
			return b
		}), "digest mismatch"},
		{"empty file", nil, "not a gzipped tar"},
		{"path outside", rewrite(t, []string{"../evil"}, map[string][]byte{"../evil": []byte("x")}, func(_ string, b []byte) []byte { return b }), "outside"},
		{"not a CNAB archive", rewrite(t, []string{"./x"}, map[string][]byte{"./x": []byte("x")}, func(_ string, b []byte) []byte { return b }), "no bundle.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ocibundle.ReadArchive(t.Context(), bytes.NewReader(tc.archive))
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.message)
		})
	}
}
