//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
)

// variant copies the demo bundle as bundle name, optionally running its
// web and db services from the bundle image alias web (image), and builds
// it. The built invocation image is not loaded into Docker.
// variant builds the demo renamed bundleName; image, when set, is run for
// its web service; more is an optional version, then (file, old, new)
// triples of text to replace in the bundle's files.
func variant(t *testing.T, bundleName, image string, more ...string) *build.Result {
	t.Helper()
	dir := filepath.Join(t.TempDir(), bundleName)
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
	edit := func(file string, pairs ...string) {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		text := string(raw)
		for i := 0; i < len(pairs); i += 2 {
			require.Contains(t, text, pairs[i], "the demo's %s changed; update this test", file)
			text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
	}
	edit("porter.yaml", "name: demo\n", "name: "+bundleName+"\n")
	if len(more) > 0 {
		edit("porter.yaml", "version: 0.1.0\n", "version: "+more[0]+"\n")
	}
	for i := 1; i+3 <= len(more); i += 3 {
		edit(more[i], more[i+1], more[i+2])
	}
	if image != "" {
		repo, tag, _ := strings.Cut(image, ":")
		edit("porter.yaml",
			"        WEB_PORT: ${ bundle.parameters.port }\n",
			"        WEB_PORT: ${ bundle.parameters.port }\n        IMAGE: \"${ bundle.images.web.repository }:${ bundle.images.web.tag }\"\n")
		raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"),
			append(raw, fmt.Sprintf("\nimages:\n  web:\n    repository: %s\n    tag: %q\n", repo, tag)...), 0o644))
		edit("docker-compose.yml", "image: stackhub-test/web:dev", "image: ${IMAGE:-stackhub-test/web:dev}")
	}
	res, err := build.Build(t.Context(), build.Options{Dir: dir, RuntimesDir: dockertest.RuntimesDir(t)})
	require.NoError(t, err)
	return res
}

// apiStatus calls /api/v1 and returns the status and the body's message.
func apiStatus(t *testing.T, s server, method, path, body string) (int, string) {
	t.Helper()
	code, got, _ := s.api(t, method, path, body)
	msg, _ := got["message"].(string)
	return code, msg
}

// installAndCheck installs app (or ref) as name through /api/v1, waits for
// it to run and answer, and returns its web port.
func installAndCheck(t *testing.T, s server, body, name string) int {
	t.Helper()
	code, got, _ := s.api(t, http.MethodPost, "/api/v1/apps", body)
	require.Equal(t, http.StatusAccepted, code, "%v", got)
	r := s.waitStatusWithin(t, name, "1", 120*time.Second)
	web := port(t, r.Data["port"])
	status, _ := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", web))
	assert.Equal(t, http.StatusOK, status)
	return web
}

