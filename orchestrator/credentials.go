package orchestrator

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
)

// generatedLength is the length of a generated secret: 32 characters of
// [A-Za-z0-9] carry about 190 bits and fit every app's password rules and
// config files without quoting.
const generatedLength = 32

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// GenerateSecret returns a random alphanumeric secret of n characters.
func GenerateSecret(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			// 248 = 4*62: rejecting bytes ≥ 248 keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, alphanumeric[int(b)%len(alphanumeric)])
			}
		}
	}
	return string(out)
}

// generateSecrets returns a fresh value for each of app's generated
// parameters (an install request sets no parameters).
func generateSecrets(app App) map[string]any {
	out := map[string]any{}
	for _, name := range app.Generate {
		out[name] = GenerateSecret(generatedLength)
	}
	return out
}

// Credentials are an installation's sensitive outputs (generated passwords
// and the like). Values are shown once: the first read after an install
// returns them, later reads only their names and when they were shown.
type Credentials struct {
	Installation string
	Values       map[string]string
	Names        []string
	// ShownAt is when the values were first returned; nil in that answer.
	ShownAt *time.Time
}

// CredentialStore hands out an installation's sensitive outputs once.
type CredentialStore interface {
	// RevealOutputs returns, the first time it is called since the
	// installation's last succeeded install, the latest values of the
	// named outputs (opened) and records the reveal; afterwards only the
	// names present and the time of that reveal. ENOTFOUND when the
	// installation has no succeeded install.
	RevealOutputs(ctx context.Context, installation string, names []string, now time.Time) (values map[string]string, present []string, shownAt *time.Time, err error)
}

// Credentials returns the installation's sensitive outputs, once. Returns
// ENOTFOUND for an unknown installation and ECONFLICT while it is not
// installed yet.
func (e *Engine) Credentials(ctx context.Context, name string) (Credentials, error) {
	if err := validateName("name", name); err != nil {
		return Credentials{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials of %s: %w", name, err)
	}
	if inst.State == StateInstalling || inst.State == StateFailed {
		return Credentials{}, Errorf(ECONFLICT, "%s has no credentials: it is %s", name, inst.State)
	}
	var names []string
	if app, err := e.d.Catalog.App(ctx, inst.App); err == nil {
		names = app.SensitiveOutputs
	}
	store := e.d.Credentials
	if store == nil || len(names) == 0 {
		return Credentials{Installation: name, Values: map[string]string{}}, nil
	}
	values, present, shown, err := store.RevealOutputs(ctx, name, names, e.d.Now())
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials of %s: %w", name, err)
	}
	if values == nil {
		values = map[string]string{}
	}
	if len(values) > 0 {
		e.log.Info("credentials shown", "installation", name, "names", present)
	}
	return Credentials{Installation: name, Values: values, Names: present, ShownAt: shown}, nil
}
