//go:build integration

package ocibundle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
)

// TestIntegration_ArchiveAndLoad archives a locally built bundle (the
// invocation image in memory, one images: entry only in Docker, one only
// in the registry), removes the images from Docker, and loads the archive
// back with the registry stopped: the air-gap path.
func TestIntegration_ArchiveAndLoad(t *testing.T) {
	docker := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	ctx := t.Context()

	// A private tag for the local image, so removing it disturbs no one.
	private := "stackhub-test/ocibundle-itest:" + randomHex(t)
	_, err := docker.ImageTag(ctx, client.ImageTagOptions{Source: webImage, Target: private})
	require.NoError(t, err, "make test-images builds %s", webImage)
	// An image that exists only in the registry.
	extra, err := random.Image(2048, 2)
	require.NoError(t, err)
	extraRef := reg.Ref("stackhub/extra:v1")
	extraTag, err := name.NewTag(extraRef)
	require.NoError(t, err)
	require.NoError(t, remote.Write(extraTag, extra, remote.WithContext(ctx)))

	res := buildDemo(t, reg.Host+"/stackhub", map[string]string{"web": private, "extra": extraRef})
	removeImages(t, docker, extraRef, res.ImageRef) // now and at the end
	t.Cleanup(func() {
		_, _ = docker.ImageRemove(context.WithoutCancel(ctx), private, client.ImageRemoveOptions{Force: true})
	})

	var archive bytes.Buffer
	archived, err := ocibundle.Archive(ctx, &archive, ocibundle.ArchiveOptions{
		Bundle: res.Bundle, InvocationImage: res.Image, Docker: docker, Registry: emptyConfig(t),
	})
	require.NoError(t, err)
	invDigest, err := res.Image.Digest()
	require.NoError(t, err)
	extraDigest, err := extra.Digest()
	require.NoError(t, err)
	assert.Equal(t, invDigest.String(), archived.InvocationImages[0].Digest)
	assert.Equal(t, extraDigest.String(), archived.Images["extra"].Digest)
	require.NotEmpty(t, archived.Images["web"].Digest)

	// Air-gapped: no registry, none of the images in Docker.
	reg.Stop()
	_, err = docker.ImageRemove(ctx, private, client.ImageRemoveOptions{})
	require.NoError(t, err)
	for _, ref := range []string{res.ImageRef, extraRef} {
		_, err := docker.ImageInspect(ctx, ref)
		require.Error(t, err, "%s should not be in Docker before the load", ref)
	}

	loaded, err := ocibundle.LoadArchive(ctx, bytes.NewReader(archive.Bytes()), docker)
	require.NoError(t, err)
	assert.JSONEq(t, mustJSON(t, archived), mustJSON(t, loaded.Bundle))
	assert.Equal(t, map[string]string{res.ImageRef: res.ImageRef, private: private, extraRef: extraRef}, map[string]string(loaded.RelocationMap))
	for ref, img := range map[string]v1.Image{res.ImageRef: res.Image, extraRef: extra} {
		inspect, err := docker.ImageInspect(ctx, ref)
		require.NoError(t, err, ref)
		cfg, err := img.ConfigName()
		require.NoError(t, err)
		assert.Equal(t, cfg.String(), inspect.ID, "%s is the archived image", ref)
	}
	webInspect, err := docker.ImageInspect(ctx, private)
	require.NoError(t, err)
	origInspect, err := docker.ImageInspect(ctx, webImage)
	require.NoError(t, err)
	assert.Equal(t, origInspect.ID, webInspect.ID, "the web image came back under its tag")

	// Loading again only re-tags.
	_, err = ocibundle.LoadArchive(ctx, bytes.NewReader(archive.Bytes()), docker)
	require.NoError(t, err)
}

// TestIntegration_ArchivePublished archives a bundle pulled from a
// registry, as porter archive --reference does, and loads it.
func TestIntegration_ArchivePublished(t *testing.T) {
	docker := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	ctx := t.Context()
	res := buildDemo(t, reg.Host+"/stackhub")
	pub, err := ocibundle.Publish(ctx, ocibundle.PublishOptions{Reference: reg.Ref("stackhub/demo"), Bundle: res.Bundle,
		InvocationImage: res.Image, Registry: emptyConfig(t), Docker: docker})
	require.NoError(t, err)
	pulled, err := ocibundle.Pull(ctx, pub.Reference, emptyConfig(t))
	require.NoError(t, err)

	var archive bytes.Buffer
	archived, err := ocibundle.Archive(ctx, &archive, ocibundle.ArchiveOptions{
		Bundle: pulled.Bundle, RelocationMap: pulled.RelocationMap, Registry: emptyConfig(t),
	})
	require.NoError(t, err)
	assert.JSONEq(t, mustJSON(t, pub.Bundle), mustJSON(t, archived), "a published bundle is archived unchanged")
	_, files := entries(t, archive.Bytes())
	assert.JSONEq(t, mustJSON(t, pub.RelocationMap), string(files["./relocation-mapping.json"]))

	reg.Stop()
	invTag := reg.Host + "/stackhub/demo:sha256-" + pub.Bundle.InvocationImages[0].Digest[len("sha256:"):]
	removeImages(t, docker, invTag)
	loaded, err := ocibundle.LoadArchive(ctx, bytes.NewReader(archive.Bytes()), docker)
	require.NoError(t, err)
	assert.Equal(t, invTag, loaded.RelocationMap[pub.Bundle.InvocationImages[0].Image])
	assert.Equal(t, webImage, loaded.RelocationMap[webImage])
	inspect, err := docker.ImageInspect(ctx, invTag)
	require.NoError(t, err)
	cfg, err := res.Image.ConfigName()
	require.NoError(t, err)
	assert.Equal(t, cfg.String(), inspect.ID)
}

// removeImages removes refs from Docker now and when the test ends (tags
// only: an image other tags still name stays).
func removeImages(t *testing.T, docker *client.Client, refs ...string) {
	t.Helper()
	if docker == nil {
		docker = dockertest.RequireDocker(t)
	}
	rm := func(ctx context.Context) {
		for _, ref := range refs {
			_, _ = docker.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
		}
	}
	rm(t.Context())
	t.Cleanup(func() { rm(context.WithoutCancel(t.Context())) })
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
