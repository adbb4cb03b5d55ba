package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

func toJob(r orchestrator.Run) job {
	j := job{ID: r.ID, App: r.Installation, Action: string(r.Action), Status: string(r.Status), Message: r.Message,
		Outputs: r.Outputs, Created: r.Created}
	if !r.Finished.IsZero() {
		f := r.Finished
		j.Finished = &f
	}
	return j
}

func (s *Server) registerAppRoutes(g *echo.Group) {
	g.GET("/apps", s.listApps)
	g.POST("/apps", s.installAppV1)
	g.DELETE("/apps/:name", s.uninstallAppV1)
	g.GET("/apps/:name", s.getApp)
	g.POST("/apps/:name/upgrade", s.upgradeApp)
	g.POST("/apps/:name/upgrade/plan", s.planUpgrade)
	g.GET("/apps/:name/settings", s.getSettings)
	g.GET("/apps/:name/stats", s.getStats)
	g.POST("/apps/:name/actions/:action", s.appAction)
	g.GET("/apps/:name/logs", s.getLogs)
	g.GET("/apps/:name/runs", s.getRuns)
	g.POST("/apps/:name/credentials", s.revealCredentials)
}

func (s *Server) registerJobRoutes(g *echo.Group) {
	g.GET("/jobs/:id", s.getJob)
	g.GET("/jobs/:id/events", s.jobEvents)
	g.DELETE("/jobs/:id", s.cancelJob)
}

func (s *Server) registerCatalogRoutes(g *echo.Group) {
	g.GET("/catalog", s.listCatalog)
	g.GET("/catalog/:name", s.getCatalogApp)
	g.GET("/catalog/:name/icon", s.getCatalogIcon)
	g.POST("/catalog/pull", s.pullBundle)
	g.POST("/catalog/import", s.importBundle)
	g.POST("/catalog/bundles", s.addBundleDir)
}

// listApps serves GET /api/v1/apps (the console polls it), from the last
// rendering while the engine's ListStamp, which covers the catalog, has not
// moved.
func (s *Server) listApps(c echo.Context) error {
	return s.apps.serve(c, s.Apps, false, func() (any, error) {
		list, err := s.Apps.List(c.Request().Context())
		if err != nil {
			return nil, err
		}
		out := toAppInfos(list)
		s.addCatalogInfo(c.Request().Context(), out)
		return out, nil
	})
}

// installBody asks for one catalog app, optionally under another name so
// that one app can be installed twice.
type installBody struct {
	App  string `json:"app"`
	Name string `json:"name"`
	// Reference installs a bundle from an OCI registry instead of app.
	Reference string `json:"reference"`
	// Force skips the preflight check of the app's requirements.
	Force bool `json:"force"`
	// Parameters are values for the bundle's parameters, checked against
	// its definitions; a port parameter asks for that port.
	Parameters map[string]any `json:"parameters"`
	// Node places the app on this Swarm node (ID or hostname); empty lets
	// StackHub pick one on a Swarm manager.
	Node string `json:"node"`
}

func (s *Server) installAppV1(c echo.Context) error {
	var body installBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.App == "" && body.Reference == "" {
		return orchestrator.Errorf(orchestrator.EINVALID, "app or reference is required")
	}
	if body.Reference != "" {
		// A reference adds a bundle to the catalog, as a pull does.
		if err := requireRole(c, orchestrator.RoleAdmin, "installing by reference (it adds a bundle to the catalog)"); err != nil {
			return err
		}
	}
	inst, err := s.Lifecycle.Install(c.Request().Context(), orchestrator.InstallRequest{App: body.App, Name: body.Name, Force: body.Force,
		Reference: body.Reference, Parameters: body.Parameters, Node: body.Node})
	if err != nil {
		return err
	}
	return appJobAccepted(c, inst)
}

// appJobAccepted answers an install or uninstall: 202 with the app and its
// job, whose path is also the Location.
func appJobAccepted(c echo.Context, inst orchestrator.Installation) error {
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+inst.LastRunID)
	return c.JSON(http.StatusAccepted, map[string]any{"app": toAppInfo(inst), "job": "/api/v1/jobs/" + inst.LastRunID})
}

// uninstallAppV1 serves DELETE /api/v1/apps/{name}?purge=: the uninstall
// runs as a job (follow, cancel it under /api/v1/jobs/{id}); the job's
// outputs say what it removed.
func (s *Server) uninstallAppV1(c echo.Context) error {
	purge := false
	if v := c.QueryParam("purge"); v != "" {
		b, err := asBool("purge", queryValue(v))
		if err != nil {
			return err
		}
		purge = b
	}
	inst, err := s.Lifecycle.StartUninstall(c.Request().Context(), orchestrator.UninstallRequest{Name: c.Param("name"), Purge: purge})
	if err != nil {
		return err
	}
	return appJobAccepted(c, inst)
}

func (s *Server) getCatalogApp(c echo.Context) error {
	a, err := s.Catalog.CatalogApp(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCatalogApp(a))
}

// pullBody names a bundle in an OCI registry.
type pullBody struct {
	Reference string `json:"reference"`
	// Force replaces a catalog entry of the same name and version whose
	// digest differs (409 otherwise).
	Force bool `json:"force"`
}

