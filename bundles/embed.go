// Package bundles is StackHub's catalog: one Porter bundle per directory
// (porter.yaml, its compose file and icon), embedded in the stackhub binary.
// The test bundles under testdata are not part of it.
package bundles

import (
	"embed"
	"io/fs"
)

//go:embed */porter.yaml */*.yml */*.yaml */*.svg
var files embed.FS

// FS returns the catalog's files: <app>/porter.yaml and the files beside it.
func FS() fs.FS { return files }
