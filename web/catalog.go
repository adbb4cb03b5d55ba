package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// maxIconBytes bounds an icon file served from a bundle.
const maxIconBytes = 256 << 10

// addCatalogInfo tells each installed app its catalog version, whether that
// is newer, and its login path. A catalog that cannot be read leaves the
// fields empty: it never fails the listing.
func (s *Server) addCatalogInfo(ctx context.Context, apps []appInfo) {
	list, err := s.Catalog.Catalog(ctx)
	if err != nil {
		return
	}
	byName := make(map[string]orchestrator.App, len(list))
	for _, a := range list {
		byName[a.Name] = a
	}
	for i := range apps {
		a, ok := byName[apps[i].App]
		if !ok {
			continue
		}
		apps[i].CatalogVersion = a.Version
		apps[i].Upgradable = a.Upgrades(orchestrator.Installation{App: apps[i].App, Version: apps[i].Version})
		apps[i].LoginPath = a.Meta.Login.Path
	}
}

// readIcon reads the icon file rel of a bundle directory without following
// links: the file must be a regular file inside dir, not a link (an icon
// linking to /etc/shadow is no icon), of at most maxIconBytes.
func readIcon(dir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rel = filepath.Clean(rel)
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxIconBytes {
		return nil, fmt.Errorf("icon %s is not a regular file of at most %d bytes", rel, maxIconBytes)
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxIconBytes))
}

// getCatalogIcon serves an app's icon from its bundle. SVG can carry
// script: the answer is sandboxed and never sniffed.
func (s *Server) getCatalogIcon(c echo.Context) error {
	a, err := s.Catalog.CatalogApp(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	if a.Meta.Icon == "" || a.Dir == "" {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "%s has no icon", a.Name)
	}
	data, err := readIcon(a.Dir, a.Meta.Icon)
	if err != nil {
		return orchestrator.WrapError(orchestrator.ENOTFOUND, err, "%s has no readable icon", a.Name)
	}
	ctype := http.DetectContentType(data)
	if filepath.Ext(a.Meta.Icon) == ".svg" {
		ctype = "image/svg+xml"
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	return c.Blob(http.StatusOK, ctype, data)
}

// revealCredentials answers an installed app's generated secrets once
// (POST: reading them changes what later reads get).
func (s *Server) revealCredentials(c echo.Context) error {
	cr, err := s.Apps.Credentials(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	out := appSecrets{App: cr.Installation, Credentials: cr.Values, Names: cr.Names, ShownAt: cr.ShownAt}
	if out.Names == nil {
		out.Names = []string{}
	}
	return c.JSON(http.StatusOK, out)
}
