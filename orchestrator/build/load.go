package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// ImageClient is the part of the Docker client Load uses. *client.Client
// from github.com/moby/moby/client satisfies it; create it with
// client.FromEnv and client.WithAPIVersionNegotiation so that it talks to
// older engines (Debian's docker.io 20.10 speaks API 1.41).
type ImageClient interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (client.ImageLoadResult, error)
}

var _ ImageClient = (*client.Client)(nil)

// Load makes r.Image available in the Docker engine under exactly
// r.ImageRef, the bundle's invocationImages[0].image, so cnab-go's docker
// driver finds it without pulling. If r.ImageRef already names this image
// (same ID) it does nothing; otherwise it streams a `docker save` tarball
// of the image to the engine (`docker load`), which moves the tag from any
// older image, and then checks that r.ImageRef names the new image.
//
// The image ID Docker reports is the config digest (classic image store)
// or the manifest digest (containerd image store); both count as the same
// image. Errors wrap the Docker client's, so errdefs classification (e.g.
// cerrdefs.IsUnavailable) still works on them; a load refused by the
// engine is reported with the engine's message. Load is safe to call
// concurrently for different results; loading the same result twice at
// once loads it twice.
func Load(ctx context.Context, api ImageClient, r *Result) error {
	ids, err := imageIDs(r.Image)
	if err != nil {
		return fmt.Errorf("load %s: %w", r.ImageRef, err)
	}
	id, err := imageID(ctx, api, r.ImageRef)
	if err != nil {
		return fmt.Errorf("load %s: %w", r.ImageRef, err)
	}
	if ids[id] {
		return nil
	}
	if err := loadTarball(ctx, api, r); err != nil {
		return fmt.Errorf("load %s: %w", r.ImageRef, err)
	}
	id, err = imageID(ctx, api, r.ImageRef)
	if err != nil {
		return fmt.Errorf("load %s: after loading: %w", r.ImageRef, err)
	}
	if !ids[id] {
		return fmt.Errorf("load %s: after loading, the tag names image %q, not the one built", r.ImageRef, id)
	}
	return nil
}

// imageIDs returns the IDs Docker may give img.
func imageIDs(img v1.Image) (map[string]bool, error) {
	cfg, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("config digest: %w", err)
	}
	mf, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("manifest digest: %w", err)
	}
	return map[string]bool{cfg.String(): true, mf.String(): true}, nil
}

// imageID returns the ID of the image ref names in the engine, or "" if
// there is none.
func imageID(ctx context.Context, api ImageClient, ref string) (string, error) {
	res, err := api.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("inspect: %w", err)
	}
	return res.ID, nil
}

// loadTarball streams the image as a docker-save tarball tagged r.ImageRef
// into ImageLoad and reads the engine's progress stream to its end.
func loadTarball(ctx context.Context, api ImageClient, r *Result) error {
	tag, err := name.NewTag(r.ImageRef)
	if err != nil {
		return fmt.Errorf("image reference: %w", err)
	}
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		writeErr = tarball.Write(tag, r.Image, pw)
		pw.CloseWithError(writeErr)
	})
	loadErr := func() error {
		resp, err := api.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
		if err != nil {
			return fmt.Errorf("docker load: %w", err)
		}
		defer resp.Close()
		return readLoadStream(resp)
	}()
	// Closing the reader stops the writer if the engine stopped reading early.
	pr.Close()
	wg.Wait()
	if writeErr != nil && !errors.Is(writeErr, io.ErrClosedPipe) {
		return fmt.Errorf("write image tarball: %w", writeErr) // the cause of any load error
	}
	return loadErr
}

// readLoadStream reads the JSON messages of a load and returns the first
// error the engine reports in it.
func readLoadStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg jsonstream.Message
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("docker load: read response: %w", err)
		}
		if msg.Error != nil {
			return fmt.Errorf("docker load: %w", msg.Error)
		}
	}
}
