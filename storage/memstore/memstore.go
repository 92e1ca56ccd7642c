// Package memstore is ftpd's storage in memory (backend = "memory"): each
// user's files live in a driver.MemoryFs, shared by the user's sessions,
// kept across reloads while name and root stay, and lost at exit — for
// labs and tests.
package memstore

import (
	"context"
	"sync"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
)

// Backend is the memory storage of a server.
type Backend struct {
	mu  sync.Mutex
	fss map[string]afero.Fs // by user name and root
}

// New returns an empty memory storage.
func New() *Backend { return &Backend{fss: map[string]afero.Fs{}} }

// Name is "memory".
func (b *Backend) Name() string { return conf.BackendMemory.String() }

// Check has nothing to check.
func (b *Backend) Check(context.Context) error { return nil }

// CheckRoot has nothing to check: a memory root is a name.
func (b *Backend) CheckRoot(*conf.User, bool) error { return nil }

// LocalDir is "": no directory of this machine holds the files.
func (b *Backend) LocalDir(*conf.User) string { return "" }

// Sweep has nothing to sweep: memory does not outlive a run.
func (b *Backend) Sweep(context.Context) (int, error) { return 0, nil }

// Close keeps the files: sessions still open may use them.
func (b *Backend) Close() error { return nil }

// Open returns u's files, the same for all the user's sessions; there is
// nothing to release.
func (b *Backend) Open(_ context.Context, u *conf.User) (afero.Fs, func() error, error) {
	key := u.Name + "\x00" + u.Root
	b.mu.Lock()
	defer b.mu.Unlock()
	fs, ok := b.fss[key]
	if !ok {
		fs = driver.NewMemoryFs()
		b.fss[key] = fs
	}
	return fs, func() error { return nil }, nil
}
