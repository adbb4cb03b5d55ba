package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Grant is an operator's consent that one bundle, by digest, may do what
// it declares beyond StackHub's default bundle policy
// (custom.sh.websoft9.permissions), recorded with who gave it and when.
//
// Grants are per bundle digest: a new version, or the same version
// rebuilt, is another bundle and needs its own grant, even when it asks
// for the same permissions or fewer. Consent is given to code, not to a
// name.
type Grant struct {
	ID string
	// App and Version name the bundle as the catalog did when it was
	// granted; Digest identifies it (App.Digest).
	App     string
	Version string
	Digest  string
	// Permissions are what was granted: the bundle's declared set, in
	// canonical form (ParsePermissions).
	Permissions []Permission
	// GrantedBy is who consented: a console user's name, or token:<name>.
	GrantedBy string
	GrantedAt time.Time
}

// Grants stores the operator's grants. A revoked grant is kept, with who
// revoked it and when, but no longer counts.
type Grants interface {
	// CreateGrant stores g. Returns ECONFLICT if a live grant of g.App
	// and g.Digest exists.
	CreateGrant(ctx context.Context, g Grant) error
	// LiveGrant returns the live grant of app's bundle digest. Returns
	// ENOTFOUND if there is none.
	LiveGrant(ctx context.Context, app, digest string) (Grant, error)
	// ListGrants returns the live grants, oldest first.
	ListGrants(ctx context.Context) ([]Grant, error)
	// RevokeGrant ends grant id, recording by and now. Returns ENOTFOUND
	// if no live grant has that id.
	RevokeGrant(ctx context.Context, id, by string, now time.Time) error
}

// AppPermissions is what an app's bundle asks for beyond the default
// bundle policy and the live grant of that bundle, if any.
type AppPermissions struct {
	App     string
	Version string
	Digest  string
	// Declared are the bundle's permissions, canonical; nil when it
	// needs nothing beyond the default policy.
	Declared []Permission
	// Grant is the live grant of Digest, nil if there is none.
	Grant *Grant
}

// Missing returns the declared permissions the grant does not hold (all
// of them without a grant).
func (a AppPermissions) Missing() []Permission {
	var granted []Permission
	if a.Grant != nil {
		granted = a.Grant.Permissions
	}
	return Missing(granted, a.Declared)
}

// usable returns what a run of the bundle may do: the declared
// permissions the grant holds, nothing the bundle did not declare.
func (a AppPermissions) usable() []Permission {
	if a.Grant == nil {
		return nil
	}
	var out []Permission
	for _, p := range a.Declared {
		if slices.Contains(a.Grant.Permissions, p) {
			out = append(out, p)
		}
	}
	return out
}

// AppPermissions returns what catalog app name declares and its grant.
// Returns EINVALID for a bad name and ENOTFOUND for an app not in the
// catalog.
func (e *Engine) AppPermissions(ctx context.Context, name string) (AppPermissions, error) {
	if err := validateName("appName", name); err != nil {
		return AppPermissions{}, err
	}
	app, err := e.d.Catalog.App(ctx, name)
	if err != nil {
		return AppPermissions{}, fmt.Errorf("permissions of %s: %w", name, err)
	}
	return e.permissionsOf(ctx, app)
}

// permissionsOf looks up the live grant of app's bundle when it declares
// permissions.
func (e *Engine) permissionsOf(ctx context.Context, app App) (AppPermissions, error) {
	out := AppPermissions{App: app.Name, Version: app.Version, Digest: app.Digest, Declared: app.Permissions}
	if len(app.Permissions) == 0 || app.Digest == "" || e.d.Grants == nil {
		return out, nil
	}
	g, err := e.d.Grants.LiveGrant(ctx, app.Name, app.Digest)
	switch ErrorCode(err) {
	case "":
		out.Grant = &g
	case ENOTFOUND:
	default:
		return AppPermissions{}, fmt.Errorf("grant of %s %s: %w", app.Name, app.Digest, err)
	}
	return out, nil
}

