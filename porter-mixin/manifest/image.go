package manifest

import (
	"fmt"
	"strings"
)

// ImageRef is an image reference split as Porter's runtime splits one
// (pkg/cnab OCIReference) to fill ${ bundle.images.<alias>.* }.
type ImageRef struct {
	// Repository is the familiar name: docker.io/library/nginx is nginx,
	// docker.io/bitnami/redis is bitnami/redis.
	Repository string
	Tag        string
	Digest     string
}

// ParseImageReference splits ref into repository, tag and digest. It
// returns an error for an empty repository or a malformed digest; it does
// not check every rule of the reference grammar.
func ParseImageReference(ref string) (ImageRef, error) {
	var r ImageRef
	name := ref
	if before, after, ok := strings.Cut(ref, "@"); ok {
		name, r.Digest = before, after
		if !digestRE.MatchString(r.Digest) {
			return ImageRef{}, fmt.Errorf("image reference %q: %q is not a digest", ref, r.Digest)
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, r.Tag = name[:i], name[i+1:]
	}
	if name == "" {
		return ImageRef{}, fmt.Errorf("image reference %q has no repository", ref)
	}
	r.Repository = familiarName(name)
	return r, nil
}

// familiarName drops Docker Hub's implied parts, as distribution/reference
// FamiliarName does.
func familiarName(name string) string {
	for _, hub := range []string{"docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(name, hub); ok {
			if lib, ok := strings.CutPrefix(rest, "library/"); ok && !strings.Contains(lib, "/") {
				return lib
			}
			return rest
		}
	}
	return name
}

// String returns the reference as repository[:tag][@digest].
func (r ImageRef) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
