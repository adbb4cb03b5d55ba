// Package console is StackHub's web console: one HTML page, plain ES
// modules and a style sheet, embedded in the binary with go:embed and
// served by package web. There is no build step and no third-party code:
// what is in static/ is what the browser runs.
//
// The console is a client of the public HTTP API only (/api/v1 with the
// session cookie and the CSRF header); it routes on the URL's fragment
// (#/catalog, #/apps, #/server, #/settings), so the server serves static
// files and nothing else. It imports only the standard library.
package console

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Index is the name of the console's page within FS.
const Index = "index.html"

// FS returns the console's files, rooted so that Index is at the top and
// modules sit beside it (app.js, views/catalog.js, …). It is read-only and
// safe for concurrent use.
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil { // "static" is a valid path, embedded above: cannot happen
		panic("console: " + err.Error())
	}
	return sub
}
