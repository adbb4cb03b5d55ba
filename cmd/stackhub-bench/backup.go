package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/backup"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// BackupResult is the backup section: a volume of mixed data backed up
// into a kopia repository on the benchmark's disk, against `tar | zstd -3`
// of the volume's directory to the same disk.
type BackupResult struct {
	DataBytes int64 `json:"dataBytes"`
	Files     int   `json:"files"`
	// The first backup and the baseline: ms, and bytes written.
	FirstMs       Num   `json:"firstMs"`
	TarZstdMs     Num   `json:"tarZstdMs"`
	FirstStored   int64 `json:"firstStored"`
	TarZstdStored int64 `json:"tarZstdStored"`
	// DockerZstdMs is Docker's archive of the volume through zstd -3: the
	// path a backup takes when it does not see the volume's files.
	DockerZstdMs Num `json:"dockerZstdMs"`
	// SpeedRatio is the backup's speed over the baseline's (time ratio
	// inverted: ≥ 0.8 is the target).
	SpeedRatio Num `json:"speedRatio"`
	// After 1 % of the data changed: the second backup.
	SecondMs    Num   `json:"secondMs"`
	SecondAdded int64 `json:"secondAdded"`
	SecondShare Num   `json:"secondShare"` // of the first's time
	AddedShare  Num   `json:"addedShare"`  // of the first's stored bytes
	// Restore into a new volume, against `zstd -d | tar x` (Docker's
	// archive API) into another.
	RestoreMs        Num `json:"restoreMs"`
	UnzstdMs         Num `json:"unzstdMs"`
	RestoreSpeedRate Num `json:"restoreSpeedRatio"`
	// PeakRSS is the benchmark process's highest resident memory while
	// the first backup ran (the backup runs in it, as in the server), and
	// BaseRSS before.
	PeakRSSMiB Num `json:"peakRssMiB"`
	BaseRSSMiB Num `json:"baseRssMiB"`
}

// mixedFile is one file of the benchmark volume: its size, its kind of
// content, and the seed of its bytes.
type mixedFile struct {
	name string
	size int
	kind int // 0 random, 1 text, 2 zero pages with some data
	seed uint64
}

// mixedFiles lays out about total bytes: many small files and some large
// ones, a third each random (incompressible), text-like and sparse.
func mixedFiles(total int64) []mixedFile {
	r := rand.New(rand.NewPCG(1, 2))
	var out []mixedFile
	var sum int64
	for i := 0; sum < total; i++ {
		size := 4<<10 + r.IntN(60<<10)
		if i%10 == 0 {
			size = 1<<20 + r.IntN(15<<20)
		}
		size = int(min(int64(size), total-sum))
		out = append(out, mixedFile{name: fmt.Sprintf("d%02d/f%05d", i%37, i), size: size, kind: i % 3, seed: uint64(i)})
		sum += int64(size)
	}
	return out
}

var words = strings.Fields("the quick brown fox jumps over a lazy dog while stackhub keeps every byte of the app safe in its repository log line error warning info")

// content writes f's bytes to w.
func (f mixedFile) content(w io.Writer) error {
	switch f.kind {
	case 0:
		src := rand.NewChaCha8([32]byte{byte(f.seed), byte(f.seed >> 8), byte(f.seed >> 16), byte(f.seed >> 24), 1})
		_, err := io.CopyN(w, src, int64(f.size))
		return err
	case 1:
		r := rand.New(rand.NewPCG(f.seed, 7))
		var b bytes.Buffer
		for b.Len() < f.size {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(12) == 0 {
				b.WriteString(" " + strconv.Itoa(r.IntN(100000)) + "\n")
			} else {
				b.WriteByte(' ')
			}
		}
		_, err := w.Write(b.Bytes()[:f.size])
		return err
	default:
		page := make([]byte, 4096)
		r := rand.New(rand.NewPCG(f.seed, 9))
		for n := 0; n < f.size; n += len(page) {
			clear(page)
			if r.IntN(4) == 0 {
				for i := range 256 {
					page[i] = byte(r.Uint32())
				}
			}
			if _, err := w.Write(page[:min(len(page), f.size-n)]); err != nil {
				return err
			}
		}
		return nil
	}
}

