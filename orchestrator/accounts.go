package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// User is an operator account. Only an argon2id hash of the password is kept.
type User struct {
	ID       string
	Name     string
	Hash     string
	Created  time.Time
	Changed  time.Time // when the password was last set
	Initial  bool      // the password was never changed since the account was made
	LastSeen time.Time
	// Role is what the user may do.
	Role Role
	// TOTPSecret is the user's authenticator secret (the store seals it);
	// TOTPEnabled says it was confirmed with a code and is asked at login.
	TOTPSecret  string
	TOTPEnabled bool
	// TOTPLastStep is the time step of the last code accepted: a code is
	// never accepted twice.
	TOTPLastStep int64
	// RequireTOTP is set by an admin: the user must set up a second factor.
	RequireTOTP bool
}

// Session is a console login: a cookie carries Token; Hash is what is stored.
type Session struct {
	Hash   string
	UserID string
	User   string
	// Role is the user's role (read with the session).
	Role Role
	// MustEnroll says the user must set up a second factor before doing
	// anything else (TOTP is required of them and not set up).
	MustEnroll bool
	// SecondFactor says the user has a second factor on.
	SecondFactor bool
	CSRF         string
	Created      time.Time
	Expires      time.Time
}

// Users stores accounts and sessions.
type Users interface {
	// CreateUser stores u. Returns ECONFLICT if the name is taken.
	CreateUser(ctx context.Context, u User) error
	// CreateFirstUser stores u only while no user exists, in one
	// transaction. Returns ECONFLICT once a user exists.
	CreateFirstUser(ctx context.Context, u User) error
	// UserByName returns the user. Returns ENOTFOUND.
	UserByName(ctx context.Context, name string) (User, error)
	// CountUsers returns how many users exist.
	CountUsers(ctx context.Context) (int, error)
	// SetPassword replaces the user's hash. Returns ENOTFOUND.
	SetPassword(ctx context.Context, name, hash string, now time.Time) error
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns a live session. Returns ENOTFOUND.
	SessionByHash(ctx context.Context, hash string, now time.Time) (Session, error)
	// DeleteSession ends a session (and, with all, every session of its user).
	DeleteSession(ctx context.Context, hash string) error

	// ListUsers returns every user, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// SetRole changes a user's role, and ends their sessions. Returns
	// ENOTFOUND, or ECONFLICT when it would leave no admin.
	SetRole(ctx context.Context, name string, role Role) error
	// DeleteUser removes a user with their sessions and recovery codes.
	// Returns ENOTFOUND, or ECONFLICT when it would leave no admin.
	DeleteUser(ctx context.Context, name string) error
	// SetRequireTOTP sets whether the user must use a second factor.
	SetRequireTOTP(ctx context.Context, name string, require bool) error
	// SetTOTP stores the user's authenticator secret and whether it is
	// confirmed; an empty secret turns the second factor off and drops the
	// recovery codes. Returns ENOTFOUND.
	SetTOTP(ctx context.Context, userID, secret string, enabled bool) error
	// AdvanceTOTPStep records step as the last code accepted unless it is
	// not newer than the one recorded: false then (a replayed code).
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// SetRecoveryCodes replaces the user's recovery codes (their hashes).
	SetRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode consumes one unused code with that hash: false when
	// there is none.
	UseRecoveryCode(ctx context.Context, userID, hash string) (bool, error)
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	// CreateInvite stores an invite.
	CreateInvite(ctx context.Context, inv Invite) error
	// Invites returns the invites not used nor expired at now.
	Invites(ctx context.Context, now time.Time) ([]Invite, error)
	// DeleteInvite withdraws invite id. Returns ENOTFOUND.
	DeleteInvite(ctx context.Context, id string) error
	// AcceptInvite, in one transaction, consumes the live invite with that
	// hash and creates u with the invite's role. Returns ENOTFOUND for no
	// such live invite, ECONFLICT when the name is taken.
	AcceptInvite(ctx context.Context, hash string, u User, now time.Time) (User, error)
}

// Hasher hashes and checks passwords (package password: argon2id).
type Hasher interface {
	Hash(password string) (string, error)
	Check(hash, password string) bool
}

