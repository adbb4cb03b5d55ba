package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/web/console"
)

// consoleCSP is the console's Content-Security-Policy: scripts, styles and
// connections from this origin only, images also as data: URLs, no framing.
const consoleCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

// consoleTypes are the content types of the console's files, by
// extension; a file of another kind is not served.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// consoleFile is one embedded file with its entity tag.
type consoleFile struct {
	data  []byte
	ctype string
	etag  string
}

// registerConsoleRoutes serves the web console without credentials (the
// API it calls enforces them): GET / and /console redirect to /console/,
// which is the page; /console/<file> are its modules and styles. Every
// answer carries the console's CSP and nosniff, and no-cache with an ETag,
// so a browser revalidates and picks up a new binary's files at once.
func (s *Server) registerConsoleRoutes(e *echo.Echo) {
	files, err := loadConsole(console.FS())
	if err != nil { // the files are embedded: only a broken build gets here
		s.log().Error("web console unavailable", "err", err)
		return
	}
	toConsole := func(c echo.Context) error { return c.Redirect(http.StatusFound, "/console/") }
	e.GET("/", toConsole)
	e.GET("/console", toConsole)
	e.GET("/console/*", func(c echo.Context) error {
		name := c.Param("*")
		if name == "" {
			name = console.Index
		}
		f, ok := files[name]
		if !ok {
			return echo.ErrNotFound
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set(echo.HeaderCacheControl, "no-cache")
		h.Set(echo.HeaderContentType, f.ctype)
		h.Set("ETag", f.etag)
		http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(f.data))
		return nil
	})
}

// loadConsole reads every servable file of fsys once, keyed by its
// slash-separated path.
func loadConsole(fsys fs.FS) (map[string]consoleFile, error) {
	out := map[string]consoleFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := consoleTypes[strings.ToLower(path.Ext(p))]
		if !ok {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read console file %s: %w", p, err)
		}
		sum := sha256.Sum256(data)
		out[p] = consoleFile{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load the console: %w", err)
	}
	if _, ok := out[console.Index]; !ok {
		return nil, fmt.Errorf("load the console: %s is missing", console.Index)
	}
	return out, nil
}
