package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// AuditReader reads the bundle policy's refusals.
type AuditReader interface {
	Refusals(ctx context.Context, installation string, limit int) ([]orchestrator.PolicyRefusal, error)
}

// refusalDTO is one refused call of a bundle.
type refusalDTO struct {
	At           time.Time `json:"at"`
	Installation string    `json:"installation"`
	Run          string    `json:"run"`
	Rule         string    `json:"rule"`
	Call         string    `json:"call"`
	Detail       string    `json:"detail"`
}

const defaultRefusalsLimit = 100

func (s *Server) registerAuditRoutes(g *echo.Group) {
	g.GET("/audit/refusals", s.getRefusals)
}

// getRefusals answers the audit log of refused bundle calls, newest
// first, to admins only (a read token sees apps, not this log).
func (s *Server) getRefusals(c echo.Context) error {
	if s.Audit == nil {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "no audit log is kept")
	}
	limit := defaultRefusalsLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return orchestrator.Errorf(orchestrator.EINVALID, "limit must be a whole number between 1 and %d", orchestrator.MaxRefusalsLimit)
		}
		limit = n
	}
	list, err := s.Audit.Refusals(c.Request().Context(), c.QueryParam("installation"), limit)
	if err != nil {
		return err
	}
	out := make([]refusalDTO, 0, len(list))
	for _, r := range list {
		out = append(out, refusalDTO{At: r.At, Installation: r.Installation, Run: r.RunID, Rule: r.Rule, Call: r.Call, Detail: r.Detail})
	}
	return c.JSON(http.StatusOK, out)
}
