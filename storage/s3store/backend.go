package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
)

// CheckTimeout bounds the store check at start and in -check-config, and
// the start-up sweep.
const CheckTimeout = 30 * time.Second

// SweepAge is how old a multipart upload must be for the start-up sweep
// to abort it: well above any transfer, so another instance's live upload
// is never taken (a listing does not show which instance started one).
const SweepAge = 24 * time.Hour

// Backend is the S3 storage of a server (backend = "s3"): one Store for
// the [s3] bucket, and per user an Fs jailed in the user's key prefix.
type Backend struct {
	st       *Store
	source   string // the config file, for messages
	bucket   string
	endpoint string
	overlaps [][2]string // S3 users whose prefixes overlap
	prefixes []string    // the S3 users' prefixes at start (the sweep's scope)
	log      *slog.Logger
}

// NewBackend builds the [s3] store of cfg (no request yet). log (nil:
// discarded) gets the store's text of failed requests and the start-up
// warnings.
func NewBackend(cfg *conf.Config, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	st, err := New(context.Background(), Config{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, Bucket: cfg.S3.Bucket, PathStyle: cfg.S3.PathStyle,
		PartSize: int64(cfg.S3.PartSize), UploadMemory: int64(cfg.S3.UploadMemory), ClientShare: cfg.S3.ClientShare(),
		InstanceID: hex.EncodeToString(id[:]), Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: [s3]: %w", cfg.Source, err)
	}
	return &Backend{st: st, source: cfg.Source, bucket: cfg.S3.Bucket, endpoint: cfg.S3.Endpoint,
		overlaps: cfg.S3PrefixOverlaps(), prefixes: userPrefixes(cfg), log: log}, nil
}

// userPrefixes is the key prefixes of cfg's S3 users.
func userPrefixes(cfg *conf.Config) []string {
	var out []string
	for i := range cfg.Users {
		if cfg.Users[i].Backend == conf.BackendS3 {
			out = append(out, cfg.Users[i].Root)
		}
	}
	return out
}

// Store is the bucket's client (the spent store of tokens, metrics).
func (b *Backend) Store() *Store { return b.st }

// Name is "s3".
func (b *Backend) Name() string { return conf.BackendS3.String() }

// Check checks the store (Store.Check: bucket, credentials, probe,
// conditional create), then warns about users whose prefixes overlap
// (they see each other's files; sharing may be intended).
func (b *Backend) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	if err := b.st.Check(ctx); err != nil {
		return fmt.Errorf("%s: [s3] bucket %q at %s: %w", b.source, b.bucket, endpointName(b.endpoint), err)
	}
	for _, pair := range b.overlaps {
		b.log.Warn("S3 users' prefixes overlap: they see each other's files", "user", pair[0], "other", pair[1])
	}
	return nil
}

func endpointName(e string) string {
	if e == "" {
		return "AWS"
	}
	return e
}

// CheckRoot has nothing to check on the store: a prefix is checked with
// the config (conf.S3PrefixProblem), and needs no marker to exist.
func (b *Backend) CheckRoot(*conf.User, bool) error { return nil }

// LocalDir is "": the files are not on this machine.
func (b *Backend) LocalDir(*conf.User) string { return "" }

// Open returns the view of u's prefix; ctx is the session's lifetime (and
// names its client block, WithClient). There is nothing to release.
func (b *Backend) Open(ctx context.Context, u *conf.User) (afero.Fs, func() error, error) {
	fs, err := b.st.Fs(ctx, u.Root)
	if err != nil {
		return nil, nil, err
	}
	return fs, func() error { return nil }, nil
}

// Sweep aborts multipart uploads older than SweepAge (leftovers of a
// crash) under the prefixes of the S3 users at start: a bucket shared
// with another application, or used only by the spent store, keeps that
// application's uploads.
func (b *Backend) Sweep(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	n, err := b.st.SweepUploads(ctx, SweepAge, b.prefixes)
	if n > 0 {
		b.log.Info("aborted stale S3 multipart uploads", "aborted", n, "older_than", SweepAge)
	}
	return n, err
}

// Close keeps the client: sessions still open may use it.
func (b *Backend) Close() error { return nil }