// volumeArchive streams files as the tar archive of volume key data.
func volumeArchive(files []mixedFile) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		dirs := map[string]bool{}
		err := tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
		for _, f := range files {
			if err != nil {
				break
			}
			dir := "data/" + filepath.Dir(f.name) + "/"
			if !dirs[dir] {
				dirs[dir] = true
				if err = tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, Uid: 999}); err != nil {
					break
				}
			}
			if err = tw.WriteHeader(&tar.Header{Name: "data/" + f.name, Typeflag: tar.TypeReg, Mode: 0o640, Uid: 999, Size: int64(f.size),
				ModTime: time.Unix(1_700_000_000+int64(f.seed), 0)}); err != nil {
				break
			}
			err = f.content(tw)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// rssMiB reads the process's resident memory now.
func rssMiB() Num { return procStatusMiB("VmRSS:") }

// peakRSSMiB reads the process's highest resident memory so far.
func peakRSSMiB() Num { return procStatusMiB("VmHWM:") }

// procStatusMiB reads a kB field of /proc/self/status, in MiB.
func procStatusMiB(field string) Num {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return missing
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return Num(float64(kb) / 1024)
		}
	}
	return missing
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// benchBackup measures backups against `tar | zstd -3` (issue 19).
func (b *bench) benchBackup(ctx context.Context, res *Results) error {
	if _, err := exec.LookPath("zstd"); err != nil {
		return errors.New("zstd is not installed (apt-get install zstd): the baseline needs it")
	}
	h := dockerhost.New(b.docker)
	total := int64(b.o.BackupMiB) << 20
	files := mixedFiles(total)
	app := b.o.Prefix + "-bk"
	vol := orchestrator.Volume{Name: app + "_data", Key: "data", Driver: "local",
		Labels: map[string]string{naming.LabelApp: app, orchestrator.ComposeVolumeLabel: "data"}}
	restored := vol
	restored.Name, restored.Labels = app+"_restored", map[string]string{naming.LabelApp: app + "r", orchestrator.ComposeVolumeLabel: "data"}
	baseline := vol
	baseline.Name, baseline.Labels = app+"_unzstd", map[string]string{naming.LabelApp: app + "u", orchestrator.ComposeVolumeLabel: "data"}
	defer func() {
		for _, v := range []string{vol.Name, restored.Name, baseline.Name} {
			_, _ = b.docker.VolumeRemove(context.WithoutCancel(ctx), v, client.VolumeRemoveOptions{Force: true})
		}
	}()
	b.logf("backup: writing %d MiB in %d files into volume %s", b.o.BackupMiB, len(files), vol.Name)
	if err := h.ImportVolume(ctx, vol, volumeArchive(files)); err != nil {
		return err
	}
	// As the server finds it (AppVolumes): with its mountpoint, so that a
	// backup walks the files' metadata.
	insp, err := b.docker.VolumeInspect(ctx, vol.Name, client.VolumeInspectOptions{})
	if err != nil {
		return err
	}
	vol.Mountpoint = insp.Volume.Mountpoint
	dir, err := os.MkdirTemp(b.tmp, "backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := BackupResult{DataBytes: total, Files: len(files)}
	export := func(fn func(rd io.Reader) error) error {
		return h.ExportVolumes(ctx, []orchestrator.Volume{vol}, func(x orchestrator.VolumeExport) error {
			rd, err := x.Open(vol)
			if err != nil {
				return err
			}
			defer rd.Close()
			return fn(rd)
		})
	}

	// The baseline: tar of the volume's directory on this host, zstd -3,
	// to a file (a backup reads the files there too).
	hostZst := filepath.Join(dir, "host.tar.zst")
	start := time.Now()
	if err := tarZstd(ctx, vol.Mountpoint, hostZst); err != nil {
		return fmt.Errorf("tar | zstd: %w", err)
	}
	r.TarZstdMs = ms(time.Since(start))
	info, err := os.Stat(hostZst)
	if err != nil {
		return err
	}
	r.TarZstdStored = info.Size()
	if err := os.Remove(hostZst); err != nil {
		return err
	}

	// Docker's archive of the volume, zstd -3, to a file: what a backup
	// reads when StackHub does not see the volume's files, and what the
	// restore's baseline unpacks.
	zst := filepath.Join(dir, "data.tar.zst")
	start = time.Now()
	err = export(func(rd io.Reader) error {
		cmd := exec.CommandContext(ctx, "zstd", "-3", "-q", "-f", "-o", zst)
		cmd.Stdin = rd
		return cmd.Run()
	})
	if err != nil {
		return fmt.Errorf("Docker's archive | zstd: %w", err)
	}
	r.DockerZstdMs = ms(time.Since(start))

	// The first backup, its memory sampled.
	opts := backup.Options{ID: "bench", Location: backup.Location{Kind: "filesystem", Path: filepath.Join(dir, "repo")},
		Password: "benchmark password", StateDir: filepath.Join(dir, "state")}
	if err := backup.Create(ctx, opts); err != nil {
		return err
	}
	var repo *backup.Repository
	save := func() (time.Duration, error) {
		start := time.Now()
		err := h.ExportVolumes(ctx, []orchestrator.Volume{vol}, func(x orchestrator.VolumeExport) error {
			_, err := repo.Save(ctx, orchestrator.BackupSource{Installation: app, Record: []byte(`{}`), Volumes: []orchestrator.Volume{vol}, Export: x}, nil)
			return err
		})
		return time.Since(start), err
	}
	// The first backup runs in a process of its own (as a server's would
	// in a process of its own), so that its memory is its own.
	child, err := b.backupChild(ctx, opts, vol, app)
	if err != nil {
		return fmt.Errorf("first backup: %w", err)
	}
	r.FirstMs, r.PeakRSSMiB, r.BaseRSSMiB = child.Ms, child.PeakRSSMiB, child.BaseRSSMiB
	r.FirstStored = dirBytes(opts.Location.Path)
	r.SpeedRatio = ratio(r.TarZstdMs, r.FirstMs)

	// 1 % of the data changed (new bytes in whole files, same sizes,
	// spread over the volume), then a second backup.
	changed := make([]mixedFile, len(files))
	copy(changed, files)
	budget := total / 100
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(len(changed)) {
		if int64(changed[i].size) <= budget {
			changed[i].seed += 1_000_000
			budget -= int64(changed[i].size)
		}
	}
	if err := h.ImportVolume(ctx, vol, volumeArchive(changed)); err != nil {
		return err
	}
	if repo, err = backup.Open(ctx, opts); err != nil {
		return err
	}
	defer repo.Close(context.WithoutCancel(ctx))
	d, err := save()
	if err != nil {
		return fmt.Errorf("second backup: %w", err)
	}
	r.SecondMs = ms(d)
	r.SecondAdded = dirBytes(opts.Location.Path) - r.FirstStored
	r.SecondShare = ratio(r.SecondMs, r.FirstMs)
	r.AddedShare = Num(float64(r.SecondAdded) / float64(r.FirstStored))

	// Restore the latest into a new volume; the baseline unpacks its file
	// into another.
	list, err := repo.Backups(ctx, app)
	if err != nil || len(list) == 0 {
		return fmt.Errorf("list backups: %v", err)
	}
	start = time.Now()
	rd, err := repo.OpenVolume(ctx, list[0].ID, "data")
	if err != nil {
		return err
	}
	err = h.ImportVolume(ctx, restored, rd)
	rd.Close()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.RestoreMs = ms(time.Since(start))
	start = time.Now()
	cmd := exec.CommandContext(ctx, "zstd", "-d", "-q", "-c", zst)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	err = h.ImportVolume(ctx, baseline, out)
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("zstd -d | tar x: %w", err)
	}
	r.UnzstdMs = ms(time.Since(start))
	r.RestoreSpeedRate = ratio(r.UnzstdMs, r.RestoreMs)
	res.Backup = r
	b.logf("backup: first %s ms (tar|zstd %s ms), second %s ms adding %d bytes, restore %s ms (zstd -d %s ms), peak RSS %s MiB",
		f0(r.FirstMs), f0(r.TarZstdMs), f0(r.SecondMs), r.SecondAdded, f0(r.RestoreMs), f0(r.UnzstdMs), f0(r.PeakRSSMiB))
	return nil
}

