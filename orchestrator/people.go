package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Invite lets one person create an account with a role: an admin makes
// it, the server shows its code once, the invitee signs up with the code
// and a name and password of their own. Only the SHA-256 of the code is
// kept. It works once, until Expires.
type Invite struct {
	ID        string
	Hash      string
	Role      Role
	CreatedBy string
	Created   time.Time
	Expires   time.Time
}

// InviteLifetime is how long an invite works.
const InviteLifetime = 7 * 24 * time.Hour

// Invite makes an invite for role on behalf of by (who made it); it
// returns the one-time code and the invite. Returns EINVALID for a bad role.
func (a *Accounts) Invite(ctx context.Context, by string, role Role) (string, Invite, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", Invite{}, err
	}
	code := "shi_" + randomToken()
	now := a.Now()
	inv := Invite{ID: a.NewID(), Hash: HashToken(code), Role: role, CreatedBy: by, Created: now, Expires: now.Add(InviteLifetime)}
	if err := a.Users.CreateInvite(ctx, inv); err != nil {
		return "", Invite{}, fmt.Errorf("invite: %w", err)
	}
	return code, inv, nil
}

// Invites returns the invites still usable.
func (a *Accounts) Invites(ctx context.Context) ([]Invite, error) {
	return a.Users.Invites(ctx, a.Now())
}

// RevokeInvite withdraws an invite. Returns ENOTFOUND.
func (a *Accounts) RevokeInvite(ctx context.Context, id string) error {
	return a.Users.DeleteInvite(ctx, id)
}

// AcceptInvite creates the account an invite allows. Returns
// EUNAUTHORIZED for a wrong, used or expired code (one message for all),
// EINVALID for a bad name or password, ECONFLICT for a taken name. Wrong
// codes count against the client address as failed logins do.
func (a *Accounts) AcceptInvite(ctx context.Context, code, name, password, clientIP string) (User, error) {
	now := a.Now()
	keys := []string{"ip:" + clientIP}
	if !a.limits.take(now, keys, []int{LoginPerClient}) {
		return User{}, Errorf(ETOOMANY, "too many failed attempts: wait %s", LoginWindow)
	}
	if code == "" || len(code) > 128 {
		return User{}, Errorf(EUNAUTHORIZED, "this invite is wrong, used or expired: ask an admin for a new one")
	}
	u, err := a.newUser(name, password, "")
	if err != nil {
		return User{}, err
	}
	u, err = a.Users.AcceptInvite(ctx, HashToken(code), u, now)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return User{}, Errorf(EUNAUTHORIZED, "this invite is wrong, used or expired: ask an admin for a new one")
		}
		return User{}, err
	}
	a.limits.forgive(now, keys)
	return u, nil
}

// ListUsers returns every user.
func (a *Accounts) ListUsers(ctx context.Context) ([]User, error) { return a.Users.ListUsers(ctx) }

// SetRole changes name's role; their sessions end. Returns EINVALID,
// ENOTFOUND, or ECONFLICT when it would leave no admin.
func (a *Accounts) SetRole(ctx context.Context, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	return a.Users.SetRole(ctx, name, role)
}

// DeleteUser removes an account. Returns ENOTFOUND, or ECONFLICT when it
// would leave no admin.
func (a *Accounts) DeleteUser(ctx context.Context, name string) error {
	return a.Users.DeleteUser(ctx, name)
}

// SetRequireTOTP sets whether name must use a second factor.
func (a *Accounts) SetRequireTOTP(ctx context.Context, name string, require bool) error {
	return a.Users.SetRequireTOTP(ctx, name, require)
}

// TOTP parameters: RFC 6238's defaults, which every authenticator app reads.
const (
	TOTPIssuer = "StackHub"
	totpPeriod = 30
	// totpSkew is how many steps either side of now a code may be from.
	totpSkew = 1
	// RecoveryCodes is how many recovery codes a user gets at once.
	RecoveryCodes = 10
)

// Enrollment is a second factor being set up: the secret to type in, or
// the otpauth:// URL to scan.
type Enrollment struct {
	Secret string
	URL    string
}

