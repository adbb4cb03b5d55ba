package build

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Stamp is Porter's build record, custom["sh.porter"] in bundle.json
// (getporter/porter pkg/cnab/config-adapter/stamp.go). Its presence marks a
// Porter bundle: `porter copy` and `porter publish --archive` refuse bundles
// without it, and `porter pull` extracts Manifest into its cache.
type Stamp struct {
	// ManifestDigest is the hex sha256 of porter.yaml, the builder version and
	// each mixin's name and version (sorted by name); Porter compares it to
	// decide whether a build is stale.
	ManifestDigest string `json:"manifestDigest"`
	// Mixins maps each mixin the bundle uses to its version.
	Mixins map[string]MixinRecord `json:"mixins"`
	// Manifest is porter.yaml, base64-encoded.
	Manifest string `json:"manifest"`
	// Version and Commit identify the builder.
	Version      string `json:"version"`
	Commit       string `json:"commit"`
	PreserveTags bool   `json:"preserveTags"`
}

// MixinRecord is one entry of Stamp.Mixins.
type MixinRecord struct {
	Version string `json:"version"`
}

func newStamp(m *manifest.Manifest, opts BundleOptions) (Stamp, error) {
	if len(m.Raw) == 0 {
		return Stamp{}, errors.New("the manifest has no Raw bytes to stamp")
	}
	s := Stamp{
		Mixins:   map[string]MixinRecord{},
		Manifest: base64.StdEncoding.EncodeToString(m.Raw),
		Version:  opts.BuilderVersion,
		Commit:   opts.BuilderCommit,
	}
	digest := slices.Concat(m.Raw, []byte(opts.BuilderVersion))
	names := slices.Clone(m.Mixins)
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		s.Mixins[name] = MixinRecord{Version: opts.MixinVersion}
		digest = slices.Concat(digest, []byte(name), []byte(opts.MixinVersion))
	}
	sum := sha256.Sum256(digest)
	s.ManifestDigest = hex.EncodeToString(sum[:])
	return s, nil
}
