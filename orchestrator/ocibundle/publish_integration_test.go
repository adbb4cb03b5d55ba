//go:build integration

package ocibundle_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cnabio/cnab-to-oci/remotes"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
)

// emptyConfig is a Docker configuration directory with no credentials, so
// the host's ~/.docker never leaks into a test.
func emptyConfig(t *testing.T) ocibundle.Registry {
	return ocibundle.Registry{ConfigDir: t.TempDir()}
}

func TestIntegration_PublishAndPull(t *testing.T) {
	docker := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	res := buildDemo(t, reg.Host+"/stackhub")
	ctx := t.Context()

	pub, err := ocibundle.Publish(ctx, ocibundle.PublishOptions{
		Reference: reg.Ref("stackhub/demo"), Bundle: res.Bundle, InvocationImage: res.Image,
		Registry: emptyConfig(t), Docker: docker,
	})
	require.NoError(t, err)
	assert.Equal(t, reg.Ref("stackhub/demo:v0.1.0"), pub.Reference, "default tag v<version>")
	invDigest, err := res.Image.Digest()
	require.NoError(t, err)
	inv := pub.Bundle.InvocationImages[0]
	assert.Equal(t, reg.Ref("stackhub/demo@"+invDigest.String()), inv.Image)
	assert.Equal(t, invDigest.String(), inv.Digest)
	web := pub.Bundle.Images["web"]
	assert.Equal(t, webImage, web.Image, "bundle.json keeps the original reference")
	require.NotEmpty(t, web.Digest)
	assert.Equal(t, reg.Ref("stackhub/demo@"+web.Digest), pub.RelocationMap[webImage])
	assert.Empty(t, res.Bundle.InvocationImages[0].Digest, "the caller's bundle is not modified")

	// Porter's invocation image tag exists too.
	status, _, _ := reg.Get(t, "/v2/stackhub/demo/manifests/porter-"+md5hex(reg.Ref("stackhub/demo:v0.1.0")),
		string(ocispec.MediaTypeImageManifest), "application/vnd.docker.distribution.manifest.v2+json")
	assert.Equal(t, http.StatusOK, status, "invocation image under porter-<md5>")

	// The index, fetched raw: cnab-to-oci's media types and annotations (porter-compat.md §8).
	status, ctype, body := reg.Get(t, "/v2/stackhub/demo/manifests/v0.1.0", ocispec.MediaTypeImageIndex)
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Equal(t, ocispec.MediaTypeImageIndex, ctype)
	var index ocispec.Index
	require.NoError(t, json.Unmarshal(body, &index))
	assert.Equal(t, 2, index.SchemaVersion) // cnab-to-oci leaves the body's mediaType out, as porter publish does
	assert.Equal(t, map[string]string{
		"io.cnab.runtime_version":              string(res.Bundle.SchemaVersion),
		"org.opencontainers.image.title":       "demo",
		"org.opencontainers.image.version":     "0.1.0",
		"org.opencontainers.image.description": res.Bundle.Description,
		"org.opencontainers.artifactType":      "application/vnd.cnab.manifest.v1",
	}, withoutKeys(index.Annotations, "org.opencontainers.image.authors", "io.cnab.keywords"))
	assert.Equal(t, pub.Digest, digestOf(body))
	require.Len(t, index.Manifests, 3)
	assert.Equal(t, map[string]string{"io.cnab.manifest.type": "config"}, index.Manifests[0].Annotations)
	assert.Equal(t, ocispec.MediaTypeImageManifest, index.Manifests[0].MediaType)
	assert.Equal(t, map[string]string{"io.cnab.manifest.type": "invocation"}, index.Manifests[1].Annotations)
	assert.Equal(t, invDigest.String(), index.Manifests[1].Digest.String())
	assert.Equal(t, map[string]string{"io.cnab.manifest.type": "component", "io.cnab.component.name": "web"}, index.Manifests[2].Annotations)
	assert.Equal(t, web.Digest, index.Manifests[2].Digest.String())

	// The config manifest wraps canonical bundle.json as a CNAB config blob.
	status, _, body = reg.Get(t, "/v2/stackhub/demo/manifests/"+index.Manifests[0].Digest.String(), ocispec.MediaTypeImageManifest)
	require.Equal(t, http.StatusOK, status)
	var cfgManifest ocispec.Manifest
	require.NoError(t, json.Unmarshal(body, &cfgManifest))
	assert.Equal(t, "application/vnd.cnab.config.v1+json", cfgManifest.Config.MediaType)
	status, _, blob := reg.Get(t, "/v2/stackhub/demo/blobs/"+cfgManifest.Config.Digest.String())
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(blob), `"contentDigest":"`+invDigest.String()+`"`)

	// Pull gives back the same bundle.json, relocation map and digest.
	pulled, err := ocibundle.Pull(ctx, reg.Ref("stackhub/demo:v0.1.0"), emptyConfig(t))
	require.NoError(t, err)
	assert.Equal(t, pub.Digest, pulled.Digest)
	assert.Equal(t, pub.RelocationMap, pulled.RelocationMap)
	assert.JSONEq(t, mustJSON(t, pub.Bundle), mustJSON(t, pulled.Bundle))

	// Overwriting needs --force.
	again := ocibundle.PublishOptions{Reference: reg.Ref("stackhub/demo:v0.1.0"), Bundle: res.Bundle,
		InvocationImage: res.Image, Registry: emptyConfig(t), Docker: docker}
	_, err = ocibundle.Publish(ctx, again)
	require.Error(t, err)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), err.Error())
	assert.Contains(t, orchestrator.ErrorMessage(err), "already exists")
	again.Force = true
	forced, err := ocibundle.Publish(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, pub.Digest, forced.Digest, "same build, same index")
}