// GrantRequest is an operator's consent to what one bundle declares.
type GrantRequest struct {
	// App is the catalog name.
	App string
	// Digest is the bundle digest the operator reviewed
	// (AppPermissions.Digest): the consent is to that bundle only.
	Digest string
	// Permissions must be the bundle's declared set exactly, in any
	// order and any spelling ParsePermission accepts.
	Permissions []string
	// By is who grants: a console user's name, or token:<name>.
	By string
}

// GrantPermissions records req. When the bundle already has a live grant
// of the same permissions that grant is returned as it is, and created is
// false.
//
// Returns EINVALID for a bad name, a missing digest or grantor, a bundle
// that declares nothing, or permissions that are not exactly the declared
// set; ENOTFOUND for an app not in the catalog; ECONFLICT when digest is
// not the catalog's bundle of the app (it changed since it was reviewed);
// EUNAVAILABLE when this server keeps no grants.
func (e *Engine) GrantPermissions(ctx context.Context, req GrantRequest) (g Grant, created bool, err error) {
	if err := validateName("appName", req.App); err != nil {
		return Grant{}, false, err
	}
	if e.d.Grants == nil {
		return Grant{}, false, Errorf(EUNAVAILABLE, "this server keeps no grants")
	}
	if strings.TrimSpace(req.By) == "" {
		return Grant{}, false, Errorf(EINVALID, "a grant must say who gives it")
	}
	if req.Digest == "" {
		return Grant{}, false, Errorf(EINVALID, "digest is required: the bundle digest whose permissions were reviewed (GET /api/v1/catalog/%s/permissions)", req.App)
	}
	app, err := e.d.Catalog.App(ctx, req.App)
	if err != nil {
		return Grant{}, false, fmt.Errorf("grant %s: %w", req.App, err)
	}
	if len(app.Permissions) == 0 {
		return Grant{}, false, Errorf(EINVALID, "%s %s declares no permissions beyond the default bundle policy: there is nothing to grant", app.Name, app.Version)
	}
	if req.Digest != app.Digest {
		return Grant{}, false, Errorf(ECONFLICT, "the catalog's %s %s is the bundle %s, not %s: review its permissions again (GET /api/v1/catalog/%s/permissions)",
			app.Name, app.Version, app.Digest, req.Digest, app.Name)
	}
	asked, err := ParsePermissions(req.Permissions)
	if err != nil {
		return Grant{}, false, fmt.Errorf("grant %s: %w", app.Name, err)
	}
	if !slices.Equal(asked, app.Permissions) {
		return Grant{}, false, Errorf(EINVALID, "grant exactly what %s %s declares: %s (asked: %s)", app.Name, app.Version,
			joinPermissions(app.Permissions), joinPermissions(asked))
	}
	cur, err := e.permissionsOf(ctx, app)
	if err != nil {
		return Grant{}, false, err
	}
	if cur.Grant != nil && slices.Equal(cur.Grant.Permissions, asked) {
		return *cur.Grant, false, nil
	}
	g = Grant{ID: e.d.NewID(), App: app.Name, Version: app.Version, Digest: app.Digest, Permissions: asked,
		GrantedBy: req.By, GrantedAt: e.d.Now()}
	if err := e.d.Grants.CreateGrant(ctx, g); err != nil {
		return Grant{}, false, fmt.Errorf("grant %s: %w", app.Name, err)
	}
	e.log.Info("permissions granted", "app", g.App, "version", g.Version, "digest", g.Digest,
		"permissions", joinPermissions(g.Permissions), "by", g.GrantedBy, "grant", g.ID)
	return g, true, nil
}

// Grants returns the live grants, oldest first. Returns EUNAVAILABLE when
// this server keeps no grants.
func (e *Engine) Grants(ctx context.Context) ([]Grant, error) {
	if e.d.Grants == nil {
		return nil, Errorf(EUNAVAILABLE, "this server keeps no grants")
	}
	out, err := e.d.Grants.ListGrants(ctx)
	if err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	return out, nil
}

