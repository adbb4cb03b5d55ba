package bundlerun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// bundleFile is the part of /cnab/bundle.json the runtime reads; the
// package keeps to the standard library, so it decodes its own view of
// cnab-go's bundle.Bundle.
type bundleFile struct {
	InvocationImages []bundleImage            `json:"invocationImages"`
	Images           map[string]bundleImage   `json:"images"`
	Parameters       map[string]bundleParam   `json:"parameters"`
	Definitions      map[string]bundleSchema  `json:"definitions"`
	Outputs          map[string]bundleOutput  `json:"outputs"`
	Credentials      map[string]bundleLocator `json:"credentials"`
}

type bundleImage struct {
	ImageType     string `json:"imageType"`
	Image         string `json:"image"`
	ContentDigest string `json:"contentDigest"`
}

type bundleLocator struct {
	Env  string `json:"env"`
	Path string `json:"path"`
}

type bundleParam struct {
	Definition  string        `json:"definition"`
	ApplyTo     []string      `json:"applyTo"`
	Destination bundleLocator `json:"destination"`
}

func (p bundleParam) appliesTo(action string) bool {
	return len(p.ApplyTo) == 0 || slices.Contains(p.ApplyTo, action)
}

type bundleSchema struct {
	Type            any    `json:"type"`
	ContentEncoding string `json:"contentEncoding"`
}

type bundleOutput struct {
	Definition string   `json:"definition"`
	ApplyTo    []string `json:"applyTo"`
	Path       string   `json:"path"`
}

// readBundleFile reads bundle.json; a missing file (or path "") is no
// bundle, a malformed one an error.
func readBundleFile(path string) (*bundleFile, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read bundle.json: %w", err)
	}
	var b bundleFile
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("read bundle.json %s: %w", path, err)
	}
	return &b, nil
}

// readRelocation reads the relocation mapping (original image → relocated
// image); a missing file is an empty mapping.
func readRelocation(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read relocation mapping: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read relocation mapping %s: %w", path, err)
	}
	return m, nil
}

// resolveImages computes ${ bundle.installerImage } and
// ${ bundle.images.* } as Porter's ResolveInvocationImage and
// ResolveImages do: from bundle.json, then through the relocation mapping.
func (r *runner) resolveImages() error {
	r.installerImage = ""
	if r.bun != nil {
		for _, img := range r.bun.InvocationImages {
			if img.ContentDigest == "" || img.ImageType != "docker" && img.ImageType != "" {
				continue
			}
			ref, err := manifest.ParseImageReference(img.Image)
			if err != nil {
				return fmt.Errorf("invocation image: %w", err)
			}
			ref.Digest = img.ContentDigest
			r.installerImage = ref.String()
			break
		}
		if r.installerImage == "" && len(r.bun.InvocationImages) > 0 {
			r.installerImage = r.bun.InvocationImages[0].Image
		}
		if relocated, ok := r.reloc[r.installerImage]; ok {
			r.installerImage = relocated
		} else if len(r.bun.InvocationImages) > 0 {
			if relocated, ok := r.reloc[r.bun.InvocationImages[0].Image]; ok {
				r.installerImage = relocated
			}
		}
	}

	r.images = map[string]any{}
	for alias, img := range r.m.Images {
		if img.Tag == "" && img.Digest == "" {
			img.Tag = "latest"
		}
		if r.bun != nil {
			if bi, ok := r.bun.Images[alias]; ok {
				img.Digest = bi.ContentDigest
				if err := resolveImage(&img, bi.Image); err != nil {
					return fmt.Errorf("image %s: %w", alias, err)
				}
				if relocated, ok := r.reloc[bi.Image]; ok {
					if err := resolveImage(&img, relocated); err != nil {
						return fmt.Errorf("image %s: relocated: %w", alias, err)
					}
				}
			}
		}
		labels := map[string]any{}
		for k, v := range img.Labels {
			labels[k] = v
		}
		r.images[alias] = map[string]any{
			"repository":  img.Repository,
			"tag":         img.Tag,
			"digest":      img.Digest,
			"imageType":   img.ImageType,
			"mediaType":   img.MediaType,
			"description": img.Description,
			"size":        strconv.FormatUint(img.Size, 10),
			"labels":      labels,
		}
	}
	return nil
}

// resolveImage updates img from a reference as Porter's resolveImage does:
// repository from it, digest and tag when it has them, tag latest when it
// is a bare repository.
func resolveImage(img *manifest.Image, ref string) error {
	parsed, err := manifest.ParseImageReference(ref)
	if err != nil {
		return err
	}
	img.Repository = parsed.Repository
	if parsed.Digest != "" {
		img.Digest = parsed.Digest
	}
	if parsed.Tag != "" {
		img.Tag = parsed.Tag
	}
	if parsed.Tag == "" && parsed.Digest == "" {
		img.Tag = "latest"
	}
	return nil
}
