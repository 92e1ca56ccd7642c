package s3store

import "github.com/spf13/afero"

// DirBuffered is how many entries a directory listing holds at most
// (its page buffer's capacity), for the big-directory test.
func DirBuffered(f afero.File) int { return cap(f.(*dirFile).buf) }
