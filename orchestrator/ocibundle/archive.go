package ocibundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/cnabio/cnab-to-oci/relocation"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/websoft9/stackhub/orchestrator"
)

// Archive file names (see the package doc).
const (
	BundleFile     = "bundle.json"
	RelocationFile = "relocation-mapping.json"
	LayoutDir      = "artifacts/layout"
	// RefNameAnnotation names, on each layout descriptor, the reference the
	// image was archived from.
	RefNameAnnotation = "org.opencontainers.image.ref.name"
)

// ArchiveOptions says what Archive writes.
type ArchiveOptions struct {
	// Bundle is bundle.json, as built or as pulled. Archive works on a copy.
	Bundle *bundle.Bundle
	// RelocationMap (from Pull) says where each image of Bundle lives in a
	// registry; images not in it are looked up under their own reference.
	RelocationMap relocation.ImageRelocationMap
	// InvocationImage, when set, is the invocation image itself (a local
	// build); otherwise it is fetched like the other images.
	InvocationImage v1.Image
	// Docker, when set, is consulted first for images without
	// contentDigest (a local build's images: entries).
	Docker DockerClient
	// Registry holds credentials and plain-HTTP settings for fetches.
	Registry Registry
}

// Archive writes the bundle in CNAB's air-gap form (see the package doc)
// to w: bundle.json with every image's contentDigest, the relocation
// mapping and every image (images: entries, then the invocation image) in
// an OCI image layout, as one gzipped tar. It returns the bundle.json it
// wrote.
//
// Returns EINVALID when an image's content differs from the contentDigest
// bundle.json already records (digest mismatch), ENOTFOUND when an image is
// in neither Docker nor its registry, EUNAUTHORIZED or EUNAVAILABLE for
// registry failures. Nothing useful is left in w on error.
func Archive(ctx context.Context, w io.Writer, opts ArchiveOptions) (*bundle.Bundle, error) {
	if opts.Bundle == nil || len(opts.Bundle.InvocationImages) != 1 {
		return nil, orchestrator.Errorf(orchestrator.EINVALID, "archive: a bundle with one invocation image is required")
	}
	bun, err := copyBundle(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	subject := "archive " + bun.Name + " " + bun.Version
	c, err := opts.Registry.connect(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	dir, err := os.MkdirTemp("", "stackhub-archive-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(filepath.Join(dir, filepath.FromSlash(LayoutDir)), empty.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: create the OCI layout: %w", subject, err)
	}

	rm := relocation.ImageRelocationMap{}
	add := func(what string, img *bundle.BaseImage, local v1.Image) error {
		loc := img.Image
		if l, ok := opts.RelocationMap[img.Image]; ok {
			loc = l
		}
		desc, err := archiveImage(ctx, c, lp, img, loc, local, opts.Docker)
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", subject, what, img.Image, err)
		}
		if img.Digest != "" && img.Digest != desc.Digest.String() {
			return orchestrator.Errorf(orchestrator.EINVALID, "%s: digest mismatch: %s %s has contentDigest %s in bundle.json but %s holds %s",
				subject, what, img.Image, img.Digest, loc, desc.Digest)
		}
		img.Digest, img.Size, img.MediaType = desc.Digest.String(), uint64(desc.Size), string(desc.MediaType)
		rm[img.Image] = loc
		return nil
	}
	for _, alias := range slices.Sorted(maps.Keys(bun.Images)) {
		img := bun.Images[alias]
		if err := add("image "+alias, &img.BaseImage, nil); err != nil {
			return nil, err
		}
		bun.Images[alias] = img
	}
	if err := add("invocation image", &bun.InvocationImages[0].BaseImage, opts.InvocationImage); err != nil {
		return nil, err
	}

	var bj bytes.Buffer
	if _, err := bun.WriteTo(&bj); err != nil {
		return nil, fmt.Errorf("%s: bundle.json: %w", subject, err)
	}
	if err := os.WriteFile(filepath.Join(dir, BundleFile), bj.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	rmJSON, err := json.Marshal(rm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if err := os.WriteFile(filepath.Join(dir, RelocationFile), rmJSON, 0o644); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if err := writeTarGz(w, dir); err != nil {
		return nil, fmt.Errorf("%s: write the archive: %w", subject, err)
	}
	return bun, nil
}

// archiveImage appends one image to the layout, annotated with loc, and
// returns its descriptor. The source is local when given, else Docker (for
// an image without contentDigest), else the registry at loc.
func archiveImage(ctx context.Context, c *client, lp layout.Path, img *bundle.BaseImage, loc string, local v1.Image, docker DockerClient) (*v1.Descriptor, error) {
	ann := layout.WithAnnotations(map[string]string{RefNameAnnotation: loc})
	if local == nil && img.Digest == "" && docker != nil {
		var err error
		if local, err = daemonImage(ctx, docker, img.Image); err != nil {
			return nil, err
		}
	}
	if local != nil {
		if err := lp.AppendImage(local, ann); err != nil {
			return nil, fmt.Errorf("write to the layout: %w", err)
		}
		return descriptorOf(local)
	}
	ref, err := c.parse(loc)
	if err != nil {
		return nil, orchestrator.WrapError(orchestrator.EINVALID, err, "%q is not a valid image reference", loc)
	}
	got, err := remote.Get(ref, c.remote...)
	if err != nil {
		return nil, classify(err, "fetch "+loc, "", "")
	}
	if got.MediaType.IsIndex() {
		idx, err := got.ImageIndex()
		if err != nil {
			return nil, classify(err, "fetch "+loc, "", "")
		}
		if err := lp.AppendIndex(idx, ann); err != nil {
			return nil, classify(err, "fetch "+loc, "", "")
		}
		return &got.Descriptor, nil
	}
	image, err := got.Image()
	if err != nil {
		return nil, classify(err, "fetch "+loc, "", "")
	}
	if err := lp.AppendImage(image, ann); err != nil {
		return nil, classify(err, "fetch "+loc, "", "")
	}
	return &got.Descriptor, nil
}

func descriptorOf(img v1.Image) (*v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{Digest: d, MediaType: mt, Size: int64(len(raw))}, nil
}

// writeTarGz writes dir as a gzipped tar in Porter's order: ./, bundle.json,
// relocation-mapping.json, artifacts/, artifacts/layout/, oci-layout,
// index.json, then blobs/ walked in lexical order. Headers are normalised
// (mtime 0, 0:0, 0644/0755).
func writeTarGz(w io.Writer, dir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	add := func(rel string) error {
		full := filepath.Join(dir, filepath.FromSlash(rel))
		st, err := os.Stat(full)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: "./" + rel, Mode: 0o644, Format: tar.FormatPAX}
		if rel == "." {
			hdr.Name = "./"
		}
		if st.IsDir() {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
			if rel != "." {
				hdr.Name += "/"
			}
			return tw.WriteHeader(hdr)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	for _, rel := range []string{".", BundleFile, RelocationFile, "artifacts", LayoutDir, LayoutDir + "/oci-layout", LayoutDir + "/index.json"} {
		if err := add(rel); err != nil {
			return err
		}
	}
	blobs := filepath.Join(dir, filepath.FromSlash(LayoutDir), "blobs")
	err := filepath.WalkDir(blobs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel))
	})
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// Limits bound what an archive may hold; an archive past one is refused
// as soon as it is read that far, so that memory and disk stay bounded
// whatever the upload claims.
type Limits struct {
	// Compressed bounds the bytes read from the upload.
	Compressed int64
	// Unpacked bounds the bytes of all files together.
	Unpacked int64
	// Entries bounds the number of files and directories.
	Entries int
	// PathLen bounds an entry's name.
	PathLen int
	// Ratio bounds unpacked bytes per compressed byte once Unpacked
	// passes RatioAfter: the images in a CNAB archive are compressed
	// already, so a tar that inflates much more is a decompression bomb.
	Ratio      int64
	RatioAfter int64
}

// DefaultLimits are the limits of an archive import.
var DefaultLimits = Limits{
	Compressed: 16 << 30, Unpacked: 32 << 30, Entries: 100_000, PathLen: 1024,
	Ratio: 20, RatioAfter: 64 << 20,
}

// countingReader counts the bytes read and refuses past limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit > 0 && c.n > c.limit {
		return n, orchestrator.Errorf(orchestrator.EINVALID, "the archive is larger than %d bytes", c.limit)
	}
	return n, err
}

