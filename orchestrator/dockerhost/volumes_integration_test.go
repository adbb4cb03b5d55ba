//go:build integration

package dockerhost_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// entry is what a test compares of one tar entry.
type entry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Link     string
	Sum      string
}

func entries(t *testing.T, r io.Reader) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		e := entry{Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			s := sha256.New()
			_, err := io.Copy(s, tr)
			require.NoError(t, err)
			e.Sum = fmt.Sprintf("%x", s.Sum(nil))
		}
		out[h.Name] = e
	}
}

func archive(t *testing.T, files map[string]*tar.Header, data map[string][]byte, order []string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range order {
		h := files[n]
		h.Name = n
		h.Size = int64(len(data[n]))
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(data[n])
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

// TestVolumeExportImport: a volume's files go out as a tar through a
// never-started helper container, and into another volume (a clone) with
// owners, modes, links and bytes as they were; an import replaces what a
// volume held; a volume a container uses is not replaced.
func TestVolumeExportImport(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	ctx := t.Context()
	labels := func(app string) map[string]string {
		return map[string]string{naming.LabelApp: app, orchestrator.ComposeVolumeLabel: "files"}
	}
	src := orchestrator.Volume{Name: "stackhub-itest-vol-src", Key: "files", Driver: "local", Labels: labels("itest-vol")}
	dst := orchestrator.Volume{Name: "stackhub-itest-vol-dst", Key: "files", Driver: "local", Labels: labels("itest-vol2")}
	t.Cleanup(func() {
		for _, v := range []string{src.Name, dst.Name} {
			_, _ = c.VolumeRemove(context.WithoutCancel(ctx), v, client.VolumeRemoveOptions{Force: true})
		}
	})
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	files := map[string]*tar.Header{
		"files/":          {Typeflag: tar.TypeDir, Mode: 0o755},
		"files/a.txt":     {Typeflag: tar.TypeReg, Mode: 0o600, Uid: 999, Gid: 999},
		"files/sub/":      {Typeflag: tar.TypeDir, Mode: 0o700, Uid: 33, Gid: 33},
		"files/sub/b.bin": {Typeflag: tar.TypeReg, Mode: 0o644, Uid: 33, Gid: 33},
		"files/link":      {Typeflag: tar.TypeSymlink, Linkname: "a.txt", Mode: 0o777},
	}
	data := map[string][]byte{"files/a.txt": []byte("secret data\n"), "files/sub/b.bin": big}
	order := []string{"files/", "files/a.txt", "files/sub/", "files/sub/b.bin", "files/link"}
	in := archive(t, files, data, order)
	require.NoError(t, h.ImportVolume(ctx, src, bytes.NewReader(in)))

	vols, err := h.AppVolumes(ctx, "itest-vol")
	require.NoError(t, err)
	require.Len(t, vols, 1)
	assert.Equal(t, "files", vols[0].Key)
	assert.Equal(t, src.Name, vols[0].Name)

	export := func(v orchestrator.Volume) []byte {
		var out []byte
		require.NoError(t, h.ExportVolumes(ctx, []orchestrator.Volume{v}, func(x orchestrator.VolumeExport) error {
			r, err := x.Open(v)
			if err != nil {
				return err
			}
			defer r.Close()
			out, err = io.ReadAll(r)
			return err
		}))
		return out
	}
	want := entries(t, bytes.NewReader(in))
	got := entries(t, bytes.NewReader(export(vols[0])))
	for name, e := range want {
		g, ok := got[name]
		if !assert.True(t, ok, "%s is exported", name) {
			continue
		}
		if e.Type == tar.TypeSymlink {
			e.Mode = g.Mode // a link's own mode means nothing on Linux
		}
		assert.Equal(t, e, g, name)
	}
	assert.Len(t, got, len(want), "nothing more: %v", got)

	// The host's view of the volume: every entry, the metadata Docker's
	// archive has; and the files asked for alone, in one archive.
	require.NotEmpty(t, vols[0].Mountpoint)
	require.NoError(t, h.ExportVolumes(ctx, vols, func(x orchestrator.VolumeExport) error {
		walked := map[string]orchestrator.VolumeEntry{}
		require.NoError(t, x.Walk(vols[0], func(e orchestrator.VolumeEntry) error {
			walked[e.Path] = e
			return nil
		}))
		assert.Len(t, walked, len(want))
		for name, e := range want {
			rel := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "files"), "/"), "/")
			w, ok := walked[rel]
			if !assert.True(t, ok, "%s is walked", rel) {
				continue
			}
			assert.Equal(t, e.UID, int(w.UID), rel)
			assert.Equal(t, e.GID, int(w.GID), rel)
			if e.Type != tar.TypeSymlink {
				assert.Equal(t, e.Mode, int64(w.Mode.Perm()), rel)
			}
			if e.Type == tar.TypeReg {
				assert.Equal(t, int64(len(data[name])), w.Size, rel)
			}
		}
		assert.Equal(t, "a.txt", walked["link"].Link)
		rd, err := x.OpenFile(vols[0], "sub/b.bin")
		require.NoError(t, err)
		got, err := io.ReadAll(rd)
		rd.Close()
		require.NoError(t, err)
		assert.Equal(t, data["files/sub/b.bin"], got)
		// Never through a link, never out of the volume.
		for _, bad := range []string{"link", "../../../../etc/passwd", "sub/../../x"} {
			_, err = x.OpenFile(vols[0], bad)
			assert.Error(t, err, bad)
		}
		return nil
	}))
	// A volume whose files this process cannot see is read whole.
	blind := vols[0]
	blind.Mountpoint = t.TempDir()
	require.NoError(t, h.ExportVolumes(ctx, []orchestrator.Volume{blind}, func(x orchestrator.VolumeExport) error {
		assert.ErrorIs(t, x.Walk(blind, func(orchestrator.VolumeEntry) error { return nil }), orchestrator.ErrNoHostView,
			"another directory is not taken for the volume")
		return nil
	}))

	// The clone: another volume of another app, the same files.
	require.NoError(t, h.ImportVolume(ctx, dst, bytes.NewReader(export(vols[0]))))
	assert.Equal(t, got, entries(t, bytes.NewReader(export(dst))))
	other, err := h.AppVolumes(ctx, "itest-vol2")
	require.NoError(t, err)
	require.Len(t, other, 1)
	assert.Equal(t, labels("itest-vol2"), other[0].Labels, "the labels it was given, so compose takes it as its own")

	// An import replaces: the old files are gone.
	only := archive(t, map[string]*tar.Header{"files/": {Typeflag: tar.TypeDir, Mode: 0o755}, "files/new.txt": {Typeflag: tar.TypeReg, Mode: 0o644}},
		map[string][]byte{"files/new.txt": []byte("new")}, []string{"files/", "files/new.txt"})
	require.NoError(t, h.ImportVolume(ctx, dst, bytes.NewReader(only)))
	names := []string{}
	for n := range entries(t, bytes.NewReader(export(dst))) {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{"files/", "files/new.txt"}, names)

	// A volume a container uses is left alone.
	user, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: dockerhost.HelperImage},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: dst.Name, Target: "/data"}}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.ContainerRemove(context.WithoutCancel(ctx), user.ID, client.ContainerRemoveOptions{Force: true})
	})
	err = h.ImportVolume(ctx, dst, bytes.NewReader(in))
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "%v", err)
	names = names[:0]
	for n := range entries(t, bytes.NewReader(export(dst))) {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{"files/", "files/new.txt"}, names, "untouched")

	// No helper container is left behind.
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("ancestor", dockerhost.HelperImage)})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1, "only the test's own user of the volume")
}
