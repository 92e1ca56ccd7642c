// Package osstore is ftpd's storage in directories of this machine
// (backend = "os"): each user's root is opened once as an os.Root
// (driver.RootFs) and shared by every session using it, so a session costs
// no descriptor beyond its socket, and files stay plain *os.File values
// (sendfile, splice).
package osstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
)

// Backend is the os storage of a server.
type Backend struct {
	log   *slog.Logger
	now   func() time.Time
	roots []string // of the start config's os users, once each: what Sweep sweeps

	mu     sync.Mutex
	shared map[string]*sharedRoot // open roots, by directory
}

// sharedRoot is an open root directory and the number of sessions using it.
type sharedRoot struct {
	fs   *driver.RootFs
	refs int
}

// New returns the os storage of cfg's os users; log (nil: discarded) gets
// what the start-up sweep removed, now its cutoff (nil: time.Now).
func New(cfg *conf.Config, log *slog.Logger, now func() time.Time) *Backend {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	b := &Backend{log: log, now: now, shared: map[string]*sharedRoot{}}
	seen := map[string]bool{}
	for _, u := range cfg.Users {
		if u.Backend == conf.BackendOS && !seen[u.Root] {
			seen[u.Root] = true
			b.roots = append(b.roots, u.Root)
		}
	}
	return b
}

// Name is "os".
func (b *Backend) Name() string { return conf.BackendOS.String() }

// Check has nothing to check: the roots are checked by CheckRoot, as the
// account ftpd serves as.
func (b *Backend) Check(context.Context) error { return nil }

// Close closes nothing: an open root is closed by its last session's
// release.
func (b *Backend) Close() error { return nil }

// LocalDir is u's root.
func (b *Backend) LocalDir(u *conf.User) string { return u.Root }

// Open returns u's root, shared with every other session on the same
// directory (os.Root is safe for concurrent use); the release closes it
// after its last session.
func (b *Backend) Open(_ context.Context, u *conf.User) (afero.Fs, func() error, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sr, ok := b.shared[u.Root]
	if !ok {
		root, err := driver.OpenRootFs(u.Root)
		if err != nil {
			return nil, nil, err
		}
		sr = &sharedRoot{fs: root}
		b.shared[u.Root] = sr
	}
	sr.refs++
	var once sync.Once
	release := func() error {
		var err error
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if sr.refs--; sr.refs == 0 {
				delete(b.shared, u.Root)
				err = sr.fs.Close()
			}
		})
		return err
	}
	return sr.fs, release, nil
}

// Sweep removes, under every root of the start config, the partial upload
// files that a previous ftpd left behind when it was killed during a STOR,
// and logs how many in all. It runs at start, before the first connection
// is accepted, so no upload of this process can be mistaken for a
// leftover. A root that does not exist yet is not an error.
func (b *Backend) Sweep(context.Context) (int, error) {
	cutoff := b.now()
	total := 0
	var errs []error
	for _, root := range b.roots {
		n, err := driver.SweepPartials(root, cutoff)
		total += n
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("root %s (%d removed): %w", root, n, err))
		case n > 0:
			b.log.Info("removed partial uploads left by an earlier run", "root", root, "removed", n)
		}
	}
	b.log.Info("partial uploads swept at start", "removed", total, "roots", len(b.roots))
	return total, errors.Join(errs...)
}

// CheckRoot opens u's root. With create, a missing root is created first
// (a start, a reload); without, a missing root passes if its nearest
// existing parent is a directory this process may create it in
// (-check-config creates nothing).
func (b *Backend) CheckRoot(u *conf.User, create bool) error {
	dir := u.Root
	if !create {
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			return Creatable(dir)
		}
	}
	root, err := driver.OpenRootFs(dir) // creates it if missing
	if err != nil {
		return err
	}
	return root.Close()
}

// Creatable reports whether MkdirAll(dir) could succeed: the nearest
// existing ancestor is a directory this process may write into.
func Creatable(dir string) error {
	parent := filepath.Dir(filepath.Clean(dir))
	for {
		info, err := os.Stat(parent)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("cannot create %s: %s is not a directory", dir, parent)
			}
			if err := syscall.Access(parent, 0x2|0x1); err != nil { // W_OK|X_OK
				return fmt.Errorf("cannot create %s in %s: %w", dir, parent, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
			return fmt.Errorf("cannot create %s: %w", dir, err)
		}
		parent = filepath.Dir(parent)
	}
}
