package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

// SessionCookie carries a console session.
const SessionCookie = "stackhub_session"

// CSRFHeader must echo the session's CSRF token on every request that
// changes state with a session cookie.
const CSRFHeader = "X-CSRF-Token"

// AccountService is the part of the account use cases the API calls.
type AccountService interface {
	NeedsSetup(ctx context.Context) (bool, error)
	Setup(ctx context.Context, code, name, password string) (orchestrator.User, error)
	Login(ctx context.Context, req orchestrator.LoginRequest) (orchestrator.Session, string, error)
	Session(ctx context.Context, secret string) (orchestrator.Session, error)
	Logout(ctx context.Context, secret string) error
	ChangePassword(ctx context.Context, name, current, next string) error
}

// PeopleService is the rest of the account use cases: users, invites and
// second factors.
type PeopleService interface {
	ListUsers(ctx context.Context) ([]orchestrator.User, error)
	SetRole(ctx context.Context, name string, role orchestrator.Role) error
	SetRequireTOTP(ctx context.Context, name string, require bool) error
	DeleteUser(ctx context.Context, name string) error
	Invite(ctx context.Context, by string, role orchestrator.Role) (string, orchestrator.Invite, error)
	Invites(ctx context.Context) ([]orchestrator.Invite, error)
	RevokeInvite(ctx context.Context, id string) error
	AcceptInvite(ctx context.Context, code, name, password, clientIP string) (orchestrator.User, error)
	EnrollTOTP(ctx context.Context, name string) (orchestrator.Enrollment, error)
	ConfirmTOTP(ctx context.Context, name, code string) ([]string, error)
	DisableTOTP(ctx context.Context, name, password string) error
	RenewRecoveryCodes(ctx context.Context, name, password string) ([]string, error)
}

type credentials struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// Code is the one-time setup code (setup) or invite code (join).
	Code string `json:"code,omitempty"`
	// OTP is the authenticator's code, Recovery a recovery code (login of
	// a user with a second factor).
	OTP      string `json:"otp,omitempty"`
	Recovery string `json:"recovery,omitempty"`
}

type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// me is who is logged in, and the CSRF token the console must send back.
// Scope is the role (its old name, kept for clients of the seed).
type me struct {
	User  string `json:"user"`
	CSRF  string `json:"csrf,omitempty"`
	Scope string `json:"scope"`
	Role  string `json:"role"`
	// MustEnroll: the user must set up a second factor before anything else.
	MustEnroll bool `json:"mustEnroll,omitempty"`
	// SecondFactor: the user has a second factor on.
	SecondFactor bool `json:"secondFactor,omitempty"`
}

func meOf(s orchestrator.Session, csrf bool) me {
	m := me{User: s.User, Scope: string(s.Role), Role: string(s.Role), MustEnroll: s.MustEnroll, SecondFactor: s.SecondFactor}
	if csrf {
		m.CSRF = s.CSRF
	}
	return m
}

func (s *Server) registerAuthRoutes(public, authed *echo.Group) {
	public.POST("/auth/login", s.login)
	public.POST("/auth/setup", s.setup)
	public.GET("/auth/setup", s.setupNeeded)
	public.POST("/auth/join", s.join)
	authed.POST("/auth/logout", s.logout)
	authed.GET("/auth/me", s.whoAmI)
	authed.POST("/auth/password", s.changePassword)
}

func (s *Server) setCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil, MaxAge: maxAge})
}

func (s *Server) login(c echo.Context) error {
	var cr credentials
	if err := decodeStrict(c, &cr); err != nil {
		return err
	}
	// The client is the socket peer (IPExtractor), never a forwarded header.
	sess, secret, err := s.Accounts.Login(c.Request().Context(), orchestrator.LoginRequest{Name: cr.Name, Password: cr.Password,
		OTP: cr.OTP, Recovery: cr.Recovery, ClientIP: c.RealIP()})
	if errors.Is(err, orchestrator.ErrSecondFactor) {
		// The password was right: the console asks for the code.
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "second_factor", "message": orchestrator.ErrorMessage(err)})
	}
	if err != nil {
		return err
	}
	s.setCookie(c, secret, int(orchestrator.SessionLifetime.Seconds()))
	return c.JSON(http.StatusOK, meOf(sess, true))
}

func (s *Server) setupNeeded(c echo.Context) error {
	need, err := s.Accounts.NeedsSetup(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"needed": need})
}

func (s *Server) setup(c echo.Context) error {
	var cr credentials
	if err := decodeStrict(c, &cr); err != nil {
		return err
	}
	u, err := s.Accounts.Setup(c.Request().Context(), cr.Code, cr.Name, cr.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, me{User: u.Name, Scope: string(u.Role), Role: string(u.Role)})
}

