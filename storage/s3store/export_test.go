package s3store

import (
	"time"

	"github.com/spf13/afero"
)

// DirBuffered is how many entries a directory listing holds at most
// (its page buffer's capacity), for the big-directory test.
func DirBuffered(f afero.File) int { return cap(f.(*dirFile).buf) }

// SetCopyLimits lowers the single-copy limit and the multipart copy part
// size, so a test exercises the multipart copy without 5 GiB objects.
func (s *Store) SetCopyLimits(single, part int64) { s.copyLimit, s.copyPart = single, part }

// SetNow sets the store's clock (the start-up sweep's age).
func (s *Store) SetNow(now func() time.Time) { s.now = now }

// SetRequestTimeouts lowers the request timeout and the slowest rate a
// part may be sent at, so a test sees a silent store fail an upload fast.
func (s *Store) SetRequestTimeouts(req time.Duration, minSendRate int64) {
	s.reqTimeout, s.minSendRate, s.copyTimeout = req, minSendRate, req
}