// pullBundle adds a registry bundle to the catalog (201 with its entry).
func (s *Server) pullBundle(c echo.Context) error {
	var body pullBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Reference == "" {
		return orchestrator.Errorf(orchestrator.EINVALID, "reference is required")
	}
	a, err := s.Catalog.PullBundle(c.Request().Context(), body.Reference, orchestrator.AddOptions{Force: body.Force})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCatalogApp(a))
}

// MaxArchiveBytes bounds an imported bundle archive (the app's images
// travel in it).
const MaxArchiveBytes = 8 << 30

// importBundle adds the bundle of a CNAB archive, the request body, to the
// catalog (201 with its entry).
func (s *Server) importBundle(c echo.Context) error {
	// The server's read and write timeouts suit API calls, not an upload
	// of images and their load into Docker.
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	opts, err := addOptions(c)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, MaxArchiveBytes)
	a, err := s.Catalog.ImportBundle(c.Request().Context(), body, opts)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return orchestrator.Errorf(orchestrator.EINVALID, "the archive is larger than %d bytes", MaxArchiveBytes)
		}
		return err
	}
	return c.JSON(http.StatusCreated, toCatalogApp(a))
}

// MaxBundleDirBytes bounds an added bundle directory's tar: its files are
// a manifest, compose files and an icon (the server takes 10 MiB of them).
const MaxBundleDirBytes = 16 << 20

// addBundleDir adds a bundle directory, the request body as a tar (gzip
// or not), to the catalog (201 with its entry): 400 for a bad tar or a
// bundle with lint errors or policy violations (each one named), 409 when
// its name is a catalog directory's app, or its name and version are in
// the catalog with another digest and force is not set.
func (s *Server) addBundleDir(c echo.Context) error {
	opts, err := addOptions(c)
	if err != nil {
		return err
	}
	body := &limitedBody{r: http.MaxBytesReader(c.Response(), c.Request().Body, MaxBundleDirBytes)}
	a, err := s.Catalog.AddBundleDir(c.Request().Context(), body, opts)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok || body.over {
			return orchestrator.Errorf(orchestrator.EINVALID, "the bundle directory's tar is larger than %d bytes", MaxBundleDirBytes)
		}
		return err
	}
	return c.JSON(http.StatusCreated, toCatalogApp(a))
}

// addOptions reads the force query parameter of an addition to the
// catalog.
func addOptions(c echo.Context) (orchestrator.AddOptions, error) {
	var opts orchestrator.AddOptions
	if v := c.QueryParam("force"); v != "" {
		f, err := strconv.ParseBool(v)
		if err != nil {
			return opts, orchestrator.Errorf(orchestrator.EINVALID, "force must be true or false")
		}
		opts.Force = f
	}
	return opts, nil
}

// limitedBody remembers that a request body went over its bound, whatever
// a reader above it (gzip, tar) made of the error.
type limitedBody struct {
	r    io.Reader
	over bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.over = true
	}
	return n, err
}

func (s *Server) getApp(c echo.Context) error {
	inst, err := s.Apps.Info(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	out := []appInfo{toAppInfo(inst)}
	s.addCatalogInfo(c.Request().Context(), out)
	return c.JSON(http.StatusOK, out[0])
}

// accepted answers 202 with the job and its Location.
func accepted(c echo.Context, r orchestrator.Run) error {
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+r.ID)
	return c.JSON(http.StatusAccepted, toJob(r))
}

// upgradeBody is the optional body of an upgrade.
type upgradeBody struct {
	Parameters map[string]any `json:"parameters"`
}

func (s *Server) upgradeApp(c echo.Context) error {
	var body upgradeBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	r, err := s.Lifecycle.Upgrade(c.Request().Context(), orchestrator.UpgradeRequest{Name: c.Param("name"), Parameters: body.Parameters})
	if err != nil {
		return err
	}
	return accepted(c, r)
}

func (s *Server) appAction(c echo.Context) error {
	action, err := orchestrator.ParseAction(c.Param("action"))
	if err != nil {
		return err
	}
	r, err := s.Lifecycle.Action(c.Request().Context(), orchestrator.ActionRequest{Name: c.Param("name"), Action: action})
	if err != nil {
		return err
	}
	return accepted(c, r)
}

func (s *Server) getJob(c echo.Context) error {
	r, err := s.Jobs.Run(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toJob(r))
}

// defaultRunsLimit is the page size of GET /api/v1/apps/{name}/runs
// without ?limit.
const defaultRunsLimit = 50

// getRuns serves GET /api/v1/apps/{name}/runs?limit=N: the app's runs
// (jobs), newest first.
func (s *Server) getRuns(c echo.Context) error {
	limit := defaultRunsLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return orchestrator.Errorf(orchestrator.EINVALID, "limit must be a whole number between 1 and %d", orchestrator.MaxRunsLimit)
		}
		limit = n
	}
	runs, err := s.Apps.Runs(c.Request().Context(), c.Param("name"), limit)
	if err != nil {
		return err
	}
	out := make([]job, 0, len(runs))
	for _, r := range runs {
		out = append(out, toJob(r))
	}
	return c.JSON(http.StatusOK, out)
}

// decodeStrict reads an optional JSON body into v, refusing unknown fields
// and anything after the value.
func decodeStrict(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "cannot read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return orchestrator.WrapError(orchestrator.EINVALID, err, "bad request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return orchestrator.Errorf(orchestrator.EINVALID, "bad request body: it must hold one JSON value")
	}
	return nil
}
