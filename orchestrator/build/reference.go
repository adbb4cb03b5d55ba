package build

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/distribution/reference"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Reference returns the bundle's OCI reference as Porter computes it
// (pkg/manifest SetInvocationImageAndReference): porter.yaml's reference
// when set, else <registry>/<name>; without a tag, the tag is v<version>
// with '+' written as '_'. The result is in Docker's familiar form
// (docker.io/library/ is dropped). It returns an error when neither registry
// nor reference is set, when the reference is invalid or when it carries a
// digest.
func Reference(m *manifest.Manifest) (string, error) {
	ref, err := bundleRef(m)
	if err != nil {
		return "", err
	}
	return reference.FamiliarString(ref), nil
}

// InvocationImage returns the tag Porter gives the invocation image of the
// bundle whose reference is bundleRef (pkg/cnab CalculateTemporaryImageTag):
// the bundle's repository with tag porter-<hex md5 of bundleRef in familiar
// form>, e.g.
// example.com/mybuns:v1.0.0 → example.com/mybuns:porter-a3ffa80326b2e3a64e9ed3f377204ab2.
func InvocationImage(bundleRef string) (string, error) {
	named, err := reference.ParseNormalizedNamed(bundleRef)
	if err != nil {
		return "", fmt.Errorf("bundle reference %q: %w", bundleRef, err)
	}
	if _, ok := named.(reference.Tagged); !ok {
		return "", fmt.Errorf("bundle reference %q has no tag", bundleRef)
	}
	sum := md5.Sum([]byte(reference.FamiliarString(named)))
	tagged, err := reference.WithTag(reference.TrimNamed(named), "porter-"+hex.EncodeToString(sum[:]))
	if err != nil {
		return "", fmt.Errorf("bundle reference %q: %w", bundleRef, err)
	}
	return reference.FamiliarString(tagged), nil
}

func bundleRef(m *manifest.Manifest) (reference.Named, error) {
	raw := m.Reference
	if raw == "" {
		if m.Registry == "" {
			return nil, errors.New("porter.yaml: registry or reference is required")
		}
		repo, err := reference.ParseNormalizedNamed(path.Join(m.Registry, m.Name))
		if err != nil {
			return nil, fmt.Errorf("porter.yaml: bundle repository %s: %w", path.Join(m.Registry, m.Name), err)
		}
		raw = reference.FamiliarName(repo)
	}
	named, err := reference.ParseNormalizedNamed(raw)
	if err != nil {
		return nil, fmt.Errorf("porter.yaml: reference %q: %w", raw, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return nil, fmt.Errorf("porter.yaml: reference %q: a bundle reference takes a tag, not a digest", raw)
	}
	if _, ok := named.(reference.Tagged); ok {
		return named, nil
	}
	tag := "v" + strings.ReplaceAll(m.Version, "+", "_")
	tagged, err := reference.WithTag(named, tag)
	if err != nil {
		return nil, fmt.Errorf("porter.yaml: version %q does not make a valid tag %q: %w", m.Version, tag, err)
	}
	return tagged, nil
}
