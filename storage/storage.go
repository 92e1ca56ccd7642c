// Package storage is where users' files live: one interface of ftpd's own,
// Backend, and one package per kind of store that implements it —
// storage/osstore (a directory of this machine, jailed by os.Root),
// storage/memstore (memory, for labs and tests) and storage/s3store (an
// S3-compatible object store). A Registry holds the backends a
// configuration uses, built once at start, and is the only place that maps
// a user's backend = "..." to code: the server opens every user's storage
// through it and never branches on the backend's name.
package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage/memstore"
	"github.com/ftpd/ftpd/storage/osstore"
	"github.com/ftpd/ftpd/storage/s3store"
)

// Backend is one kind of store, shared by every user whose backend names
// it.
type Backend interface {
	// Name is the backend's name in ftpd.toml (backend = "...").
	Name() string
	// Check verifies the store itself, at start and in -check-config,
	// through the same code (S3: bucket, credentials, a probe object,
	// conditional create). os and memory have nothing to check there:
	// their users' roots are checked by CheckRoot.
	Check(ctx context.Context) error
	// CheckRoot verifies u's root as the account ftpd serves as: a start
	// or a reload (create) creates a missing one, -check-config creates
	// nothing and only says whether it could.
	CheckRoot(u *conf.User, create bool) error
	// LocalDir is the directory of this machine that holds u's files,
	// "" when there is none (memory, S3). What no user may download (the
	// token key) must lie outside every such directory.
	LocalDir(u *conf.User) string
	// Open returns u's files and how to release them; ctx is the
	// session's lifetime.
	Open(ctx context.Context, u *conf.User) (afero.Fs, func() error, error)
	// Sweep removes, at start, what an earlier run left behind (partial
	// upload files, stale multipart uploads), logs what it removed, and
	// returns how many and what failed.
	Sweep(ctx context.Context) (removed int, err error)
	// Close releases what the backend holds between sessions.
	Close() error
}

// Options are what backends are built with.
type Options struct {
	Log *slog.Logger     // nil discards (-check-config)
	Now func() time.Time // nil = time.Now
}

// Kind is how one backend is built.
type Kind struct {
	Backend conf.Backend
	// Used reports whether cfg needs the backend; nil = some user has
	// backend = Backend.
	Used func(cfg *conf.Config) bool
	New  func(cfg *conf.Config, opts Options) (Backend, error)
	// AtStartOnly: a reload does not build the backend when the new
	// config is the first to use it (S3: the store's client and part
	// buffers are set up at start); its users' logins fail until a
	// restart.
	AtStartOnly bool
}

// Kinds are ftpd's backends, in the order they are checked and swept.
func Kinds() []Kind {
	return []Kind{
		{Backend: conf.BackendOS, New: func(cfg *conf.Config, o Options) (Backend, error) {
			return osstore.New(cfg, o.Log, o.Now), nil
		}},
		{Backend: conf.BackendMemory, New: func(*conf.Config, Options) (Backend, error) {
			return memstore.New(), nil
		}},
		{Backend: conf.BackendS3, AtStartOnly: true,
			// The spent store of one-time FXP links may live in the
			// bucket without any S3 user.
			Used: func(cfg *conf.Config) bool { return cfg.UsesS3() || cfg.Tokens.SpentStore == conf.SpentS3 },
			New: func(cfg *conf.Config, o Options) (Backend, error) {
				b, err := s3store.NewBackend(cfg, o.Log)
				if err != nil {
					return nil, err
				}
				return b, nil
			}},
	}
}

// Every built-in backend is a Backend.
var (
	_ Backend = (*osstore.Backend)(nil)
	_ Backend = (*memstore.Backend)(nil)
	_ Backend = (*s3store.Backend)(nil)
)

// Registry is the backends a server uses, by the name users give them.
type Registry struct {
	kinds []Kind
	opts  Options

	mu    sync.Mutex
	built map[conf.Backend]Backend
}

