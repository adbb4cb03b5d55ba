package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// TokenScope is what a token may do: a token carries a role.
type TokenScope = Role

// Token scopes.
const (
	// ScopeAdmin may do everything.
	ScopeAdmin = RoleAdmin
	// ScopeOperator may install, upgrade, uninstall and run actions.
	ScopeOperator = RoleOperator
	// ScopeRead (a viewer) may only look.
	ScopeRead = RoleViewer
)

// ParseTokenScope returns s as a token's role (ParseRole).
func ParseTokenScope(s string) (TokenScope, error) { return ParseRole(s) }

// TokenPrefix starts every API token, so a leaked one is easy to spot.
const TokenPrefix = "shk_"

// Token is an API token as stored: only the SHA-256 of the secret is kept.
type Token struct {
	ID       string
	Name     string
	Hash     string
	Scope    TokenScope
	Created  time.Time
	LastUsed time.Time
}

// Tokens stores API tokens.
type Tokens interface {
	// CreateToken stores t. Returns ECONFLICT if the hash exists.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the live token with that hash, and records its
	// use at now. Returns ENOTFOUND if there is none.
	TokenByHash(ctx context.Context, hash string, now time.Time) (Token, error)
	// ListTokens returns the live tokens, oldest first (hashes included;
	// callers must not show them).
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken makes token id unusable at once. Returns ENOTFOUND if no
	// live token has that id.
	RevokeToken(ctx context.Context, id string, now time.Time) error
}

// HashToken returns the stored form of a token secret. Tokens carry 256
// random bits, so a plain SHA-256 is as strong as a slow hash here.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a token with a fresh secret, stores its hash, and returns
// the secret: it is shown once and never stored.
// Returns EINVALID for a scope ParseTokenScope refuses.
func NewToken(ctx context.Context, store Tokens, id, name string, scope TokenScope, now time.Time) (string, Token, error) {
	if _, err := ParseTokenScope(string(scope)); err != nil {
		return "", Token{}, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, fmt.Errorf("token: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	t := Token{ID: id, Name: name, Hash: HashToken(secret), Scope: scope, Created: now}
	if err := store.CreateToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("token: %w", err)
	}
	return secret, t, nil
}

// Authenticate returns the token whose secret is given. Returns
// EUNAUTHORIZED for anything but a live token.
func Authenticate(ctx context.Context, store Tokens, secret string, now time.Time) (Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return Token{}, Errorf(EUNAUTHORIZED, "invalid token")
	}
	t, err := store.TokenByHash(ctx, HashToken(secret), now)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Token{}, Errorf(EUNAUTHORIZED, "invalid token")
		}
		return Token{}, fmt.Errorf("authenticate: %w", err)
	}
	return t, nil
}

// TokenAuth checks and manages API tokens in a store.
type TokenAuth struct {
	Store Tokens
	Now   Clock
	NewID IDGen
}

// Create makes a token named name with scope and returns its secret, shown
// once. Returns EINVALID for a bad scope or name.
func (a TokenAuth) Create(ctx context.Context, name string, scope TokenScope) (string, Token, error) {
	if name == "" || len(name) > 64 {
		return "", Token{}, Errorf(EINVALID, "token name must be 1 to 64 characters")
	}
	return NewToken(ctx, a.Store, a.NewID(), name, scope, a.Now())
}

// List returns the live tokens.
func (a TokenAuth) List(ctx context.Context) ([]Token, error) { return a.Store.ListTokens(ctx) }

// Revoke makes token id unusable. Returns ENOTFOUND.
func (a TokenAuth) Revoke(ctx context.Context, id string) error {
	return a.Store.RevokeToken(ctx, id, a.Now())
}

// Authenticate returns the live token whose secret is given. Returns
// EUNAUTHORIZED for anything else.
func (a TokenAuth) Authenticate(ctx context.Context, secret string) (Token, error) {
	return Authenticate(ctx, a.Store, secret, a.Now())
}

// CanMutate tells whether a token of this scope may change apps.
func (t Token) CanMutate() bool { return t.Scope.Allows(RoleOperator) }
