package orchestrator

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status.
const (
	ECONFLICT     = "conflict"     // already installed, name or port taken, run in progress
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	EINVALID      = "invalid"      // bad input
	ENOTFOUND     = "not_found"    // unknown app or installation
	EUNAVAILABLE  = "unavailable"  // Docker or another dependency does not answer
	EUNAUTHORIZED = "unauthorized" // missing or bad credentials
	EFORBIDDEN    = "forbidden"    // credentials without the scope the route needs
	EPRECONDITION = "precondition" // the host lacks what the app needs (preflight)
	ETOOMANY      = "too_many"     // rate limited: try again later
	EUNSUPPORTED  = "unsupported"  // a body in a media type the route does not take
	EPARAMETERS   = "parameters"   // parameter values the bundle's definitions refuse (Fields says which)
)

// Error is the domain error. Message is safe to show a user; Err is the
// cause, for the log.
type Error struct {
	Code    string
	Message string
	Err     error
	// Fields, when set, says what is wrong with each named input (a
	// parameter), safe to show beside it.
	Fields map[string]string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, or a generic message for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the per-input reasons of the first *Error in err's
// chain, nil when it has none.
func ErrorFields(err error) map[string]string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Fields
	}
	return nil
}

// ErrRunInProgress is returned when an installation already has an active run.
type ErrRunInProgress struct {
	Installation string
	RunID        string
}

func (e ErrRunInProgress) Error() string {
	return fmt.Sprintf("installation %s has a run in progress (%s)", e.Installation, e.RunID)
}

// Is makes errors.Is(err, ErrRunInProgress{}) match any run in progress.
func (e ErrRunInProgress) Is(target error) bool {
	_, ok := target.(ErrRunInProgress)
	return ok
}

// ErrPortTaken is returned (wrapped in ECONFLICT) when a port reservation
// loses to another installation; the engine plans again.
type ErrPortTaken struct{ Port int }

func (e ErrPortTaken) Error() string { return fmt.Sprintf("port %d is already reserved", e.Port) }
