//go:build !linux

package pageout

import (
	"errors"
	"fmt"
)

// Executable is Linux-only: elsewhere it returns an error that wraps
// errors.ErrUnsupported.
func Executable() (Result, error) {
	return Result{}, fmt.Errorf("page out the executable: %w", errors.ErrUnsupported)
}
