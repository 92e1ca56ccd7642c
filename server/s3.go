package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage/s3store"
)

// s3CheckTimeout bounds the store check at start and in -check-config.
const s3CheckTimeout = 30 * time.Second

// s3SweepAge is how old a multipart upload must be for the start-up sweep
// to abort it: well above any transfer, so another instance's live upload
// is never taken (a listing does not show which instance started one).
const s3SweepAge = 24 * time.Hour

// openS3 builds the [s3] store of cfg (no request yet); nil when no user
// has backend = "s3" and token spends are not kept there. log gets the
// store's text of failed requests (nil: discarded).
func openS3(cfg *conf.Config, log *slog.Logger) (*s3store.Store, error) {
	if !cfg.UsesS3() && cfg.Tokens.SpentStore != conf.SpentS3 {
		return nil, nil
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, Bucket: cfg.S3.Bucket, PathStyle: cfg.S3.PathStyle,
		PartSize: int64(cfg.S3.PartSize), UploadMemory: int64(cfg.S3.UploadMemory), ClientShare: cfg.S3.ClientShare(),
		InstanceID: hex.EncodeToString(id[:]), Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: [s3]: %w", cfg.Source, err)
	}
	return st, nil
}

// checkS3 checks the store of cfg: bucket, credentials, probe, conditional
// create (s3store.Store.Check).
func checkS3(cfg *conf.Config, st *s3store.Store) error {
	if st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3CheckTimeout)
	defer cancel()
	if err := st.Check(ctx); err != nil {
		return fmt.Errorf("%s: [s3] bucket %q at %s: %w", cfg.Source, cfg.S3.Bucket, endpointName(cfg.S3.Endpoint), err)
	}
	return nil
}

func endpointName(e string) string {
	if e == "" {
		return "AWS"
	}
	return e
}

// startS3 checks the store and aborts stale multipart uploads.
func (s *Server) startS3(cfg *conf.Config) error {
	if s.s3 == nil {
		return nil
	}
	if err := checkS3(cfg, s.s3); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3CheckTimeout)
	defer cancel()
	n, err := s.s3.SweepUploads(ctx, s3SweepAge)
	switch {
	case err != nil:
		s.log.Warn("sweep stale S3 multipart uploads", "aborted", n, "err", err)
	case n > 0:
		s.log.Info("aborted stale S3 multipart uploads", "aborted", n, "older_than", s3SweepAge)
	}
	for _, pair := range cfg.S3PrefixOverlaps() {
		s.log.Warn("S3 users' prefixes overlap: they see each other's files", "user", pair[0], "other", pair[1])
	}
	return nil
}

// s3Fs is an S3 user's storage; ctx is the session's lifetime.
func (s *Server) s3Fs(ctx context.Context, u *conf.User) (afero.Fs, func() error, error) {
	if s.s3 == nil {
		return nil, nil, errors.New(`S3 storage is not set up: restart ftpd after adding the first backend = "s3" user`)
	}
	fs, err := s.s3.Fs(ctx, u.Root)
	if err != nil {
		return nil, nil, err
	}
	return fs, func() error { return nil }, nil
}