func TestIntegration_PullErrors(t *testing.T) {
	docker := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	res := buildDemo(t, reg.Host+"/stackhub")
	ctx := t.Context()
	pub, err := ocibundle.Publish(ctx, ocibundle.PublishOptions{Reference: reg.Ref("stackhub/demo"), Bundle: res.Bundle,
		InvocationImage: res.Image, Registry: emptyConfig(t), Docker: docker})
	require.NoError(t, err)

	// A plain image under a tag of its own.
	plain, err := random.Image(256, 1)
	require.NoError(t, err)
	tag, err := name.NewTag(reg.Ref("stackhub/plain:v1"))
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, plain, remote.WithContext(ctx)))

	// A bundle whose bundle.json disagrees with its index on the invocation image digest.
	tampered := *pub.Bundle
	tampered.InvocationImages = append(tampered.InvocationImages[:0:0], pub.Bundle.InvocationImages...)
	tampered.InvocationImages[0].Digest = pub.Bundle.Images["web"].Digest
	ref, err := reference.ParseNormalizedNamed(reg.Ref("stackhub/demo:tampered"))
	require.NoError(t, err)
	_, err = remotes.Push(ctx, &tampered, pub.RelocationMap, ref, remotes.CreateResolver(configfile.New("")), true)
	require.NoError(t, err)

	// A bundle without contentDigest on its invocation image.
	noDigest := tampered
	noDigest.InvocationImages = append(tampered.InvocationImages[:0:0], pub.Bundle.InvocationImages...)
	noDigest.InvocationImages[0].Digest = ""
	ref, err = reference.ParseNormalizedNamed(reg.Ref("stackhub/demo:nodigest"))
	require.NoError(t, err)
	_, err = remotes.Push(ctx, &noDigest, pub.RelocationMap, ref, remotes.CreateResolver(configfile.New("")), true)
	require.NoError(t, err)

	down := registrytest.Start(t)
	down.Stop()

	tests := []struct {
		name, ref, code, message string
	}{
		{"unknown repository", reg.Ref("stackhub/nothing:v1"), orchestrator.ENOTFOUND, "no such repository or tag"},
		{"unknown tag", reg.Ref("stackhub/demo:v9.9.9"), orchestrator.ENOTFOUND, "no such repository or tag"},
		{"tag without bundle", reg.Ref("stackhub/plain:v1"), orchestrator.EINVALID, "not a CNAB bundle"},
		{"digest mismatch", reg.Ref("stackhub/demo:tampered"), orchestrator.EINVALID, "digest mismatch"},
		{"no contentDigest", reg.Ref("stackhub/demo:nodigest"), orchestrator.EINVALID, "has no contentDigest"},
		{"registry down", down.Ref("stackhub/demo:v0.1.0"), orchestrator.EUNAVAILABLE, "does not answer"},
		{"malformed reference", "Not A Reference", orchestrator.EINVALID, "not a valid OCI reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ocibundle.Pull(ctx, tc.ref, emptyConfig(t))
			require.Error(t, err)
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err), err.Error())
			msg := orchestrator.ErrorMessage(err)
			assert.Contains(t, msg, tc.message)
			if tc.ref != "Not A Reference" {
				assert.Contains(t, msg, tc.ref[len(reg.Host)+1:], "the message names the reference")
			}
		})
	}
}

func TestIntegration_BasicAuth(t *testing.T) {
	docker := dockertest.RequireDocker(t)
	const password = "pa55-w0rd-not-in-messages"
	reg := registrytest.Start(t, registrytest.WithBasicAuth("ci", password))
	res := buildDemo(t, reg.Host+"/stackhub")
	ctx := t.Context()
	withCreds := ocibundle.Registry{ConfigDir: reg.DockerConfig(t)}
	wrongCreds := ocibundle.Registry{ConfigDir: reg.DockerConfig(t, "ci", "wrong")}

	_, err := ocibundle.Publish(ctx, ocibundle.PublishOptions{Reference: reg.Ref("stackhub/demo"), Bundle: res.Bundle,
		InvocationImage: res.Image, Registry: emptyConfig(t), Docker: docker})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), err.Error())

	pub, err := ocibundle.Publish(ctx, ocibundle.PublishOptions{Reference: reg.Ref("stackhub/demo"), Bundle: res.Bundle,
		InvocationImage: res.Image, Registry: withCreds, Docker: docker})
	require.NoError(t, err)
	pulled, err := ocibundle.Pull(ctx, pub.Reference, withCreds)
	require.NoError(t, err)
	assert.Equal(t, pub.Digest, pulled.Digest)

	for name, r := range map[string]ocibundle.Registry{"no credentials": emptyConfig(t), "wrong password": wrongCreds} {
		t.Run(name, func(t *testing.T) {
			_, err := ocibundle.Pull(ctx, pub.Reference, r)
			require.Error(t, err)
			assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), err.Error())
			assert.Contains(t, orchestrator.ErrorMessage(err), "stackhub/demo:v0.1.0")
			assert.NotContains(t, err.Error(), password)
			assert.NotContains(t, err.Error(), "wrong")
		})
	}
}
