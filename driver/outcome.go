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

// RestError refuses a REST offset beyond the end of the file: a download
// would send nothing, and an upload would make a sparse file of any size
// the client names.
type RestError struct {
	Offset, Size int64
	Missing      bool // an upload to a file that does not exist
}

// RestErrorPrefix starts every RestError's text, so that the server can
// tell it in the FTP library's reply and answer 554 (RFC 3659 5.5).
const RestErrorPrefix = "REST offset "

func (e *RestError) Error() string {
	if e.Missing {
		return fmt.Sprintf("%s%d refused: the file does not exist; resume an upload only within a file", RestErrorPrefix, e.Offset)
	}
	return fmt.Sprintf("%s%d is beyond the end of the file (%d bytes)", RestErrorPrefix, e.Offset, e.Size)
}
