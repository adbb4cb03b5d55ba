package swarmspec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported is what every Unsupported is: errors.Is(err,
// ErrUnsupported) tells a model Swarm cannot run from a failure to
// convert it at all (bad Options).
var ErrUnsupported = errors.New("not supported on Swarm")

// Unsupported is one compose setting the conversion refuses.
type Unsupported struct {
	// Service is the compose service holding Key, or empty for a
	// project-level key (Key then starts with networks. or volumes.).
	Service string
	// Key is the compose key as written in a compose file, with its path
	// below the service: privileged, ports[1].host_ip,
	// deploy.placement, networks.back.ipv4_address.
	Key string
	// Reason says why Swarm cannot honour it, or what to write instead.
	Reason string
}

// Error implements error: "service db: privileged: <reason>".
func (u Unsupported) Error() string {
	if u.Service == "" {
		return fmt.Sprintf("%s: %s", u.Key, u.Reason)
	}
	return fmt.Sprintf("service %s: %s: %s", u.Service, u.Key, u.Reason)
}

// Unwrap returns ErrUnsupported.
func (u Unsupported) Unwrap() error { return ErrUnsupported }

// UnsupportedError collects every Unsupported of one conversion, so one
// call names all of them. Convert returns it wrapped; find it with
// errors.AsType[*UnsupportedError].
type UnsupportedError struct {
	// Problems are in a stable order: project-level keys first, then the
	// services by name, each in the order of compose-go's ServiceConfig.
	Problems []Unsupported
}

// Error implements error, naming every problem.
func (e *UnsupportedError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	what := "setting has"
	if len(e.Problems) != 1 {
		what = "settings have"
	}
	return fmt.Sprintf("%d compose %s no Swarm equivalent: %s", len(e.Problems), what, strings.Join(parts, "; "))
}

// Unwrap returns each problem, so errors.Is(err, ErrUnsupported) holds.
func (e *UnsupportedError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}
