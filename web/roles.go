package web

import (
	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// routeRoles is the least role each authenticated route needs, by
// "METHOD path" as Echo registers it. A route missing here needs admin
// (TestEveryRouteHasARole lists them), so a new route is closed until it
// is placed. The seed's routes are added from seedRoutes: a mutating one
// needs an operator, a read a viewer.
var routeRoles = map[string]orchestrator.Role{
	"GET /api/v1/apps":                     orchestrator.RoleViewer,
	"GET /api/v1/apps/:name":               orchestrator.RoleViewer,
	"GET /api/v1/apps/:name/logs":          orchestrator.RoleViewer,
	"GET /api/v1/apps/:name/runs":          orchestrator.RoleViewer,
	"GET /api/v1/apps/:name/settings":      orchestrator.RoleViewer,
	"GET /api/v1/apps/:name/stats":         orchestrator.RoleViewer,
	"POST /api/v1/apps/:name/upgrade/plan": orchestrator.RoleOperator,
	"POST /api/v1/apps/:name/backups":      orchestrator.RoleOperator,
	"GET /api/v1/apps/:name/backups":       orchestrator.RoleViewer,

	"GET /api/v1/backups":              orchestrator.RoleViewer,
	"POST /api/v1/backups/prune":       orchestrator.RoleOperator,
	"POST /api/v1/backups/:id/restore": orchestrator.RoleOperator,
	"POST /api/v1/backups/:id/verify":  orchestrator.RoleOperator,
	"DELETE /api/v1/backups/:id":       orchestrator.RoleOperator,

	"GET /api/v1/apps/:name/backup-policy":    orchestrator.RoleViewer,
	"PUT /api/v1/apps/:name/backup-policy":    orchestrator.RoleOperator,
	"DELETE /api/v1/apps/:name/backup-policy": orchestrator.RoleOperator,
	"GET /api/v1/backup-policy":               orchestrator.RoleViewer,
	"PUT /api/v1/backup-policy":               orchestrator.RoleAdmin,

	"GET /api/v1/apps/:name/domains":            orchestrator.RoleViewer,
	"POST /api/v1/apps/:name/domains":           orchestrator.RoleOperator,
	"DELETE /api/v1/apps/:name/domains/:domain": orchestrator.RoleOperator,
	"GET /api/v1/gateway":                       orchestrator.RoleViewer,
	// The console's own domain: admins.
	"POST /api/v1/gateway/domains":           orchestrator.RoleAdmin,
	"DELETE /api/v1/gateway/domains/:domain": orchestrator.RoleAdmin,

	"GET /api/v1/repositories":                orchestrator.RoleAdmin,
	"POST /api/v1/repositories":               orchestrator.RoleAdmin,
	"DELETE /api/v1/repositories/:id":         orchestrator.RoleAdmin,
	"POST /api/v1/apps":                       orchestrator.RoleOperator,
	"DELETE /api/v1/apps/:name":               orchestrator.RoleOperator,
	"POST /api/v1/apps/:name/upgrade":         orchestrator.RoleOperator,
	"POST /api/v1/apps/:name/actions/:action": orchestrator.RoleOperator,
	// An app's secrets are not for viewers.
	"POST /api/v1/apps/:name/credentials": orchestrator.RoleOperator,

	"GET /api/v1/jobs/:id":        orchestrator.RoleViewer,
	"GET /api/v1/jobs/:id/events": orchestrator.RoleViewer,
	"DELETE /api/v1/jobs/:id":     orchestrator.RoleOperator,

	"GET /api/v1/catalog":            orchestrator.RoleViewer,
	"GET /api/v1/catalog/:name":      orchestrator.RoleViewer,
	"GET /api/v1/catalog/:name/icon": orchestrator.RoleViewer,
	// What a bundle asks for, and what was granted, anyone may read;
	// granting is trusting the bundle with more of the host: admins.
	"GET /api/v1/catalog/:name/permissions": orchestrator.RoleViewer,
	"GET /api/v1/grants":                    orchestrator.RoleViewer,
	"POST /api/v1/catalog/:name/grants":     orchestrator.RoleAdmin,
	"DELETE /api/v1/grants/:id":             orchestrator.RoleAdmin,
	// Adding a bundle is trusting someone else's code: admins only.
	"POST /api/v1/catalog/pull":    orchestrator.RoleAdmin,
	"POST /api/v1/catalog/import":  orchestrator.RoleAdmin,
	"POST /api/v1/catalog/bundles": orchestrator.RoleAdmin,

	// Anyone may see the cluster and its nodes; changing them, and the
	// join command's token (it adds machines to the cluster), is admins'.
	"GET /api/v1/cluster":             orchestrator.RoleViewer,
	"POST /api/v1/cluster/init":       orchestrator.RoleAdmin,
	"GET /api/v1/cluster/join":        orchestrator.RoleAdmin,
	"GET /api/v1/nodes":               orchestrator.RoleViewer,
	"POST /api/v1/nodes/:id/drain":    orchestrator.RoleAdmin,
	"POST /api/v1/nodes/:id/activate": orchestrator.RoleAdmin,
	"DELETE /api/v1/nodes/:id":        orchestrator.RoleAdmin,

	"GET /api/v1/server": orchestrator.RoleViewer,
	// Counts and latencies, no names: any role (serve --metrics-public
	// opens it to anyone).
	"GET /metrics":             orchestrator.RoleViewer,
	"GET /api/v1/openapi.json": orchestrator.RoleViewer,

	// Everyone manages their own login.
	"POST /api/v1/auth/logout":         orchestrator.RoleViewer,
	"GET /api/v1/auth/me":              orchestrator.RoleViewer,
	"POST /api/v1/auth/password":       orchestrator.RoleViewer,
	"POST /api/v1/auth/totp/enroll":    orchestrator.RoleViewer,
	"POST /api/v1/auth/totp/confirm":   orchestrator.RoleViewer,
	"POST /api/v1/auth/totp/disable":   orchestrator.RoleViewer,
	"POST /api/v1/auth/recovery-codes": orchestrator.RoleViewer,

	// People, tokens, the audit log and the debug routes are the admin's.
	"GET /api/v1/users":            orchestrator.RoleAdmin,
	"PATCH /api/v1/users/:name":    orchestrator.RoleAdmin,
	"DELETE /api/v1/users/:name":   orchestrator.RoleAdmin,
	"GET /api/v1/invites":          orchestrator.RoleAdmin,
	"POST /api/v1/invites":         orchestrator.RoleAdmin,
	"DELETE /api/v1/invites/:id":   orchestrator.RoleAdmin,
	"GET /api/v1/tokens":           orchestrator.RoleAdmin,
	"POST /api/v1/tokens":          orchestrator.RoleAdmin,
	"DELETE /api/v1/tokens/:id":    orchestrator.RoleAdmin,
	"GET /api/v1/audit/refusals":   orchestrator.RoleAdmin,
	"GET /api/v1/debug/runtime":    orchestrator.RoleAdmin,
	"GET /api/v1/debug/goroutines": orchestrator.RoleAdmin,
	"GET /api/v1/debug/cpu":        orchestrator.RoleAdmin,
	"GET /api/v1/debug/heap":       orchestrator.RoleAdmin,
}

func init() {
	for _, r := range seedRoutes {
		need := orchestrator.RoleViewer
		if r.mutating {
			need = orchestrator.RoleOperator
		}
		routeRoles["GET "+r.path] = need
		routeRoles["POST "+r.path] = need
	}
}

// routeRole is the least role the request's route needs.
func routeRole(c echo.Context) orchestrator.Role {
	if need, ok := routeRoles[c.Request().Method+" "+c.Path()]; ok {
		return need
	}
	return orchestrator.RoleAdmin
}

// roleOf is the role of whoever authenticated the request.
func roleOf(c echo.Context) orchestrator.Role {
	switch who := c.Get("who").(type) {
	case orchestrator.Token:
		return who.Scope
	case orchestrator.Session:
		return who.Role
	}
	return ""
}

// whoName names whoever authenticated the request, for records of who
// did what: a user's name, or "token:<name>".
func whoName(c echo.Context) string {
	switch who := c.Get("who").(type) {
	case orchestrator.Token:
		return "token:" + who.Name
	case orchestrator.Session:
		return who.User
	}
	return ""
}

// requireRole refuses the request unless its caller's role allows need.
func requireRole(c echo.Context, need orchestrator.Role, what string) error {
	if have := roleOf(c); !have.Allows(need) {
		return orchestrator.Errorf(orchestrator.EFORBIDDEN, "%s needs the %s role; you are %s", what, need, describeRole(have))
	}
	return nil
}

func describeRole(r orchestrator.Role) string {
	if r == "" {
		return "not signed in"
	}
	return "a " + string(r)
}