// ValidatePassword says why a new password is refused, or nil.
func ValidatePassword(p string) error {
	switch {
	case utf8.RuneCountInString(p) < 12:
		return Errorf(EINVALID, "the password needs at least 12 characters")
	case len(p) > 1024:
		return Errorf(EINVALID, "the password may have at most 1024 bytes")
	}
	return nil
}

// ValidateUserName says why a user name is refused, or nil.
func ValidateUserName(n string) error {
	if n == "" || len(n) > 64 || strings.ContainsAny(n, " \t\r\n/\\:") {
		return Errorf(EINVALID, "a user name has 1 to 64 characters, without spaces, slashes or colons")
	}
	return nil
}

// Limits of the login rate limiter. Failures count per (account, client
// address) and per client address, never per account alone: nobody can
// lock the admin out from elsewhere.
const (
	LoginWindow            = 15 * time.Minute
	LoginPerAccountAddress = 5  // failures per account from one client IP per window
	LoginPerClient         = 20 // failures per client IP per window
	SessionLifetime        = 12 * time.Hour
)

// MaxLoginKeys bounds the keys (accounts and client addresses) the login
// limiter remembers. Past it, the key whose last attempt is oldest is
// forgotten first, but never one at its limit: a flood of new names or
// addresses cannot free a blocked account for more guesses.
const MaxLoginKeys = 10_000

// limiter counts failed logins per key in a sliding window. Its memory is
// bounded (MaxLoginKeys) and swept: keys with no attempt in the window go
// at the next sweep, at most one window after their last attempt.
type limiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	// max is MaxLoginKeys unless a test sets it.
	max       int
	lastSweep time.Time
}

// take records an attempt against every key at once, unless one of them
// has reached its limit: then nothing is recorded and false returned.
// Recording before the password is checked means parallel guesses cannot
// slip past the limit while a hash is being computed.
func (l *limiter) take(now time.Time, keys []string, limits []int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil {
		l.fails = map[string][]time.Time{}
	}
	if now.Sub(l.lastSweep) >= LoginWindow/15 {
		l.sweep(now)
	}
	for i, k := range keys {
		if len(l.recent(k, now)) >= limits[i] {
			return false
		}
	}
	for _, k := range keys {
		if _, known := l.fails[k]; !known {
			l.makeRoom(now)
		}
		l.fails[k] = append(l.fails[k], now)
	}
	return true
}

// sweep drops every key without an attempt in the window.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k := range l.fails {
		l.recent(k, now)
	}
}

// makeRoom forgets keys until one more fits: first those past the window,
// then the one whose last attempt is oldest.
func (l *limiter) makeRoom(now time.Time) {
	limit := l.max
	if limit <= 0 {
		limit = MaxLoginKeys
	}
	if len(l.fails) < limit {
		return
	}
	l.sweep(now)
	for len(l.fails) >= limit {
		var oldest string
		var at time.Time
		for k, ts := range l.fails {
			if len(ts) >= LoginPerAccountAddress && strings.HasPrefix(k, "user:") || len(ts) >= LoginPerClient {
				continue // blocked: kept until its window passes
			}
			if last := ts[len(ts)-1]; oldest == "" || last.Before(at) {
				oldest, at = k, last
			}
		}
		if oldest == "" {
			return // every key is blocked: the map grows past the bound rather than unblock one
		}
		delete(l.fails, oldest)
	}
}

// forgive takes back the attempt take recorded at now, for a login that
// succeeded.
func (l *limiter) forgive(now time.Time, keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		ts := l.fails[k]
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].Equal(now) {
				l.fails[k] = append(ts[:i:i], ts[i+1:]...)
				break
			}
		}
		if len(l.fails[k]) == 0 {
			delete(l.fails, k)
		}
	}
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.fails[key] {
		if now.Sub(t) < LoginWindow {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = keep
	}
	return keep
}

// Accounts are the account use cases: first-admin setup, login with a rate
// limit per account and per client, sessions, password changes.
type Accounts struct {
	Users  Users
	Hasher Hasher
	Now    Clock
	NewID  IDGen
	// SetupCodeExpires is when SetupCode stops working (RenewSetupCode
	// sets both); zero means it does not expire.
	SetupCodeExpires time.Time
	// SetupCode is the one-time code that creates the first admin while no
	// user exists (printed in the server log). Set it before serving.
	SetupCode string
	// RequireTOTP makes a second factor required of every user: one
	// without logs in only to set it up.
	RequireTOTP bool
	setupMu     sync.Mutex
	limits      limiter
	dummy       sync.Once
	dummyH      string
	slotsOnce   sync.Once
	slots       chan struct{}
}