// childResult is what backup-child prints.
type childResult struct {
	Ms         Num `json:"ms"`
	PeakRSSMiB Num `json:"peakRssMiB"`
	BaseRSSMiB Num `json:"baseRssMiB"`
}

// backupChild runs one backup of vol in `stackhub-bench backup-child`.
func (b *bench) backupChild(ctx context.Context, opts backup.Options, vol orchestrator.Volume, app string) (childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	// The child is this very executable (the benchmark, or its test
	// binary), told by the environment to run one backup and nothing else.
	cmd := exec.CommandContext(ctx, self, "-repo", opts.Location.Path, "-state", opts.StateDir, "-volume", vol.Name, "-app", app)
	cmd.Env = append(os.Environ(), childEnv+"=backup", "STACKHUB_BENCH_PASSWORD="+opts.Password)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return childResult{}, fmt.Errorf("backup-child said %q: %w", out.String(), err)
	}
	return res, nil
}

// childEnv, set to "backup", makes the benchmark's executable (or its
// test binary, through TestMain) the child of backupChild.
const childEnv = "STACKHUB_BENCH_CHILD"

// backupChildMain runs the backup child when the environment asks for it,
// with os.Args; child says whether it did.
func backupChildMain() (code int, child bool) {
	if os.Getenv(childEnv) != "backup" {
		return 0, false
	}
	return runBackupChild(context.Background(), os.Args[1:], os.Stdout, os.Stderr), true
}

