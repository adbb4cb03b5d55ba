package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// GrantService reads what bundles declare beyond the default bundle
// policy and keeps the operator's grants of it.
type GrantService interface {
	AppPermissions(ctx context.Context, name string) (orchestrator.AppPermissions, error)
	GrantPermissions(ctx context.Context, req orchestrator.GrantRequest) (orchestrator.Grant, bool, error)
	Grants(ctx context.Context) ([]orchestrator.Grant, error)
	RevokeGrant(ctx context.Context, id, by string) error
}

func (s *Server) registerGrantRoutes(g *echo.Group) {
	g.GET("/catalog/:name/permissions", s.getAppPermissions)
	g.POST("/catalog/:name/grants", s.grantPermissions)
	g.GET("/grants", s.listGrants)
	g.DELETE("/grants/:id", s.revokeGrant)
}

// grantor returns who asks to grant or revoke bundle permissions, as the
// grant records them (a console user's name, or token:<name>), or
// EFORBIDDEN when they may not: only admins may, that is admin tokens and
// console users (every console user is an admin). It is the one place
// the API decides who may consent for the host.
func grantor(c echo.Context) (string, error) {
	// routeRoles holds these routes to admins already; this says so again
	// where the grant is recorded.
	if c.Get("who") == nil {
		return "", orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "not logged in")
	}
	if err := requireRole(c, orchestrator.RoleAdmin, "granting or revoking bundle permissions"); err != nil {
		return "", err
	}
	return whoName(c), nil
}

func toGrant(g orchestrator.Grant) grantDTO {
	return grantDTO{ID: g.ID, App: g.App, Version: g.Version, Digest: g.Digest, Permissions: orchestrator.PermissionStrings(g.Permissions),
		GrantedBy: g.GrantedBy, GrantedAt: g.GrantedAt}
}

// getAppPermissions serves GET /api/v1/catalog/{name}/permissions: what
// the app's bundle declares, in plain words, its live grant and what an
// install still lacks.
func (s *Server) getAppPermissions(c echo.Context) error {
	ap, err := s.Grants.AppPermissions(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	out := appPermissionsDTO{App: ap.App, Version: ap.Version, Digest: ap.Digest, Permissions: []permissionDTO{},
		Missing: orchestrator.PermissionStrings(ap.Missing())}
	for _, p := range ap.Declared {
		out.Permissions = append(out.Permissions, permissionDTO{Permission: string(p), Description: p.Describe()})
	}
	if ap.Grant != nil {
		g := toGrant(*ap.Grant)
		out.Grant = &g
	}
	return c.JSON(http.StatusOK, out)
}

// grantPermissions serves POST /api/v1/catalog/{name}/grants {digest,
// permissions}: an admin's consent to exactly what the bundle of that
// digest declares (400 otherwise, 409 when the catalog's bundle is no
// longer that digest). 201 with the grant; 200 with the grant already
// recorded when it is the same.
func (s *Server) grantPermissions(c echo.Context) error {
	by, err := grantor(c)
	if err != nil {
		return err
	}
	var body grantBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	g, created, err := s.Grants.GrantPermissions(c.Request().Context(), orchestrator.GrantRequest{App: c.Param("name"),
		Digest: body.Digest, Permissions: body.Permissions, By: by})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, toGrant(g))
}

// listGrants serves GET /api/v1/grants: the live grants, oldest first.
func (s *Server) listGrants(c echo.Context) error {
	list, err := s.Grants.Grants(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]grantDTO, 0, len(list))
	for _, g := range list {
		out = append(out, toGrant(g))
	}
	return c.JSON(http.StatusOK, out)
}

// revokeGrant serves DELETE /api/v1/grants/{id} (admins): later installs
// and upgrades of that bundle are refused until it is granted again.
func (s *Server) revokeGrant(c echo.Context) error {
	by, err := grantor(c)
	if err != nil {
		return err
	}
	if err := s.Grants.RevokeGrant(c.Request().Context(), c.Param("id"), by); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