func TestInstallByReference(t *testing.T) {
	c := dockertest.RequireDocker(t)
	reg := registrytest.Start(t, registrytest.WithBasicAuth("stackhub", "s3cret-registry"))
	// The server and Docker take credentials from this configuration.
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	res := variant(t, "refdemo", "")
	pub, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/refdemo"),
		Bundle: res.Bundle, InvocationImage: res.Image, Docker: c})
	require.NoError(t, err)
	t.Logf("published %s (%s); invocation image %s", pub.Reference, pub.Digest, pub.Bundle.InvocationImages[0].Image)
	host := dockerhost.New(c)
	t.Cleanup(func() {
		for _, n := range []string{"ref-a", "ref-b"} {
			_, _ = host.RemoveApp(context.WithoutCancel(t.Context()), n, "", true)
		}
		_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), pub.Bundle.InvocationImages[0].Image, client.ImageRemoveOptions{Force: true})
	})
	// Docker does not have the invocation image: the server pulls it.
	_, err = c.ImageInspect(t.Context(), pub.Bundle.InvocationImages[0].Image)
	require.Error(t, err)

	dataDir := t.TempDir()
	s, stop := startStoppable(t, dataDir, "--bundles", "../../bundles/testdata")
	web := installAndCheck(t, s, fmt.Sprintf(`{"reference":%q,"name":"ref-a"}`, pub.Reference), "ref-a")
	_, state := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/state", web))
	require.NotEmpty(t, state)
	code, entry, _ := s.api(t, http.MethodGet, "/api/v1/catalog/refdemo", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, pub.Reference+"@"+pub.Digest, entry["source"])
	assert.NotContains(t, s.logs.String(), "s3cret-registry", "registry credentials are never logged")

	// A newer version published and pulled: the installation is
	// upgradable, and the upgrade keeps its data and ports (porter-state
	// and the earlier outputs feed the run). The list, kept rendered while
	// nothing changes, shows the pull too.
	assert.Equal(t, false, s.listedApp(t, "ref-a")["upgradable"])
	res2 := variant(t, "refdemo", "", "0.2.0")
	pub2, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/refdemo"),
		Bundle: res2.Bundle, InvocationImage: res2.Image, Docker: c})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), pub2.Bundle.InvocationImages[0].Image, client.ImageRemoveOptions{Force: true})
	})
	code, entry, _ = s.api(t, http.MethodPost, "/api/v1/catalog/pull", fmt.Sprintf(`{"reference":%q}`, pub2.Reference))
	require.Equal(t, http.StatusCreated, code, "%v", entry)
	assert.Equal(t, "0.2.0", entry["version"])
	code, app, _ := s.api(t, http.MethodGet, "/api/v1/apps/ref-a", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, true, app["upgradable"], "%v", app)
	assert.Equal(t, true, s.listedApp(t, "ref-a")["upgradable"], "GET /api/v1/apps after the pull")
	job := s.runJob(t, "/api/v1/apps/ref-a/upgrade", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	r := s.waitStatusWithin(t, "ref-a", "1", 60*time.Second)
	assert.Equal(t, "0.2.0", r.Data["version"])
	assert.Equal(t, web, port(t, r.Data["port"]), "the port stays")
	_, again := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/state", web))
	assert.Equal(t, state, again, "the data volume survived the upgrade")

	// The seed endpoint takes references too; the bundle is cached.
	r = s.call(t, "/installApp", fmt.Sprintf(`{"reference":%q,"name":"ref-b"}`, pub.Reference), nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	r = s.waitStatusWithin(t, "ref-b", "1", 120*time.Second)
	assert.Equal(t, "0.1.0", r.Data["version"], "an older reference installs the bundle it names")

	// Another bundle published as the same version: never a silent
	// replacement. The pull is a conflict naming both digests; with force
	// it replaces the entry.
	res3 := variant(t, "refdemo", "stackhub-test/web:dev", "0.2.0")
	pub3, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/refdemo:other"),
		Bundle: res3.Bundle, InvocationImage: res3.Image, Docker: c})
	require.NoError(t, err)
	require.NotEqual(t, pub2.Digest, pub3.Digest)
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), pub3.Bundle.InvocationImages[0].Image, client.ImageRemoveOptions{Force: true})
	})
	code, msg := apiStatus(t, s, http.MethodPost, "/api/v1/catalog/pull", fmt.Sprintf(`{"reference":%q}`, pub3.Reference))
	assert.Equal(t, http.StatusConflict, code, msg)
	assert.Contains(t, msg, "never silently replaces")
	code, entry, _ = s.api(t, http.MethodGet, "/api/v1/catalog/refdemo", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, pub2.Reference+"@"+pub2.Digest, entry["source"], "the entry is kept")
	code, entry, _ = s.api(t, http.MethodPost, "/api/v1/catalog/pull", fmt.Sprintf(`{"reference":%q,"force":true}`, pub3.Reference))
	require.Equal(t, http.StatusCreated, code, "%v", entry)
	assert.Equal(t, pub3.Reference+"@"+pub3.Digest, entry["source"], "forced")

	// A bundle whose web service runs an image of its own, published with
	// it: the run uses the image by the digest its catalog entry records
	// (pulled by digest, as Docker did not have it), under the name the
	// step renders.
	res4 := variant(t, "refimg", "stackhub-test/web:dev")
	pub4, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/refimg"),
		Bundle: res4.Bundle, InvocationImage: res4.Image, Docker: c})
	require.NoError(t, err)
	webImg := pub4.Bundle.Images["web"]
	require.NotEmpty(t, webImg.Digest, "published with its digest")
	loc := pub4.RelocationMap[webImg.Image]
	repo, _, _ := strings.Cut(loc, "@")
	pinned := repo + "@" + webImg.Digest
	t.Cleanup(func() {
		_, _ = host.RemoveApp(context.WithoutCancel(t.Context()), "ref-img", "", true)
		for _, ref := range []string{pub4.Bundle.InvocationImages[0].Image, pinned, repo + ":dev"} {
			_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), ref, client.ImageRemoveOptions{Force: true})
		}
	})
	_, err = c.ImageInspect(t.Context(), pinned)
	require.Error(t, err, "Docker does not have it yet")
	installAndCheck(t, s, fmt.Sprintf(`{"reference":%q,"name":"ref-img"}`, pub4.Reference), "ref-img")
	entry4, err := s.client().CatalogApp(t.Context(), "refimg")
	require.NoError(t, err)
	assert.Contains(t, entry4.Images, webImg.Image+"@"+webImg.Digest, "the catalog entry records the digest")
	want, err := c.ImageInspect(t.Context(), pinned)
	require.NoError(t, err, "pulled by digest")
	got, err := c.ContainerInspect(t.Context(), "websoft9-ref-img", client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, repo+":dev", got.Container.Config.Image, "the name the step renders")
	assert.Equal(t, want.ID, got.Container.Image, "the content of the recorded digest")

	// Bad references: a clear answer, nothing installed.
	for _, tc := range []struct {
		ref  string
		code int
		has  string
	}{
		{reg.Ref("stackhub/nope:v1"), http.StatusNotFound, "no such repository or tag"},
		{reg.Ref("stackhub/refdemo:v9.9.9"), http.StatusNotFound, "no such repository or tag"},
		{"Not A Reference!", http.StatusBadRequest, "not a valid OCI reference"},
	} {
		code, msg := apiStatus(t, s, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"reference":%q,"name":"ref-bad"}`, tc.ref))
		assert.Equal(t, tc.code, code, "%s: %s", tc.ref, msg)
		assert.Contains(t, msg, tc.has, tc.ref)
		code, _ = apiStatus(t, s, http.MethodGet, "/api/v1/apps/ref-bad", "")
		assert.Equal(t, http.StatusNotFound, code, "%s: nothing installed", tc.ref)
	}

	// After a restart the installations still find their bundle, even
	// with the registry gone.
	stop()
	reg.Stop()
	s, _ = startStoppable(t, dataDir, "--bundles", "../../bundles/testdata")
	code, _ = apiStatus(t, s, http.MethodGet, "/api/v1/catalog/refdemo", "")
	assert.Equal(t, http.StatusOK, code, "a pulled bundle stays in the catalog")
	job = s.runJob(t, "/api/v1/apps/ref-a/actions/restart", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	code, msg = apiStatus(t, s, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"reference":%q,"name":"ref-c"}`, pub.Reference))
	assert.Equal(t, http.StatusServiceUnavailable, code, msg)
	assert.Contains(t, msg, "the registry does not answer")
	for _, n := range []string{"ref-a", "ref-b"} {
		s.requireUninstall(t, n)
		requireNothingLeft(t, c, n)
	}
}

