package build

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Paths inside the invocation image and file names in a bundle directory.
const (
	// ManifestFile is the manifest's name in a bundle directory and in /cnab/app.
	ManifestFile = "porter.yaml"
	// GeneratedDir is the directory of a bundle where Build writes bundle.json.
	GeneratedDir = ".cnab"
	// BundleRuntime is the bundle runtime's file name in Options.RuntimesDir;
	// a mixin's runtime there is named <mixin>-runtime.
	BundleRuntime = "bundle-runtime"

	// ImageUser is the numeric user the invocation image runs as (cnab-go
	// chowns the files it injects to this uid).
	ImageUser = "65532:0"

	runPath      = "cnab/app/run"
	appDir       = "cnab/app"
	dockerIgnore = ".dockerignore"
)

// imageConfig is the invocation image's config (porter-compat.md §4.2).
func imageConfig() *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config: v1.Config{
			User:       ImageUser,
			WorkingDir: "/" + appDir,
			Cmd:        []string{"/" + runPath},
			Env:        []string{"PATH=/cnab/app:/usr/bin:/bin", "HOME=/home/nonroot"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

// layerSpec is one layer of the image and the history line describing it.
type layerSpec struct {
	what    string
	entries []entry
}

// assemble builds the invocation image FROM scratch: a base layer (users,
// home, tmp and the /cnab tree), the runtimes, the bundle files and
// bundle.json. Nothing in it depends on the clock or the host's file
// owners and times.
func assemble(ctx context.Context, m *manifest.Manifest, opts Options, bundleJSON []byte) (v1.Image, error) {
	runtimes, err := runtimeEntries(m, opts.RuntimesDir)
	if err != nil {
		return nil, err
	}
	files, err := bundleEntries(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	files = append(files, fileEntry(path.Join(appDir, ManifestFile), 0o664, rootUID, rootGID, m.Raw))
	specs := []layerSpec{
		{"base: users, /home/nonroot, /tmp, /cnab", baseEntries()},
		{"runtimes: /cnab/app/run and the mixin runtimes", runtimes},
		{"bundle files: /cnab/app", files},
		{"bundle.json: /cnab/bundle.json", []entry{fileEntry("cnab/bundle.json", 0o664, rootUID, rootGID, bundleJSON)}},
	}
	img, err := mutate.ConfigFile(empty.Image, imageConfig())
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(specs))
	for _, s := range specs {
		l, err := newLayer(s.entries)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", s.what, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:   l,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "stackhub build: " + s.what},
		})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	return img, nil
}

// baseEntries are the directories and user database every image has.
// Everything under /cnab belongs to root with group 0 and g=u, as in
// Porter's images; the two outputs directories belong to the bundle user.
func baseEntries() []entry {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:0:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	return []entry{
		dirEntry("etc", 0o755, rootUID, rootGID),
		fileEntry("etc/passwd", 0o644, rootUID, rootGID, []byte(passwd)),
		fileEntry("etc/group", 0o644, rootUID, rootGID, []byte(group)),
		dirEntry("root", 0o700, rootUID, rootGID),
		dirEntry("home", 0o755, rootUID, rootGID),
		dirEntry("home/nonroot", 0o755, nonrootUID, rootGID),
		dirEntry("tmp", 0o1777, rootUID, rootGID),
		dirEntry("cnab", 0o775, rootUID, rootGID),
		dirEntry(appDir, 0o775, rootUID, rootGID),
		dirEntry("cnab/app/outputs", 0o775, nonrootUID, rootGID),
		dirEntry("cnab/app/porter", 0o775, rootUID, rootGID),
		dirEntry("cnab/app/porter/outputs", 0o775, nonrootUID, rootGID),
	}
}

// runtimeEntries reads the bundle runtime and one runtime per declared
// mixin from dir. Each must be a static linux/amd64 executable: the image
// has no dynamic loader.
func runtimeEntries(m *manifest.Manifest, dir string) ([]entry, error) {
	if dir == "" {
		return nil, errors.New("the runtimes directory is not set")
	}
	if err := checkMixins(m); err != nil {
		return nil, err
	}
	run, err := readRuntime(dir, BundleRuntime)
	if err != nil {
		return nil, err
	}
	entries := []entry{
		fileEntry(runPath, 0o755, rootUID, rootGID, run),
		dirEntry("cnab/app/mixins", 0o775, rootUID, rootGID),
	}
	mixins := slices.Clone(m.Mixins)
	slices.Sort(mixins)
	for _, mx := range slices.Compact(mixins) {
		bin, err := readRuntime(dir, mx+"-runtime")
		if err != nil {
			return nil, fmt.Errorf("mixin %s: %w", mx, err)
		}
		mixinDir := path.Join("cnab/app/mixins", mx)
		entries = append(entries,
			dirEntry(mixinDir, 0o775, rootUID, rootGID),
			dirEntry(path.Join(mixinDir, "runtimes"), 0o775, rootUID, rootGID),
			fileEntry(path.Join(mixinDir, "runtimes", mx+"-runtime"), 0o755, rootUID, rootGID, bin))
	}
	return entries, nil
}

func readRuntime(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read runtime: %w", err)
	}
	if err := checkStaticLinuxAMD64(data); err != nil {
		return nil, fmt.Errorf("runtime %s: %w", p, err)
	}
	return data, nil
}

