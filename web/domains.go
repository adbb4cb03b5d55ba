package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// DomainService gives apps (and the console) domains the gateway serves.
type DomainService interface {
	Domains(ctx context.Context, installation string) ([]orchestrator.Domain, error)
	AddDomain(ctx context.Context, installation string, req orchestrator.DomainRequest) (orchestrator.Domain, error)
	RemoveDomain(ctx context.Context, installation, name string) (string, error)
}

func (s *Server) registerDomainRoutes(g *echo.Group) {
	g.GET("/apps/:name/domains", s.listDomains)
	g.POST("/apps/:name/domains", s.addDomain)
	g.DELETE("/apps/:name/domains/:domain", s.removeDomain)
	g.GET("/gateway", s.getGateway)
	g.POST("/gateway/domains", s.addDomain)
	g.DELETE("/gateway/domains/:domain", s.removeDomain)
}

// installationOf is the app a domain route is about ("" for the console's
// routes under /gateway).
func installationOf(c echo.Context) string { return c.Param("name") }

func toDomain(d orchestrator.Domain) wire.Domain {
	out := wire.Domain{Domain: d.Name, App: d.Installation, Port: d.Port, PathPrefix: d.PathPrefix, NoRedirect: d.NoRedirect,
		MaxBodyBytes: d.MaxBodyBytes, Created: d.Created, Rebind: d.Rebind, Upstream: d.Upstream, Exposed: d.Exposed,
		Certificate: wire.Certificate{State: d.Certificate.State, Issuer: d.Certificate.Issuer, Error: d.Certificate.Error, Attempts: d.Certificate.Attempts}}
	if !d.Certificate.NotAfter.IsZero() {
		t := d.Certificate.NotAfter
		out.Certificate.NotAfter = &t
	}
	if !d.Certificate.Updated.IsZero() {
		t := d.Certificate.Updated
		out.Certificate.Updated = &t
	}
	return out
}

// listDomains serves GET /api/v1/apps/{name}/domains.
func (s *Server) listDomains(c echo.Context) error {
	if s.Domains == nil {
		return c.JSON(http.StatusOK, []wire.Domain{})
	}
	list, err := s.Domains.Domains(c.Request().Context(), installationOf(c))
	if err != nil {
		return err
	}
	out := make([]wire.Domain, 0, len(list))
	for _, d := range list {
		out = append(out, toDomain(d))
	}
	return c.JSON(http.StatusOK, out)
}

// addDomain serves POST /api/v1/apps/{name}/domains and POST
// /api/v1/gateway/domains (the console's).
func (s *Server) addDomain(c echo.Context) error {
	if s.Domains == nil {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "this server runs without its gateway (serve --gateway): domains are not served")
	}
	var body wire.DomainRequest
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	d, err := s.Domains.AddDomain(c.Request().Context(), installationOf(c), orchestrator.DomainRequest{Domain: body.Domain, Port: body.Port,
		PathPrefix: body.PathPrefix, NoRedirect: body.NoRedirect, MaxBodyBytes: body.MaxBodyBytes})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toDomain(d))
}

// removeDomain serves DELETE /api/v1/apps/{name}/domains/{domain} and
// DELETE /api/v1/gateway/domains/{domain}.
func (s *Server) removeDomain(c echo.Context) error {
	if s.Domains == nil {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no domain %s", c.Param("domain"))
	}
	run, err := s.Domains.RemoveDomain(c.Request().Context(), installationOf(c), c.Param("domain"))
	if err != nil {
		return err
	}
	if run != "" {
		// The app's web port is published everywhere again, by a job.
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+run)
		return c.JSON(http.StatusAccepted, map[string]string{"rebind": run})
	}
	return c.NoContent(http.StatusNoContent)
}

// getGateway serves GET /api/v1/gateway: whether the gateway runs, how it
// gets certificates, and the console's domains.
func (s *Server) getGateway(c echo.Context) error {
	out := wire.Gateway{Domains: []wire.Domain{}}
	if s.Gateway != nil {
		out = s.Gateway()
		out.Domains = []wire.Domain{}
	}
	if s.Domains != nil && out.Enabled {
		list, err := s.Domains.Domains(c.Request().Context(), orchestrator.Console)
		if err != nil {
			return err
		}
		for _, d := range list {
			out.Domains = append(out.Domains, toDomain(d))
		}
	}
	return c.JSON(http.StatusOK, out)
}