// tarZstd writes tar of dir through zstd -3 into file out: two processes
// and a pipe, no shell.
func tarZstd(ctx context.Context, dir, out string) error {
	tarCmd := exec.CommandContext(ctx, "tar", "-C", dir, "-cf", "-", ".")
	zstdCmd := exec.CommandContext(ctx, "zstd", "-3", "-q", "-f", "-o", out)
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	zstdCmd.Stdin = pipe
	if err := tarCmd.Start(); err != nil {
		return err
	}
	if err := zstdCmd.Run(); err != nil {
		_ = tarCmd.Wait()
		return err
	}
	return tarCmd.Wait()
}

// runBackupChild is the backup child: one backup of a volume
// into an existing repository, then its time and its peak resident memory
// (VmHWM) as JSON.
func runBackupChild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup-child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repoDir := fs.String("repo", "", "the repository's directory")
	state := fs.String("state", "", "the repository's state directory")
	volName := fs.String("volume", "", "the volume")
	app := fs.String("app", "", "the app's name")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "backup-child:", err)
		return 1
	}
	base := rssMiB()
	// A CPU profile of the backup, for who tunes it.
	if p := os.Getenv("STACKHUB_BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	h := dockerhost.New(c)
	opts := backup.Options{ID: "bench", Location: backup.Location{Kind: "filesystem", Path: *repoDir}, Password: os.Getenv("STACKHUB_BENCH_PASSWORD"), StateDir: *state}
	start := time.Now()
	repo, err := backup.Open(ctx, opts)
	if err != nil {
		return fail(err)
	}
	defer repo.Close(context.WithoutCancel(ctx))
	insp, err := c.VolumeInspect(ctx, *volName, client.VolumeInspectOptions{})
	if err != nil {
		return fail(err)
	}
	vol := orchestrator.Volume{Name: *volName, Key: "data", Mountpoint: insp.Volume.Mountpoint}
	err = h.ExportVolumes(ctx, []orchestrator.Volume{vol}, func(x orchestrator.VolumeExport) error {
		_, err := repo.Save(ctx, orchestrator.BackupSource{Installation: *app, Record: []byte(`{}`), Volumes: []orchestrator.Volume{vol}, Export: x}, nil)
		return err
	})
	if err != nil {
		return fail(err)
	}
	res := childResult{Ms: ms(time.Since(start)), PeakRSSMiB: peakRSSMiB(), BaseRSSMiB: base}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return fail(err)
	}
	return 0
}
