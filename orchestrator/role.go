package orchestrator

// Role is what a person or a token may do. Each role allows what the one
// below it does, and more:
//
//	viewer    reads apps, jobs, logs, the catalog and the server's state
//	operator  also installs, upgrades, uninstalls, runs actions, cancels jobs
//	admin     also manages users, invites, tokens, grants and the catalog
type Role string

// Roles.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Roles lists the roles from least to most.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

// ParseRole returns s as a Role. "read", the scope of tokens made before
// roles, is a viewer. Returns EINVALID for anything else.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleOperator, RoleAdmin:
		return r, nil
	case "read":
		return RoleViewer, nil
	}
	return "", Errorf(EINVALID, "role %q must be viewer, operator or admin", s)
}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows tells whether r may do what need may: a role allows its own and
// every lesser role's work. An unknown role allows nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }
