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