// MaxConcurrentHashes bounds argon2id work at once (19 MiB each), so a
// flood of logins cannot exhaust memory.
const MaxConcurrentHashes = 2

// checkPassword runs the hasher in one of MaxConcurrentHashes slots.
func (a *Accounts) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	a.slotsOnce.Do(func() { a.slots = make(chan struct{}, MaxConcurrentHashes) })
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.slots }()
	return a.Hasher.Check(hash, password), nil
}

// dummyHash is checked against when the user does not exist, so that a
// login takes as long for an unknown name as for a wrong password.
func (a *Accounts) dummyHash() string {
	a.dummy.Do(func() { a.dummyH, _ = a.Hasher.Hash("stackhub-dummy-password") })
	return a.dummyH
}

// SetupCodeLifetime is how long a setup code works before the server logs
// a new one.
const SetupCodeLifetime = time.Hour

// RenewSetupCode makes a new setup code, valid for SetupCodeLifetime, when
// no user exists and the current one is missing or expired; it returns the
// new code, or "" when none was needed.
func (a *Accounts) RenewSetupCode(ctx context.Context) (string, error) {
	need, err := a.NeedsSetup(ctx)
	if err != nil || !need {
		return "", err
	}
	a.setupMu.Lock()
	defer a.setupMu.Unlock()
	now := a.Now()
	if a.SetupCode != "" && (a.SetupCodeExpires.IsZero() || now.Before(a.SetupCodeExpires)) {
		return "", nil
	}
	a.SetupCode, a.SetupCodeExpires = NewSetupCode(), now.Add(SetupCodeLifetime)
	return a.SetupCode, nil
}