func TestInstallFromArchive(t *testing.T) {
	c := dockertest.RequireDocker(t)
	// The app's image: the test image with a label of its own, so that it
	// is an image Docker loses when its tag is removed.
	const image = "stackhub-test/airgap:v1"
	base, err := daemon.Image(mustRef(t, "stackhub-test/web:dev"), daemon.WithClient(c), daemon.WithContext(t.Context()))
	require.NoError(t, err)
	cfg, err := base.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{"sh.websoft9.test": "airgap"}
	img, err := mutate.ConfigFile(base, cfg)
	require.NoError(t, err)
	_, err = daemon.Write(mustTag(t, image), img, daemon.WithClient(c), daemon.WithContext(t.Context()))
	require.NoError(t, err)

	res := variant(t, "airgap", image)
	var archive bytes.Buffer
	_, err = ocibundle.Archive(t.Context(), &archive, ocibundle.ArchiveOptions{Bundle: res.Bundle, InvocationImage: res.Image, Docker: c})
	require.NoError(t, err)
	t.Logf("archive: %d bytes", archive.Len())
	// No registry, and neither image in Docker: the archive is all there is.
	_, err = c.ImageRemove(t.Context(), image, client.ImageRemoveOptions{Force: true})
	require.NoError(t, err)
	host := dockerhost.New(c)
	t.Cleanup(func() {
		_, _ = host.RemoveApp(context.WithoutCancel(t.Context()), "airgap", "", true)
		_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), image, client.ImageRemoveOptions{Force: true})
		_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), res.ImageRef, client.ImageRemoveOptions{Force: true})
	})
	_, err = c.ImageInspect(t.Context(), res.ImageRef)
	require.Error(t, err, "the invocation image was never loaded")
	// The host's own image under the archived image's tag (another app's
	// mariadb:10.11, say): the import must not replace it.
	_, err = c.ImageTag(t.Context(), client.ImageTagOptions{Source: "stackhub-test/web:dev", Target: image})
	require.NoError(t, err)
	hostImage, err := c.ImageInspect(t.Context(), image)
	require.NoError(t, err)
	imported := map[string]string{}
	for _, ref := range []string{image, res.ImageRef} {
		imported[ref], err = ocibundle.ImportTag(ref)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, tag := range imported {
			_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), tag, client.ImageRemoveOptions{Force: true})
		}
	})

	s := startServerArgs(t, t.TempDir(), "--bundles", "../../bundles/testdata")
	_, err = s.client().ImportBundle(t.Context(), bytes.NewReader(archive.Bytes()), false)
	require.NoError(t, err)

	installAndCheck(t, s, `{"app":"airgap"}`, "airgap")
	out, err := c.ContainerInspect(t.Context(), "websoft9-airgap", client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "airgap", out.Container.Config.Labels["sh.websoft9.test"], "the app runs the archive's image")
	assert.Equal(t, imported[image], out.Container.Config.Image, "through the import's own tag")
	after, err := c.ImageInspect(t.Context(), image)
	require.NoError(t, err)
	assert.Equal(t, hostImage.ID, after.ID, "the host's %s is untouched", image)
	for _, tag := range imported {
		_, err := c.ImageInspect(t.Context(), tag)
		assert.NoError(t, err, "%s is loaded", tag)
	}

	// A damaged archive is refused, and nothing is added.
	broken := bytes.Clone(archive.Bytes())
	broken[len(broken)/2] ^= 0xff
	_, err = s.client().ImportBundle(t.Context(), bytes.NewReader(broken), false)
	assertAPIStatus(t, err, http.StatusBadRequest)

	// An archive of a bundle named like an app of the catalog directory
	// (demo) is refused before any of its images reaches Docker.
	demo := variant(t, "demo", "")
	var shadow bytes.Buffer
	_, err = ocibundle.Archive(t.Context(), &shadow, ocibundle.ArchiveOptions{Bundle: demo.Bundle, InvocationImage: demo.Image, Docker: c})
	require.NoError(t, err)
	_, err = s.client().ImportBundle(t.Context(), bytes.NewReader(shadow.Bytes()), false)
	assertAPIStatus(t, err, http.StatusConflict)
	demoTag, err := ocibundle.ImportTag(demo.ImageRef)
	require.NoError(t, err)
	_, err = c.ImageInspect(t.Context(), demoTag)
	assert.True(t, cerrdefs.IsNotFound(err), "the refused archive's invocation image was not loaded: %v", err)

	s.requireUninstall(t, "airgap")
	requireNothingLeft(t, c, "airgap")
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	require.NoError(t, err)
	return ref
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	require.NoError(t, err)
	return tag
}
