package driver

import (
	"errors"
	"fmt"
	"syscall"
)

// IncompleteError is a transfer that ended cleanly but short: a download
// that sent fewer bytes than the file holds from its offset, or an upload
// whose sender ended before the size it announced with ALLO.
type IncompleteError struct {
	Got, Want int64
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("transfer incomplete: got %d of %d bytes", e.Got, e.Want)
}

// ErrInsufficientStorage is an upload that ran out of space (ENOSPC,
// EDQUOT). The upload's partial data is removed.
var ErrInsufficientStorage = errors.New("insufficient storage")

// storageError marks a write error caused by a full disk or quota so the
// server can answer 452.
func storageError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrInsufficientStorage, err)
	}
	return err
}
