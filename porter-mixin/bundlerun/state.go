package bundlerun

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// stateParam is Porter's internal parameter and output carrying the state.
const stateParam = "porter-state"

// statePrefix is the directory of state entries in the porter-state archive.
const statePrefix = "porter-state/"

type fileParam struct {
	name, file string
}

// fileParameters lists the parameters applying to the action whose value
// the driver writes base64-encoded to a file: those whose definition is
// {type: string, contentEncoding: base64} with a destination path
// (porter-state included), from bundle.json, or from porter.yaml's file
// parameters when there is no bundle.json.
func (r *runner) fileParameters() ([]fileParam, error) {
	var params []fileParam
	if r.bun == nil {
		for _, p := range r.m.Parameters {
			if p.Type() == "file" && p.Path != "" && p.AppliesTo(r.action) {
				params = append(params, fileParam{name: p.Name, file: r.file(p.Path)})
			}
		}
		return append(params, fileParam{name: stateParam, file: r.o.StateFile}), nil
	}
	names := make([]string, 0, len(r.bun.Parameters))
	for name := range r.bun.Parameters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := r.bun.Parameters[name]
		def := r.bun.Definitions[p.Definition]
		if !p.appliesTo(r.action) || def.Type != "string" || def.ContentEncoding != "base64" {
			continue
		}
		switch {
		case name == stateParam:
			params = append(params, fileParam{name: name, file: r.o.StateFile})
		case p.Destination.Path == "":
			return nil, fmt.Errorf("parameter %s: a file parameter has no destination path", name)
		default:
			params = append(params, fileParam{name: name, file: r.file(p.Destination.Path)})
		}
	}
	return params, nil
}

// decodeFileParameters decodes each file parameter in place: an absent file
// is skipped, one holding exactly null (the driver's empty value) deleted.
func (r *runner) decodeFileParameters() error {
	params, err := r.fileParameters()
	if err != nil {
		return err
	}
	for _, p := range params {
		data, err := os.ReadFile(p.file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("parameter %s: %w", p.name, err)
		}
		if string(data) == "null" {
			if err := os.Remove(p.file); err != nil {
				return fmt.Errorf("parameter %s: remove null value: %w", p.name, err)
			}
			continue
		}
		if p.name == stateParam && isGzip(data) {
			continue // already decoded
		}
		decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil {
			return fmt.Errorf("parameter %s: decode base64 value of %s: %w", p.name, p.file, err)
		}
		if err := os.WriteFile(p.file, decoded, 0o664); err != nil {
			return fmt.Errorf("parameter %s: write decoded value: %w", p.name, err)
		}
	}
	return nil
}

func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

// unpackState writes each porter-state/<name> entry of the previous state
// to the path of state variable <name>, creating parent directories.
// Entries of undeclared variables are skipped.
func (r *runner) unpackState() error {
	if len(r.m.State) == 0 {
		return nil
	}
	data, err := os.ReadFile(r.o.StateFile)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(data) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpack state: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("unpack state %s: %w", r.o.StateFile, err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack state %s: %w", r.o.StateFile, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(hdr.Name, statePrefix)
		sv, ok := r.stateVar(name)
		if !ok {
			fmt.Fprintf(r.o.Out, "state %s is not declared by this bundle; dropped\n", name)
			continue
		}
		if err := writeFile(r.file(sv.Path), tr, os.FileMode(hdr.Mode)&0o777); err != nil {
			return fmt.Errorf("unpack state %s: %w", name, err)
		}
	}
}

func (r *runner) stateVar(name string) (manifest.StateVar, bool) {
	for _, s := range r.m.State {
		if s.Name == name {
			return s, true
		}
	}
	return manifest.StateVar{}, false
}

func writeFile(path string, src io.Reader, mode os.FileMode) error {
	if mode == 0 {
		mode = 0o664
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o775); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// packState writes the porter-state output: a gzip tar of the existing
// state files as porter-state/<name>, empty when there are none. Every
// file it can read is packed even when another fails.
func (r *runner) packState() error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var errs []error
	for _, s := range r.m.State {
		if err := packStateFile(tw, s.Name, r.file(s.Path)); err != nil {
			errs = append(errs, fmt.Errorf("pack state %s: %w", s.Name, err))
		}
	}
	if err := tw.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := zw.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := os.WriteFile(filepath.Join(r.o.OutputsDir, stateParam), buf.Bytes(), 0o664); err != nil {
		errs = append(errs, fmt.Errorf("write porter-state: %w", err))
	}
	return errors.Join(errs...)
}

func packStateFile(tw *tar.Writer, name, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = statePrefix + name
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// preserveState writes the previous state, as received, to the porter-state
// output, so that a run which could not use it does not lose it; with no
// previous state it writes an empty archive.
func preserveState(o Options) error {
	data, err := os.ReadFile(o.StateFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keep previous state: %w", err)
	}
	switch {
	case len(data) == 0 || string(data) == "null":
		data = emptyStateArchive()
	case !isGzip(data):
		if decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil {
			data = decoded
		}
	}
	if err := os.MkdirAll(o.OutputsDir, 0o775); err != nil {
		return fmt.Errorf("keep previous state: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.OutputsDir, stateParam), data, 0o664); err != nil {
		return fmt.Errorf("keep previous state: %w", err)
	}
	return nil
}

// emptyStateArchive is the porter-state of a bundle without state: an
// empty gzip tar.
func emptyStateArchive() []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	_ = tw.Close() // writing to memory cannot fail
	_ = zw.Close()
	return buf.Bytes()
}
