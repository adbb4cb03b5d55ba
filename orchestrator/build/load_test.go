package build_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
)

// fakeDocker is an in-memory engine: tags name image IDs, and a load tags
// the loaded image as its manifest.json says, unless told otherwise.
type fakeDocker struct {
	tags       map[string]string // reference → image ID
	inspectErr error             // returned by every ImageInspect
	loadErr    error             // returned by ImageLoad before reading
	stream     string            // ImageLoad's response body
	ignoreTags bool              // load without tagging

	loads    int
	repoTags []string // RepoTags of the last load
}

var _ build.ImageClient = (*fakeDocker)(nil)

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.inspectErr != nil {
		return client.ImageInspectResult{}, f.inspectErr
	}
	id, ok := f.tags[ref]
	if !ok {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
	}
	return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: id}}, nil
}

func (f *fakeDocker) ImageLoad(_ context.Context, input io.Reader, _ ...client.ImageLoadOption) (client.ImageLoadResult, error) {
	if f.loadErr != nil {
		return nil, f.loadErr
	}
	f.loads++
	tr := tar.NewReader(input)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.Name != "manifest.json" {
			continue
		}
		var m []struct {
			Config   string
			RepoTags []string
		}
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return nil, err
		}
		if len(m) != 1 {
			return nil, errors.New("want one image in the tarball")
		}
		f.repoTags = m[0].RepoTags
		if !f.ignoreTags {
			for _, tag := range m[0].RepoTags {
				f.tags[tag] = m[0].Config // the config blob is named by its digest
			}
		}
	}
	stream := f.stream
	if stream == "" {
		stream = `{"stream":"Loaded image\n"}`
	}
	return io.NopCloser(strings.NewReader(stream)), nil
}

func TestLoad(t *testing.T) {
	r := mustBuild(t, copyDir(t, demoDir))
	configID, err := r.Image.ConfigName()
	require.NoError(t, err)
	manifestID, err := r.Image.Digest()
	require.NoError(t, err)

	tests := []struct {
		name      string
		docker    *fakeDocker
		wantLoads int
		errorHas  string
		errorIs   func(error) bool
	}{
		{
			name:      "absent: loads it under the ref",
			docker:    &fakeDocker{tags: map[string]string{}},
			wantLoads: 1,
		},
		{
			name:      "same image already tagged: nothing to do",
			docker:    &fakeDocker{tags: map[string]string{r.ImageRef: configID.String()}},
			wantLoads: 0,
		},
		{
			name:      "same image in the containerd image store: nothing to do",
			docker:    &fakeDocker{tags: map[string]string{r.ImageRef: manifestID.String()}},
			wantLoads: 0,
		},
		{
			name:      "older image under the ref: loads and moves the tag",
			docker:    &fakeDocker{tags: map[string]string{r.ImageRef: "sha256:0ld"}},
			wantLoads: 1,
		},
		{
			name:      "engine refuses the tarball",
			docker:    &fakeDocker{tags: map[string]string{}, stream: `{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}`},
			wantLoads: 1,
			errorHas:  "no space left on device",
		},
		{
			name:      "tag still names another image after the load",
			docker:    &fakeDocker{tags: map[string]string{r.ImageRef: "sha256:0ld"}, ignoreTags: true},
			wantLoads: 1,
			errorHas:  `names image "sha256:0ld", not the one built`,
		},
		{
			name:     "engine down",
			docker:   &fakeDocker{inspectErr: cerrdefs.ErrUnavailable.WithMessage("cannot connect")},
			errorIs:  cerrdefs.IsUnavailable,
			errorHas: "cannot connect",
		},
		{
			name:     "load call fails before reading",
			docker:   &fakeDocker{tags: map[string]string{}, loadErr: cerrdefs.ErrUnavailable.WithMessage("connection reset")},
			errorIs:  cerrdefs.IsUnavailable,
			errorHas: "connection reset",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := build.Load(t.Context(), tc.docker, r)
			assert.Equal(t, tc.wantLoads, tc.docker.loads, "loads")
			if tc.errorHas != "" {
				require.ErrorContains(t, err, tc.errorHas)
				if tc.errorIs != nil {
					assert.True(t, tc.errorIs(err), "classification lost: %v", err)
				}
				return
			}
			require.NoError(t, err)
			if tc.wantLoads > 0 {
				assert.Equal(t, []string{r.ImageRef}, tc.docker.repoTags)
				assert.Equal(t, configID.String(), tc.docker.tags[r.ImageRef])
			}
		})
	}
}

// The builder keeps the bundle and the image's IDs, not the image: it
// builds and loads once, reuses while the engine holds the image, and
// builds again when the image left the engine.
func TestBuilderReusesWhileTheEngineHoldsTheImage(t *testing.T) {
	dir := copyDir(t, demoDir)
	docker := &fakeDocker{tags: map[string]string{}}
	b := build.NewBuilder(fakeRuntimes(t), docker)
	app := orchestrator.App{Name: "demo", Dir: dir}

	first, err := b.Bundle(t.Context(), app)
	require.NoError(t, err)
	require.Equal(t, 1, docker.loads)
	bundleJSON := filepath.Join(dir, build.GeneratedDir, "bundle.json")
	built, err := os.Stat(bundleJSON)
	require.NoError(t, err)

	again, err := b.Bundle(t.Context(), app)
	require.NoError(t, err)
	assert.Same(t, first, again, "the cached bundle")
	assert.Equal(t, 1, docker.loads, "the engine has the image: no load")
	still, err := os.Stat(bundleJSON)
	require.NoError(t, err)
	assert.Equal(t, built.ModTime(), still.ModTime(), "no build either")

	clear(docker.tags) // docker rmi
	_, err = b.Bundle(t.Context(), app)
	require.NoError(t, err)
	assert.Equal(t, 2, docker.loads, "built and loaded again")
	assert.Len(t, docker.tags, 1)

	docker.inspectErr = cerrdefs.ErrUnavailable.WithMessage("cannot connect")
	_, err = b.Bundle(t.Context(), app)
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "%v", err)
}
