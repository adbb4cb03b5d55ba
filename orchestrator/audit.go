package orchestrator

import (
	"context"
	"fmt"
	"time"
)

// PolicyRefusal is one call of a bundle that StackHub's bundle policy
// refused: which installation and run, which rule, which Docker API call.
type PolicyRefusal struct {
	At           time.Time
	Installation string
	RunID        string
	Rule         string
	Call         string
	Detail       string
}

// AuditLog keeps the policy's refusals for admins to read.
type AuditLog interface {
	// RecordRefusal appends r.
	RecordRefusal(ctx context.Context, r PolicyRefusal) error
	// Refusals returns the newest refusals first, at most limit, of one
	// installation or of all when installation is "".
	Refusals(ctx context.Context, installation string, limit int) ([]PolicyRefusal, error)
}

// MaxRefusalsLimit bounds one read of the audit log.
const MaxRefusalsLimit = 1000

// Refusals returns the bundle policy's newest refusals, of one
// installation or of all (installation ""). Returns EINVALID for a bad
// name or limit, and EUNAVAILABLE when no audit log is kept.
func (e *Engine) Refusals(ctx context.Context, installation string, limit int) ([]PolicyRefusal, error) {
	if installation != "" {
		if err := validateName("installation", installation); err != nil {
			return nil, err
		}
	}
	if limit < 1 || limit > MaxRefusalsLimit {
		return nil, Errorf(EINVALID, "limit must be between 1 and %d", MaxRefusalsLimit)
	}
	if e.d.Audit == nil {
		return nil, Errorf(EUNAVAILABLE, "no audit log is kept")
	}
	out, err := e.d.Audit.Refusals(ctx, installation, limit)
	if err != nil {
		return nil, fmt.Errorf("policy refusals: %w", err)
	}
	return out, nil
}
