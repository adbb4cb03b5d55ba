package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

type newTokenBody struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

func (s *Server) registerTokenRoutes(g *echo.Group) {
	g.GET("/tokens", s.listTokens)
	g.POST("/tokens", s.createToken)
	g.DELETE("/tokens/:id", s.revokeToken)
}

func (s *Server) listTokens(c echo.Context) error {
	list, err := s.Auth.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]tokenDTO, 0, len(list))
	for _, t := range list {
		d := tokenDTO{ID: t.ID, Name: t.Name, Scope: string(t.Scope), Created: t.Created}
		if !t.LastUsed.IsZero() {
			lu := t.LastUsed
			d.LastUsed = &lu
		}
		out = append(out, d)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createToken(c echo.Context) error {
	var body newTokenBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	scope, err := orchestrator.ParseTokenScope(body.Scope)
	if err != nil {
		return err
	}
	secret, t, err := s.Auth.Create(c.Request().Context(), body.Name, scope)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tokenDTO{ID: t.ID, Name: t.Name, Scope: string(t.Scope), Created: t.Created, Token: secret})
}

func (s *Server) revokeToken(c echo.Context) error {
	if err := s.Auth.Revoke(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
