package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/afero"
)

// Dir is a directory opened to be listed a page at a time, as the client
// sees it: partial uploads are not in it. LIST, NLST and MLSD stream it
// (server/listing), so a listing holds one page, not the directory.
type Dir struct {
	f    afero.File
	name string
}

// OpenDir opens the directory name for listing.
func (d *FS) OpenDir(name string) (*Dir, error) {
	f, err := d.Fs.Open(name)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, name: name}, nil
}

// Readdir returns the next entries: at most n, sorted by name among
// themselves, and io.EOF once none is left; with n <= 0, all the entries
// left, sorted, and a nil error at the end. A storage error is returned
// with the entries read before it.
func (dir *Dir) Readdir(n int) ([]os.FileInfo, error) {
	for {
		fis, err := dir.f.Readdir(n)
		out := fis[:0]
		for _, fi := range fis {
			if listable(fi.Name()) {
				out = append(out, fi)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("read directory %s: %w", dir.name, err)
		}
		if n > 0 && len(fis) == 0 && err == nil {
			err = io.EOF // a storage that ends without saying so
		}
		if len(out) > 0 || err != nil || n <= 0 {
			return out, err
		}
		// A page of partial files only: read on.
	}
}

// listable reports whether a directory entry belongs in a listing: not a
// partial upload, and not a name no FTP command can address (CR, LF or
// NUL end or break a command line) which, written into a LIST or NLST,
// would forge listing lines. Such names come from outside FTP (a local
// user, another writer of the bucket).
func listable(name string) bool {
	return !strings.HasPrefix(name, PartialPrefix) && !strings.ContainsAny(name, "\r\n\x00") && name != "." && name != ".."
}

// Close releases the directory.
func (dir *Dir) Close() error { return dir.f.Close() }