// EnrollTOTP starts setting up a second factor for name: a new secret,
// stored unconfirmed (login does not ask for it until ConfirmTOTP).
// Returns ECONFLICT when one is set up already.
func (a *Accounts) EnrollTOTP(ctx context.Context, name string) (Enrollment, error) {
	u, err := a.Users.UserByName(ctx, name)
	if err != nil {
		return Enrollment{}, err
	}
	if u.TOTPEnabled {
		return Enrollment{}, Errorf(ECONFLICT, "%s has a second factor already: turn it off first to set up another", name)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: name, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll second factor: %w", err)
	}
	if err := a.Users.SetTOTP(ctx, u.ID, key.Secret(), false); err != nil {
		return Enrollment{}, fmt.Errorf("enroll second factor: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP turns name's second factor on once code matches the secret
// EnrollTOTP made; it returns fresh recovery codes, shown once. Returns
// EINVALID for a wrong code or when nothing is being set up.
func (a *Accounts) ConfirmTOTP(ctx context.Context, name, code string) ([]string, error) {
	u, err := a.Users.UserByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if u.TOTPSecret == "" || u.TOTPEnabled {
		return nil, Errorf(EINVALID, "no second factor is being set up: start with enroll")
	}
	step, ok := matchTOTP(u.TOTPSecret, code, a.Now())
	if !ok {
		return nil, Errorf(EINVALID, "the code does not match: check the authenticator app's clock and try the current code")
	}
	if err := a.Users.SetTOTP(ctx, u.ID, u.TOTPSecret, true); err != nil {
		return nil, err
	}
	if _, err := a.Users.AdvanceTOTPStep(ctx, u.ID, step); err != nil {
		return nil, err
	}
	return a.newRecoveryCodes(ctx, u.ID)
}

// DisableTOTP turns name's second factor off after checking the password.
// Returns EUNAUTHORIZED for a wrong password, ECONFLICT when a second
// factor is required of the user.
func (a *Accounts) DisableTOTP(ctx context.Context, name, password string) error {
	u, err := a.Users.UserByName(ctx, name)
	if err != nil {
		return err
	}
	if good, err := a.checkPassword(ctx, u.Hash, password); err != nil {
		return err
	} else if !good {
		return Errorf(EUNAUTHORIZED, "the password is wrong")
	}
	if a.RequireTOTP || u.RequireTOTP {
		return Errorf(ECONFLICT, "a second factor is required of %s: it cannot be turned off", name)
	}
	return a.Users.SetTOTP(ctx, u.ID, "", false)
}

// RenewRecoveryCodes replaces name's recovery codes after checking the
// password and returns the new ones, shown once. Returns EUNAUTHORIZED,
// or EINVALID when the user has no second factor.
func (a *Accounts) RenewRecoveryCodes(ctx context.Context, name, password string) ([]string, error) {
	u, err := a.Users.UserByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if good, err := a.checkPassword(ctx, u.Hash, password); err != nil {
		return nil, err
	} else if !good {
		return nil, Errorf(EUNAUTHORIZED, "the password is wrong")
	}
	if !u.TOTPEnabled {
		return nil, Errorf(EINVALID, "recovery codes come with a second factor: set one up first")
	}
	return a.newRecoveryCodes(ctx, u.ID)
}

func (a *Accounts) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, RecoveryCodes)
	hashes := make([]string, RecoveryCodes)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = HashToken(normalizeRecoveryCode(codes[i]))
	}
	if err := a.Users.SetRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, fmt.Errorf("recovery codes: %w", err)
	}
	return codes, nil
}

// newRecoveryCode returns 80 random bits as four groups of four base32
// letters and digits, e.g. "K3QX-7TNA-W2PD-MB6R".
func newRecoveryCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	s := base32.StdEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeRecoveryCode accepts a code typed in lower case, with or
// without its dashes and spaces.
func normalizeRecoveryCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

// checkSecondFactor accepts the user's current code (once: a code seen
// before is refused) or one unused recovery code (consumed).
func (a *Accounts) checkSecondFactor(ctx context.Context, u User, code, recovery string, now time.Time) error {
	switch {
	case code != "":
		step, ok := matchTOTP(u.TOTPSecret, code, now)
		if !ok {
			return Errorf(EUNAUTHORIZED, "the one-time code is wrong")
		}
		fresh, err := a.Users.AdvanceTOTPStep(ctx, u.ID, step)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if !fresh {
			return Errorf(EUNAUTHORIZED, "this one-time code was used already: wait for the next one")
		}
		return nil
	case recovery != "":
		if len(recovery) > 64 {
			return Errorf(EUNAUTHORIZED, "the recovery code is wrong or used")
		}
		used, err := a.Users.UseRecoveryCode(ctx, u.ID, HashToken(normalizeRecoveryCode(recovery)))
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if !used {
			return Errorf(EUNAUTHORIZED, "the recovery code is wrong or used")
		}
		return nil
	}
	return WrapError(EUNAUTHORIZED, ErrSecondFactor, "enter the one-time code from your authenticator app, or a recovery code")
}

// matchTOTP returns the time step whose code is code, within totpSkew
// steps of now.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if secret == "" || len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}