// NewSetupCode returns a random one-time setup code.
func NewSetupCode() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddUser creates an account with role (the CLI's `user add`, on the
// host). Returns EINVALID or ECONFLICT.
func (a *Accounts) AddUser(ctx context.Context, name, password string, role Role) (User, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	u, err := a.newUser(name, password, role)
	if err != nil {
		return User{}, err
	}
	return u, a.Users.CreateUser(ctx, u)
}

func (a *Accounts) newUser(name, password string, role Role) (User, error) {
	if err := ValidateUserName(name); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	hash, err := a.Hasher.Hash(password)
	if err != nil {
		return User{}, err
	}
	now := a.Now()
	return User{ID: a.NewID(), Name: name, Hash: hash, Created: now, Changed: now, Role: role}, nil
}

// Setup creates the first admin with the one-time setup code. Returns
// EUNAUTHORIZED for a wrong code, ECONFLICT once any user exists.
func (a *Accounts) Setup(ctx context.Context, code, name, password string) (User, error) {
	a.setupMu.Lock()
	defer a.setupMu.Unlock()
	if a.SetupCode == "" || subtle.ConstantTimeCompare([]byte(code), []byte(a.SetupCode)) != 1 {
		return User{}, Errorf(EUNAUTHORIZED, "wrong setup code: it is printed in the server log while no user exists")
	}
	if !a.SetupCodeExpires.IsZero() && !a.Now().Before(a.SetupCodeExpires) {
		return User{}, Errorf(EUNAUTHORIZED, "the setup code expired: the server logs a new one every %s while no user exists", SetupCodeLifetime)
	}
	u, err := a.newUser(name, password, RoleAdmin)
	if err != nil {
		return User{}, err
	}
	if err := a.Users.CreateFirstUser(ctx, u); err != nil {
		return User{}, err
	}
	a.SetupCode = ""
	return u, nil
}

// LoginRequest is what a login sends.
type LoginRequest struct {
	Name, Password string
	// OTP is the authenticator's current code; Recovery a recovery code
	// (either, when the user has a second factor).
	OTP, Recovery string
	// ClientIP is the socket peer (never a forwarded header).
	ClientIP string
}

// ErrSecondFactor is wrapped by the EUNAUTHORIZED error of a login whose
// password was right but which lacked the second factor: the console then
// asks for the code.
var ErrSecondFactor = errors.New("second factor required")

// Login checks a password (and the second factor of a user who has one)
// and opens a session; it returns the session and the cookie secret. The
// same EUNAUTHORIZED answers an unknown user and a wrong password, after
// the same work. Too many failures for the (account, client IP) pair or
// for the client IP give ETOOMANY until the window passes.
func (a *Accounts) Login(ctx context.Context, req LoginRequest) (Session, string, error) {
	now := a.Now()
	keys := []string{"user:" + req.Name + "@" + req.ClientIP, "ip:" + req.ClientIP}
	if !a.limits.take(now, keys, []int{LoginPerAccountAddress, LoginPerClient}) {
		return Session{}, "", Errorf(ETOOMANY, "too many failed logins: wait %s", LoginWindow)
	}
	u, err := a.Users.UserByName(ctx, req.Name)
	hash := u.Hash
	if err != nil {
		if ErrorCode(err) != ENOTFOUND {
			return Session{}, "", fmt.Errorf("login: %w", err)
		}
		hash = a.dummyHash()
	}
	good, cerr := a.checkPassword(ctx, hash, req.Password)
	if cerr != nil {
		return Session{}, "", fmt.Errorf("login: %w", cerr)
	}
	if !good || err != nil {
		return Session{}, "", Errorf(EUNAUTHORIZED, "wrong user name or password")
	}
	if u.TOTPEnabled {
		if err := a.checkSecondFactor(ctx, u, req.OTP, req.Recovery, now); err != nil {
			return Session{}, "", err
		}
	}
	a.limits.forgive(now, keys)
	secret := randomToken()
	s := Session{Hash: HashToken(secret), UserID: u.ID, User: u.Name, CSRF: randomToken(), Created: now, Expires: now.Add(SessionLifetime)}
	if err := a.Users.CreateSession(ctx, s); err != nil {
		return Session{}, "", fmt.Errorf("login: %w", err)
	}
	s.Role, s.MustEnroll, s.SecondFactor = u.Role, a.mustEnroll(u), u.TOTPEnabled
	return s, secret, nil
}

// mustEnroll tells whether u must set up a second factor before anything
// else: one is required of them (or of everyone) and they have none.
func (a *Accounts) mustEnroll(u User) bool {
	return (a.RequireTOTP || u.RequireTOTP) && !u.TOTPEnabled
}

// Session returns the live session of a cookie secret, with the user's
// role now. Returns EUNAUTHORIZED.
func (a *Accounts) Session(ctx context.Context, secret string) (Session, error) {
	if secret == "" || len(secret) > 128 {
		return Session{}, Errorf(EUNAUTHORIZED, "not logged in")
	}
	s, err := a.Users.SessionByHash(ctx, HashToken(secret), a.Now())
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Session{}, Errorf(EUNAUTHORIZED, "not logged in")
		}
		return Session{}, err
	}
	// The store read the user's second factor with the session: a
	// server-wide requirement needs no other query.
	if a.RequireTOTP && !s.SecondFactor {
		s.MustEnroll = true
	}
	return s, nil
}

// Logout ends the session of a cookie secret.
func (a *Accounts) Logout(ctx context.Context, secret string) error {
	return a.Users.DeleteSession(ctx, HashToken(secret))
}

// ChangePassword replaces name's password after checking the current one.
// Returns EUNAUTHORIZED for a wrong current password, EINVALID for a weak one.
func (a *Accounts) ChangePassword(ctx context.Context, name, current, next string) error {
	u, err := a.Users.UserByName(ctx, name)
	if err != nil {
		return err
	}
	if good, err := a.checkPassword(ctx, u.Hash, current); err != nil {
		return err
	} else if !good {
		return Errorf(EUNAUTHORIZED, "the current password is wrong")
	}
	if err := ValidatePassword(next); err != nil {
		return err
	}
	hash, err := a.Hasher.Hash(next)
	if err != nil {
		return err
	}
	return a.Users.SetPassword(ctx, name, hash, a.Now())
}

// NeedsSetup tells whether no user exists yet.
func (a *Accounts) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := a.Users.CountUsers(ctx)
	return n == 0, err
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
