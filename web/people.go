package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
)

type inviteBody struct {
	Role string `json:"role"`
}

type otpBody struct {
	Code string `json:"code"`
}

type passwordBody struct {
	Password string `json:"password"`
}

type enrollmentDTO struct {
	Secret string `json:"secret"`
	URL    string `json:"url"`
}

type recoveryDTO struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

func (s *Server) registerPeopleRoutes(authed *echo.Group) {
	authed.GET("/users", s.listUsers)
	authed.PATCH("/users/:name", s.changeUser)
	authed.DELETE("/users/:name", s.deleteUser)
	authed.GET("/invites", s.listInvites)
	authed.POST("/invites", s.createInvite)
	authed.DELETE("/invites/:id", s.revokeInvite)
	authed.POST("/auth/totp/enroll", s.enrollTOTP)
	authed.POST("/auth/totp/confirm", s.confirmTOTP)
	authed.POST("/auth/totp/disable", s.disableTOTP)
	authed.POST("/auth/recovery-codes", s.renewRecoveryCodes)
}

// people returns the account use cases, or EUNAVAILABLE when the server
// keeps no accounts.
func (s *Server) people() (PeopleService, error) {
	if s.People == nil {
		return nil, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "this server keeps no user accounts")
	}
	return s.People, nil
}

// sessionUser is the logged-in user a second-factor route works on:
// tokens are not people.
func sessionUser(c echo.Context) (string, error) {
	sess, ok := c.Get("who").(orchestrator.Session)
	if !ok {
		return "", orchestrator.Errorf(orchestrator.EFORBIDDEN, "log in as the user: a token has no second factor")
	}
	return sess.User, nil
}

func (s *Server) listUsers(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	list, err := p.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]userDTO, 0, len(list))
	for _, u := range list {
		out = append(out, userDTO{Name: u.Name, Role: string(u.Role), Created: u.Created, SecondFactor: u.TOTPEnabled, RequireSecondFactor: u.RequireTOTP})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) changeUser(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	var body userChange
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Role == nil && body.RequireSecondFactor == nil {
		return orchestrator.Errorf(orchestrator.EINVALID, "nothing to change: send role and/or requireSecondFactor")
	}
	ctx, name := c.Request().Context(), c.Param("name")
	if body.Role != nil {
		role, err := orchestrator.ParseRole(*body.Role)
		if err != nil {
			return err
		}
		if err := p.SetRole(ctx, name, role); err != nil {
			return err
		}
	}
	if body.RequireSecondFactor != nil {
		if err := p.SetRequireTOTP(ctx, name, *body.RequireSecondFactor); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) deleteUser(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	if err := p.DeleteUser(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func toInviteDTO(inv orchestrator.Invite) inviteDTO {
	return inviteDTO{ID: inv.ID, Role: string(inv.Role), CreatedBy: inv.CreatedBy, Created: inv.Created, Expires: inv.Expires}
}

func (s *Server) listInvites(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	list, err := p.Invites(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]inviteDTO, 0, len(list))
	for _, inv := range list {
		out = append(out, toInviteDTO(inv))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createInvite(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	var body inviteBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	role, err := orchestrator.ParseRole(body.Role)
	if err != nil {
		return err
	}
	code, inv, err := p.Invite(c.Request().Context(), whoName(c), role)
	if err != nil {
		return err
	}
	d := toInviteDTO(inv)
	d.Code = code
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) revokeInvite(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	if err := p.RevokeInvite(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// join creates the account an invite allows (public: the code is the
// credential; wrong codes are rate limited per client address).
func (s *Server) join(c echo.Context) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	var cr credentials
	if err := decodeStrict(c, &cr); err != nil {
		return err
	}
	u, err := p.AcceptInvite(c.Request().Context(), cr.Code, cr.Name, cr.Password, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, me{User: u.Name, Scope: string(u.Role), Role: string(u.Role)})
}

// forSessionUser runs fn with the account use cases and the logged-in
// user's name, after decoding the request's body into body (nil: none):
// the second-factor routes are a person's, never a token's.
func (s *Server) forSessionUser(c echo.Context, body any, fn func(p PeopleService, name string) error) error {
	p, err := s.people()
	if err != nil {
		return err
	}
	name, err := sessionUser(c)
	if err != nil {
		return err
	}
	if body != nil {
		if err := decodeStrict(c, body); err != nil {
			return err
		}
	}
	return fn(p, name)
}

func (s *Server) enrollTOTP(c echo.Context) error {
	return s.forSessionUser(c, nil, func(p PeopleService, name string) error {
		enr, err := p.EnrollTOTP(c.Request().Context(), name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, enrollmentDTO{Secret: enr.Secret, URL: enr.URL})
	})
}

func (s *Server) confirmTOTP(c echo.Context) error {
	var body otpBody
	return s.forSessionUser(c, &body, func(p PeopleService, name string) error {
		codes, err := p.ConfirmTOTP(c.Request().Context(), name, body.Code)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, recoveryDTO{RecoveryCodes: codes})
	})
}

func (s *Server) disableTOTP(c echo.Context) error {
	var body passwordBody
	return s.forSessionUser(c, &body, func(p PeopleService, name string) error {
		if err := p.DisableTOTP(c.Request().Context(), name, body.Password); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
}

func (s *Server) renewRecoveryCodes(c echo.Context) error {
	var body passwordBody
	return s.forSessionUser(c, &body, func(p PeopleService, name string) error {
		codes, err := p.RenewRecoveryCodes(c.Request().Context(), name, body.Password)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, recoveryDTO{RecoveryCodes: codes})
	})
}
