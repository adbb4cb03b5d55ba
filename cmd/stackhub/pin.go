package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
)

// imagePinner makes a run use the image digests its catalog entry
// records. A bundle pulled from a registry lists each image with its
// contentDigest, relocated into the bundle's repository by digest; the
// steps render the image as repository:tag (Porter's
// bundle.images.X.repository and .tag). Before the run, Docker pulls the
// image by that digest when it lacks it, and the repository:tag the steps
// will name is set on exactly that content: compose then finds it and runs
// the digest, whatever the tag names in the registry now.
type imagePinner struct {
	docker *client.Client
	reg    ocibundle.Registry
	log    *slog.Logger
}

// pin pins every image of req's bundle that has a digest. Images without
// one (the built-in catalog's, named by tag) and those relocated to a tag
// (an archive's, loaded and verified at import under a name of the
// server's own) are left as they are. An install or upgrade that cannot
// pull a pinned image fails; the other actions (start, stop, restart,
// uninstall) go on with what the host has, so that a registry gone since
// the install does not stop an app from restarting.
func (p imagePinner) pin(ctx context.Context, req orchestrator.RunRequest) error {
	if req.Bundle == nil {
		return nil
	}
	for _, alias := range slices.Sorted(maps.Keys(req.Bundle.Images)) {
		img := req.Bundle.Images[alias]
		if img.Digest == "" {
			continue
		}
		loc, ok := req.Relocation[img.Image]
		if !ok {
			continue
		}
		named, err := reference.ParseNormalizedNamed(loc)
		if err != nil {
			return orchestrator.WrapError(orchestrator.EINVALID, err, "image %s: bad relocated reference %q", alias, loc)
		}
		if _, digested := named.(reference.Digested); !digested {
			continue
		}
		repo := reference.TrimNamed(named).Name()
		pinned := repo + "@" + img.Digest
		tag := "latest"
		if orig, err := reference.ParseNormalizedNamed(img.Image); err == nil {
			if t, ok := orig.(reference.Tagged); ok {
				tag = t.Tag()
			}
		}
		if _, err := p.docker.ImageInspect(ctx, pinned); cerrdefs.IsNotFound(err) {
			if err := ocibundle.PullImage(ctx, p.docker, pinned, p.reg); err != nil {
				if req.Action == orchestrator.ActionInstall || req.Action == orchestrator.ActionUpgrade {
					return fmt.Errorf("image %s: pull %s: %w", alias, pinned, err)
				}
				p.log.Warn("a pinned image is missing and cannot be pulled; the run uses what the host has",
					"run", req.RunID, "image", alias, "pinned", pinned, "err", err)
				continue
			}
		} else if err != nil {
			return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "image %s: Docker is not answering", alias)
		}
		if _, err := p.docker.ImageTag(ctx, client.ImageTagOptions{Source: pinned, Target: repo + ":" + tag}); err != nil {
			return orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "image %s: tag %s as %s:%s", alias, pinned, repo, tag)
		}
	}
	return nil
}