// New builds the backends cfg uses, and no other: a config without an S3
// user (or S3 spent store) never builds the S3 client. A user whose
// backend is none of kinds is refused with its file, line and key.
func New(cfg *conf.Config, kinds []Kind, opts Options) (*Registry, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Registry{kinds: kinds, opts: opts, built: map[conf.Backend]Backend{}}
	if err := r.build(cfg, false); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload builds the backends cfg is the first to use, but those built only
// at start.
func (r *Registry) Reload(cfg *conf.Config) error { return r.build(cfg, true) }

func (r *Registry) build(cfg *conf.Config, reload bool) error {
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if r.kind(u.Backend) == nil {
			return fmt.Errorf("%s:%d: users[%d].backend: no storage backend %v", cfg.Source, u.Line, i, u.Backend)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.kinds {
		if r.built[k.Backend] != nil || !used(k, cfg) {
			continue
		}
		if reload && k.AtStartOnly {
			for i := range cfg.Users {
				if cfg.Users[i].Backend == k.Backend {
					r.opts.Log.Warn("storage backend is set up at start only: the user's logins fail until a restart",
						"user", cfg.Users[i].Name, "backend", k.Backend.String())
				}
			}
			continue
		}
		b, err := k.New(cfg, r.opts)
		if err != nil {
			return err
		}
		r.built[k.Backend] = b
	}
	return nil
}

func (r *Registry) kind(b conf.Backend) *Kind {
	for i := range r.kinds {
		if r.kinds[i].Backend == b {
			return &r.kinds[i]
		}
	}
	return nil
}

func used(k Kind, cfg *conf.Config) bool {
	if k.Used != nil {
		return k.Used(cfg)
	}
	for i := range cfg.Users {
		if cfg.Users[i].Backend == k.Backend {
			return true
		}
	}
	return false
}

// Get is the backend b, nil when no config used it at start (or, for
// those a reload may build, since).
func (r *Registry) Get(b conf.Backend) Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.built[b]
}

// all is every built backend, in the order of kinds.
func (r *Registry) all() []Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Backend
	for _, k := range r.kinds {
		if b := r.built[k.Backend]; b != nil {
			out = append(out, b)
		}
	}
	return out
}

// Open returns u's files from u's backend and how to release them.
func (r *Registry) Open(ctx context.Context, u *conf.User) (afero.Fs, func() error, error) {
	b := r.Get(u.Backend)
	if b == nil {
		return nil, nil, fmt.Errorf("%v storage is not set up: restart ftpd after adding the first backend = %q user", u.Backend, u.Backend.String())
	}
	return b.Open(ctx, u)
}

// CheckRoot checks u's root in u's backend (see Backend.CheckRoot); nil
// when that backend is not built (a reload's first S3 user: its logins
// fail until a restart).
func (r *Registry) CheckRoot(u *conf.User, create bool) error {
	if b := r.Get(u.Backend); b != nil {
		return b.CheckRoot(u, create)
	}
	return nil
}

// LocalDir is the directory of this machine holding u's files, "" if none.
func (r *Registry) LocalDir(u *conf.User) string {
	if b := r.Get(u.Backend); b != nil {
		return b.LocalDir(u)
	}
	return ""
}

// Check checks every backend's store (Backend.Check), in order, and
// returns the first failure.
func (r *Registry) Check(ctx context.Context) error {
	for _, b := range r.all() {
		if err := b.Check(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Start checks every backend's store, then sweeps what an earlier run left
// in it; a failed sweep is logged, a failed check returned.
func (r *Registry) Start(ctx context.Context) error {
	for _, b := range r.all() {
		if err := b.Check(ctx); err != nil {
			return err
		}
		if n, err := b.Sweep(ctx); err != nil {
			r.opts.Log.Warn("start-up sweep", "backend", b.Name(), "removed", n, "err", err)
		}
	}
	return nil
}

// Close closes every backend.
func (r *Registry) Close() error {
	var first error
	for _, b := range r.all() {
		if err := b.Close(); err != nil && first == nil {
			first = fmt.Errorf("close %s storage: %w", b.Name(), err)
		}
	}
	return first
}