func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(SessionCookie); err == nil {
		if err := s.Accounts.Logout(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.setCookie(c, "", -1)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) whoAmI(c echo.Context) error {
	switch who := c.Get("who").(type) {
	case orchestrator.Session:
		return c.JSON(http.StatusOK, meOf(who, true))
	case orchestrator.Token:
		return c.JSON(http.StatusOK, me{User: "token:" + who.Name, Scope: string(who.Scope), Role: string(who.Scope)})
	}
	return orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "not logged in")
}

func (s *Server) changePassword(c echo.Context) error {
	sess, ok := c.Get("who").(orchestrator.Session)
	if !ok {
		return orchestrator.Errorf(orchestrator.EFORBIDDEN, "log in as the user to change a password")
	}
	var body passwordChange
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if err := s.Accounts.ChangePassword(c.Request().Context(), sess.User, body.Current, body.New); err != nil {
		return err
	}
	s.setCookie(c, "", -1) // every session of the user ended
	return c.NoContent(http.StatusNoContent)
}

// authenticate admits a request by bearer token or by session cookie, then
// checks the caller's role against the route's (routeRoles); a cookie
// needs the CSRF header on anything that changes state, and a state change
// must be sent as JSON or with the CSRF header (checkContentType, on every
// route).
// Loopback peers and forwarded headers earn nothing.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
			scheme, secret, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
				return orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "the Authorization header must be: Bearer <token>")
			}
			tok, err := s.Auth.Authenticate(ctx, strings.TrimSpace(secret))
			if err != nil {
				return err
			}
			if need := routeRole(c); !tok.Scope.Allows(need) {
				if mutating(c) {
					return orchestrator.Errorf(orchestrator.EFORBIDDEN, "a %s token cannot do this: it needs a token with the %s role", tok.Scope, need)
				}
				return orchestrator.Errorf(orchestrator.EFORBIDDEN, "a %s token cannot read this: it needs the %s role", tok.Scope, need)
			}
			c.Set("who", tok)
			return next(c)
		}
		ck, err := c.Cookie(SessionCookie)
		if err != nil || s.Accounts == nil {
			return orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "missing credentials: send Authorization: Bearer <token> (stackhub token create) or log in")
		}
		sess, err := s.Accounts.Session(ctx, ck.Value)
		if err != nil {
			return err
		}
		if mutating(c) && subtle.ConstantTimeCompare([]byte(c.Request().Header.Get(CSRFHeader)), []byte(sess.CSRF)) != 1 {
			return orchestrator.Errorf(orchestrator.EFORBIDDEN, "missing or wrong %s header: a console request must echo the session's CSRF token", CSRFHeader)
		}
		if sess.MustEnroll && !enrollRoutes[c.Request().Method+" "+c.Path()] {
			return orchestrator.Errorf(orchestrator.EFORBIDDEN, "a second factor is required: set up an authenticator app first (POST /api/v1/auth/totp/enroll)")
		}
		if need := routeRole(c); !sess.Role.Allows(need) {
			return orchestrator.Errorf(orchestrator.EFORBIDDEN, "%s is a %s: this needs the %s role", sess.User, sess.Role, need)
		}
		c.Set("who", sess)
		return next(c)
	}
}

// enrollRoutes are what a session that must first set up a second factor
// may reach.
var enrollRoutes = map[string]bool{
	"GET /api/v1/auth/me":            true,
	"POST /api/v1/auth/logout":       true,
	"POST /api/v1/auth/totp/enroll":  true,
	"POST /api/v1/auth/totp/confirm": true,
}

// checkContentType refuses a state change whose body a cross-site form
// could have sent: with a body, it must be application/json (an archive
// upload application/gzip, application/x-tar or
// application/octet-stream), unless the request carries the CSRF header,
// which no form can set.
func checkContentType(c echo.Context) error {
	r := c.Request()
	if !mutating(c) || r.Header.Get(CSRFHeader) != "" || (r.ContentLength == 0 && len(r.TransferEncoding) == 0) {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if mt == "application/json" {
		return nil
	}
	if (c.Path() == "/api/v1/catalog/import" || c.Path() == "/api/v1/catalog/bundles") && (mt == "application/gzip" || mt == "application/x-tar" || mt == "application/octet-stream") {
		return nil
	}
	return orchestrator.Errorf(orchestrator.EUNSUPPORTED, "a request that changes state must send its body as Content-Type: application/json (got %q), or carry the %s header", r.Header.Get(echo.HeaderContentType), CSRFHeader)
}