// RevokeGrant ends grant id: later installs and upgrades of its bundle
// are refused and its runs get none of its permissions. Containers
// already running keep what they were created with. Returns EINVALID for
// a bad id or a missing revoker, ENOTFOUND when no live grant has that
// id, and EUNAVAILABLE when this server keeps no grants.
func (e *Engine) RevokeGrant(ctx context.Context, id, by string) error {
	if err := validateName("id", id); err != nil {
		return err
	}
	if strings.TrimSpace(by) == "" {
		return Errorf(EINVALID, "a revocation must say who revokes")
	}
	if e.d.Grants == nil {
		return Errorf(EUNAVAILABLE, "this server keeps no grants")
	}
	if err := e.d.Grants.RevokeGrant(ctx, id, by, e.d.Now()); err != nil {
		return fmt.Errorf("revoke grant %s: %w", id, err)
	}
	e.log.Info("grant revoked", "grant", id, "by", by)
	return nil
}

// checkGranted is the prepare step of installs and upgrades: a bundle
// that declares permissions runs only under a live grant of its digest
// holding all of them, and then gets exactly those; otherwise the request
// is refused (EFORBIDDEN) with the missing permissions in plain words and
// how an admin grants them.
func (e *Engine) checkGranted(ctx context.Context, r *runState) error {
	what := "install"
	if r.action != "" {
		what = string(r.action)
	}
	ap, err := e.permissionsOf(ctx, r.app)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, r.name, err)
	}
	missing := ap.Missing()
	if len(missing) == 0 {
		r.granted = ap.usable()
		return nil
	}
	return e.notGranted(ctx, what, r, ap, missing)
}

// lookupGranted is the prepare step of custom actions: the run gets what
// the live grant of the bundle holds, and nothing without one (the policed
// socket then refuses what needed it). An action is never refused here:
// stopping an app whose grant was revoked must work.
func (e *Engine) lookupGranted(ctx context.Context, r *runState) error {
	ap, err := e.permissionsOf(ctx, r.app)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.action, r.name, err)
	}
	r.granted = ap.usable()
	return nil
}

// notGranted is the refusal of a run whose bundle lacks a grant.
func (e *Engine) notGranted(ctx context.Context, what string, r *runState, ap AppPermissions, missing []Permission) error {
	app := r.app
	words := make([]string, len(missing))
	for i, p := range missing {
		words[i] = fmt.Sprintf("%s (%s)", p, p.Describe())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s %s asks for permissions beyond StackHub's default bundle policy that no admin granted to its bundle",
		what, r.name, app.Name, app.Version)
	if app.Digest != "" {
		fmt.Fprintf(&b, " %s", app.Digest)
	}
	fmt.Fprintf(&b, ": %s.", strings.Join(words, "; "))
	switch {
	case app.Digest == "":
		b.WriteString(" The bundle has no digest to grant them to.")
		return Errorf(EFORBIDDEN, "%s", b.String())
	case e.d.Grants == nil:
		b.WriteString(" This server keeps no grants.")
		return Errorf(EFORBIDDEN, "%s", b.String())
	}
	if others, err := e.d.Grants.ListGrants(ctx); err == nil {
		for _, g := range others {
			if g.App == app.Name && g.Digest != app.Digest {
				fmt.Fprintf(&b, " The grant of %s %s (bundle %s) does not carry over: every bundle needs its own grant.", g.App, g.Version, g.Digest)
				break
			}
		}
	}
	flags := make([]string, len(ap.Declared))
	quoted := make([]string, len(ap.Declared))
	for i, p := range ap.Declared {
		flags[i], quoted[i] = "--grant "+string(p), fmt.Sprintf("%q", p)
	}
	cli := "stackhub app install " + app.Name
	if r.name != app.Name {
		cli += " --name " + r.name
	}
	if r.action == ActionUpgrade {
		cli = "stackhub app upgrade " + r.name
	}
	console := " in the console's install dialog,"
	if r.action == ActionUpgrade {
		console = ""
	}
	fmt.Fprintf(&b, " An admin grants them%s with `%s %s`, or with POST /api/v1/catalog/%s/grants {\"digest\": %q, \"permissions\": [%s]}.",
		console, cli, strings.Join(flags, " "), app.Name, app.Digest, strings.Join(quoted, ", "))
	return Errorf(EFORBIDDEN, "%s", b.String())
}

// joinPermissions is ps comma-separated, or "none".
func joinPermissions(ps []Permission) string {
	if len(ps) == 0 {
		return "none"
	}
	return strings.Join(PermissionStrings(ps), ", ")
}