// checkStaticLinuxAMD64 refuses anything the FROM-scratch image cannot
// execute: non-ELF files, other architectures, and dynamically linked
// programs (they need /lib64/ld-linux-x86-64.so.2, which the image lacks,
// and fail with a puzzling "no such file or directory").
func checkStaticLinuxAMD64(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a linux executable: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("built for %s/%s, want linux/amd64 (GOOS=linux GOARCH=amd64)", f.Class, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; the image has no libc: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// reservedAppPaths are paths under /cnab/app that the builder or the runtime
// own; a bundle file there would be shadowed or would shadow them.
var reservedAppPaths = []string{"run", "mixins", "outputs", "porter/outputs"}

// bundleEntries returns the files of the bundle directory under /cnab/app,
// as Porter's `COPY . /cnab/app` does: porter.yaml, .cnab/ and whatever
// .dockerignore excludes are left out. Files and directories belong to
// root with group 0 and g=u modes (0664 or 0775 for executables, 0775 for
// directories); symlinks are kept as symlinks. Host owners, times and
// umask do not matter.
func bundleEntries(ctx context.Context, dir string) ([]entry, error) {
	ignore, err := readDockerignore(dir)
	if err != nil {
		return nil, err
	}
	var entries []entry
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile || rel == GeneratedDir {
			return skip(d)
		}
		if ignore != nil {
			ignored, err := ignore.MatchesOrParentMatches(rel)
			if err != nil {
				return fmt.Errorf(".dockerignore: %w", err)
			}
			if ignored {
				if d.IsDir() && !ignore.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		for _, r := range reservedAppPaths {
			if rel == r || strings.HasPrefix(rel, r+"/") {
				return fmt.Errorf("bundle file %s: /cnab/app/%s is reserved for the bundle runtime", rel, r)
			}
		}
		name := path.Join(appDir, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode().IsDir():
			entries = append(entries, dirEntry(name, 0o775, rootUID, rootGID))
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := int64(0o664)
			if info.Mode().Perm()&0o111 != 0 {
				mode = 0o775
			}
			entries = append(entries, fileEntry(name, mode, rootUID, rootGID, data))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, symlinkEntry(name, filepath.ToSlash(target), rootUID, rootGID))
		default:
			return fmt.Errorf("bundle file %s: %s files cannot go into an image", rel, info.Mode().Type())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bundle files in %s: %w", dir, err)
	}
	return entries, nil
}

func skip(d fs.DirEntry) error {
	if d.IsDir() {
		return fs.SkipDir
	}
	return nil
}

// readDockerignore returns the matcher of dir/.dockerignore, or nil when
// there is none.
func readDockerignore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, dockerIgnore))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerIgnore, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dockerIgnore, err)
	}
	return pm, nil
}