// extractTarGz unpacks a gzipped tar into dir within lim, accepting only
// regular files and directories with local names: no absolute paths, no
// "..", no links of any kind, no devices, fifos or sparse files.
func extractTarGz(r io.Reader, dir string, lim Limits) error {
	in := &countingReader{r: r, limit: lim.Compressed}
	gz, err := gzip.NewReader(in)
	if err != nil {
		if _, ok := errors.AsType[*orchestrator.Error](err); ok {
			return err
		}
		return orchestrator.WrapError(orchestrator.EINVALID, err, "not a gzipped tar")
	}
	tr := tar.NewReader(gz)
	var unpacked int64
	for entries := 1; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if _, ok := errors.AsType[*orchestrator.Error](err); ok {
				return err
			}
			return orchestrator.WrapError(orchestrator.EINVALID, err, "read the tar")
		}
		if lim.Entries > 0 && entries > lim.Entries {
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds more than %d entries", lim.Entries)
		}
		if lim.PathLen > 0 && len(hdr.Name) > lim.PathLen {
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds a name longer than %d bytes", lim.PathLen)
		}
		rel := path.Clean(hdr.Name)
		if rel == "." || rel == "/" {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds a path outside it: %q", hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if _, sparse := hdr.PAXRecords["GNU.sparse.map"]; sparse || hdr.PAXRecords["GNU.sparse.major"] != "" {
				return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds %q as a sparse file", hdr.Name)
			}
			if lim.Unpacked > 0 && unpacked+hdr.Size > lim.Unpacked {
				return orchestrator.Errorf(orchestrator.EINVALID, "the archive unpacks to more than %d bytes", lim.Unpacked)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return orchestrator.WrapError(orchestrator.EINVALID, err, "the archive holds %q twice or cannot be unpacked", hdr.Name)
			}
			err = copyBounded(f, tr, in, &unpacked, lim)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				if _, ok := errors.AsType[*orchestrator.Error](err); ok {
					return err
				}
				return fmt.Errorf("unpack %s: %w", hdr.Name, err)
			}
		case tar.TypeGNUSparse:
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds %q as a sparse file", hdr.Name)
		case tar.TypeSymlink, tar.TypeLink:
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds %q, a link: links are refused", hdr.Name)
		default:
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive holds %q, which is neither a file nor a directory", hdr.Name)
		}
	}
}

// copyBounded copies one file, checking the unpacked total and the
// inflation ratio every 1 MiB.
func copyBounded(dst io.Writer, src io.Reader, in *countingReader, unpacked *int64, lim Limits) error {
	buf := make([]byte, 1<<20)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			*unpacked += int64(n)
			if lim.Unpacked > 0 && *unpacked > lim.Unpacked {
				return orchestrator.Errorf(orchestrator.EINVALID, "the archive unpacks to more than %d bytes", lim.Unpacked)
			}
			if lim.Ratio > 0 && *unpacked > lim.RatioAfter && *unpacked > lim.Ratio*max(in.n, 1) {
				return orchestrator.Errorf(orchestrator.EINVALID, "the archive inflates more than %d times (%d bytes from %d): refused as a decompression bomb", lim.Ratio, *unpacked, in.n)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
