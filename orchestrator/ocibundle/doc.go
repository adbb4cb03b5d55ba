// Package ocibundle moves CNAB bundles between StackHub, OCI registries and
// air-gap archives, in the forms Porter uses (porter-compat.md §8):
//
//   - [Publish] pushes a built bundle (orchestrator/build) as `porter
//     publish` does: the invocation image under <repo>:porter-<md5>, every
//     images: entry copied into the bundle repository (from the local
//     Docker engine when it holds the image, else registry to registry),
//     then bundle.json and the OCI index with cnab-to-oci (media types,
//     annotations and fallbacks of cnabio/cnab-to-oci v0.6.1). The tag
//     defaults to v<version> ([Tag]); an existing tag is replaced only with
//     Force.
//   - [Pull] reads bundle.json, the relocation map and the index digest
//     back, refusing what is not a CNAB bundle and bundles whose
//     invocation image has no contentDigest or whose digests disagree
//     with the index.
//   - [Archive] writes the CNAB air-gap ("thick bundle") form and
//     [LoadArchive] reads it back into a Docker engine with no registry.
//
// Credentials come from the Docker client configuration (config.json auths
// and credential helpers), read through docker/cli and handed both to
// cnab-to-oci's resolver and to go-containerregistry; see [Registry].
// Errors are *orchestrator.Error values: ENOTFOUND (no such repository or
// tag), EINVALID (bad reference, not a CNAB bundle, digest mismatch),
// EUNAUTHORIZED (credentials refused), EUNAVAILABLE (registry or Docker not
// answering), ECONFLICT (tag exists). Their messages name the reference and
// never hold credentials.
//
// # Archive layout
//
// An archive is a gzipped tar, written as `porter archive` writes it
// (getporter/porter pkg/porter/archive.go, cnab-spec 104-bundle-formats.md):
//
//	./bundle.json                       canonical bundle.json; every image has contentDigest, size, mediaType
//	./relocation-mapping.json           image as in bundle.json → the reference it was archived from
//	./artifacts/layout/oci-layout       {"imageLayoutVersion": "1.0.0"}
//	./artifacts/layout/index.json       one descriptor per image (invocation image and each images: entry)
//	./artifacts/layout/blobs/sha256/…   manifests, configs and layers
//
// Each index.json descriptor carries org.opencontainers.image.ref.name = the
// reference in relocation-mapping.json (as cnab-go's ocilayout image store
// records it) and its digest is the image's contentDigest, so every image
// reference in bundle.json maps to a layout digest. Files have mtime 0,
// mode 0644 (directories 0755), owner 0:0, and bundle.json and the layout's
// index come before the blobs so a reader can stop early.
//
// Differences from Porter: Porter archives only published bundles (it pulls
// every image from its registry copy); [Archive] also takes a bundle built
// locally, whose invocation image is still in memory and whose images:
// entries may exist only in the local Docker engine. Such an archive's
// relocation-mapping.json maps each image to itself, and the archived
// bundle.json gains the contentDigest of each image as stored in the
// layout (an images: entry read from Docker gets the digest of the
// manifest go-containerregistry computes for it). An images: entry that
// names a multi-platform index is stored as that index.
//
// [LoadArchive] verifies every manifest blob against its contentDigest and
// every config and layer blob against the manifest before loading
// anything, then loads each image into Docker (docker load) under a tag:
// the image's own reference when it has a tag, else <repository>:<algo>-<hex>
// of its digest; the returned relocation map sends each bundle.json image
// to that tag. Docker gives loaded images no RepoDigests, so an engine that
// runs such a bundle with cnab-go must clear invocationImages[0]
// contentDigest after LoadArchive has verified it (porter-compat.md §0.4).
//
// ocibundle is an adapter over cnab-to-oci and go-containerregistry. It
// imports the domain root (error codes) and orchestrator/build (Porter's
// invocation image tag); it never imports web, the other adapters or
// cnab-go's driver and action packages (cmd/stackhub/deps_test.go), and
// orchestrator never imports it.
package ocibundle
