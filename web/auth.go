package web

import (
	"context"
	"crypto/subtle"
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
	Login(ctx context.Context, name, password, clientIP string) (orchestrator.Session, string, error)
	Session(ctx context.Context, secret string) (orchestrator.Session, error)
	Logout(ctx context.Context, secret string) error
	ChangePassword(ctx context.Context, name, current, next string) error
}

type credentials struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// Code is the one-time setup code (setup only).
	Code string `json:"code,omitempty"`
}

type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// me is who is logged in, and the CSRF token the console must send back.
type me struct {
	User  string `json:"user"`
	CSRF  string `json:"csrf,omitempty"`
	Scope string `json:"scope"`
}

func (s *Server) registerAuthRoutes(public, authed *echo.Group) {
	public.POST("/auth/login", s.login)
	public.POST("/auth/setup", s.setup)
	public.GET("/auth/setup", s.setupNeeded)
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
	sess, secret, err := s.Accounts.Login(c.Request().Context(), cr.Name, cr.Password, c.RealIP())
	if err != nil {
		return err
	}
	s.setCookie(c, secret, int(orchestrator.SessionLifetime.Seconds()))
	return c.JSON(http.StatusOK, me{User: sess.User, CSRF: sess.CSRF, Scope: string(orchestrator.ScopeAdmin)})
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
	return c.JSON(http.StatusCreated, me{User: u.Name, Scope: string(orchestrator.ScopeAdmin)})
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
		return c.JSON(http.StatusOK, me{User: who.User, CSRF: who.CSRF, Scope: string(orchestrator.ScopeAdmin)})
	case orchestrator.Token:
		return c.JSON(http.StatusOK, me{User: "token:" + who.Name, Scope: string(who.Scope)})
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

// authenticate admits a request by bearer token or by session cookie; a
// cookie needs the CSRF header on anything that changes state. Loopback
// peers and forwarded headers earn nothing.
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
			if mutating(c) && !tok.CanMutate() {
				return orchestrator.Errorf(orchestrator.EFORBIDDEN, "a %s token cannot change anything: use an admin token", tok.Scope)
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
		c.Set("who", sess)
		return next(c)
	}
}
