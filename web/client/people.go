package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/websoft9/stackhub/web/wire"
)

// The accounts' JSON shapes (package web/wire), shared with the server.
type (
	User       = wire.User
	Invite     = wire.Invite
	UserChange = wire.UserChange
)

// Account is who an account is: the answer to Join.
type Account struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// Users lists the accounts (GET /api/v1/users, admins).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/users", nil, nil, &out)
	return out, err
}

// ChangeUser changes name's role or second-factor requirement (PATCH
// /api/v1/users/{name}, admins).
func (c *Client) ChangeUser(ctx context.Context, name string, ch UserChange) error {
	_, err := c.callJSON(ctx, http.MethodPatch, "/api/v1/users/"+url.PathEscape(name), nil, ch, nil)
	return err
}

// DeleteUser deletes an account (DELETE /api/v1/users/{name}, admins).
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(name), nil, nil, nil)
	return err
}

// Invites lists the invites still usable (GET /api/v1/invites, admins).
func (c *Client) Invites(ctx context.Context) ([]Invite, error) {
	var out []Invite
	_, err := c.callJSON(ctx, http.MethodGet, "/api/v1/invites", nil, nil, &out)
	return out, err
}

// CreateInvite invites someone with role (POST /api/v1/invites, admins);
// the answer's Code is shown this once.
func (c *Client) CreateInvite(ctx context.Context, role string) (Invite, error) {
	var out Invite
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/invites", nil, map[string]string{"role": role}, &out)
	return out, err
}

// RevokeInvite withdraws invite id (DELETE /api/v1/invites/{id}, admins).
func (c *Client) RevokeInvite(ctx context.Context, id string) error {
	_, err := c.callJSON(ctx, http.MethodDelete, "/api/v1/invites/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// Join makes the account an invite allows (POST /api/v1/auth/join); it
// needs no token.
func (c *Client) Join(ctx context.Context, code, name, password string) (Account, error) {
	var out Account
	_, err := c.callJSON(ctx, http.MethodPost, "/api/v1/auth/join", nil, map[string]string{"code": code, "name": name, "password": password}, &out)
	return out, err
}
