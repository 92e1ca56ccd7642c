// Package s3store is ftpd's storage on an S3-compatible object store: a
// client (Store) shared by the server, and per user an afero.Fs (Fs)
// jailed in a key prefix. Uploads are multipart uploads whose part buffers
// come from one server-wide budget; an upload's object appears only when
// the driver commits it after a clean transfer, and any other end aborts
// the multipart upload, so the old object stays as it was.
package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ftpd/ftpd/conf"
)

// Reserved is ftpd's own area in the bucket (probe objects, shared
// state). No user prefix may reach it.
const Reserved = conf.S3Reserved

// ErrStore marks a transfer that failed because the store failed (a
// request refused or unanswered): the server answers 451.
var ErrStore = errors.New("S3 store error")

// Config is what a Store needs ([s3] of ftpd.toml).
type Config struct {
	Endpoint     string // "" = AWS
	Region       string
	Bucket       string
	PathStyle    bool
	PartSize     int64 // multipart part size, >= 5 MiB
	UploadMemory int64 // all part buffers together, >= PartSize
	// ClientShare is the most one client block's uploads hold of
	// UploadMemory together (rounded down to whole parts, at least one);
	// 0 = no per-client cap. The client block comes from the session's
	// context (WithClient).
	ClientShare int64
	// InstanceID marks the multipart uploads this process starts (in
	// their metadata), so a start-up sweep aborts only its own.
	InstanceID string
	// RequestTimeout bounds each request that is not a transfer's
	// stream (HeadObject, a listing page, a delete, a directory marker):
	// a store that stops answering fails the command instead of holding
	// the session. 0 = DefaultRequestTimeout. Copies get CopyTimeout.
	RequestTimeout time.Duration
	// HTTPClient, if set, is the client's transport (tests).
	HTTPClient *http.Client
	// Log gets the store's own text of a failed request (endpoint,
	// bucket, request ids), which FTP replies do not show; nil discards.
	Log *slog.Logger
}

// MinPartSize is S3's smallest part but the last.
const MinPartSize = 5 << 20

// DefaultRequestTimeout bounds a request that moves no file data
// (Config.RequestTimeout); CopyTimeout bounds each copy request (a
// server-side copy of up to 5 GiB, or a 512 MiB part of a bigger one).
const (
	DefaultRequestTimeout = time.Minute
	CopyTimeout           = 15 * time.Minute
)

// Store is a client of one bucket shared by every S3 user of a server.
type Store struct {
	c        *s3.Client
	bucket   string
	partSize int64
	budget   *budget
	// copyLimit is the largest object copied with one CopyObject, and
	// copyPart the part size of bigger copies (S3's limits; tests lower
	// them).
	copyLimit, copyPart int64
	instance            string
	// reqTimeout bounds each request but a transfer's stream and a
	// copy; copyTimeout each copy request (Config.RequestTimeout).
	reqTimeout, copyTimeout time.Duration
	// minSendRate is the slowest a store may take an upload's part
	// (bytes/s) before the request fails: see partTimeout.
	minSendRate int64
	now         func() time.Time
	log         *slog.Logger
}

// New builds a Store; credentials come from the AWS SDK's default chain.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: empty bucket")
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part_size %d is below S3's minimum of 5 MiB", cfg.PartSize)
	}
	if cfg.UploadMemory < cfg.PartSize {
		return nil, fmt.Errorf("s3: upload_memory %d is below one part (%d)", cfg.UploadMemory, cfg.PartSize)
	}
	opts := []func(*config.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// The SDK's default trailing checksums are refused by several
		// S3 servers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(limitBody{}, middleware.After)
		})
	})
	instance := cfg.InstanceID
	if instance == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		instance = hex.EncodeToString(b[:])
	}
	slots := int(cfg.UploadMemory / cfg.PartSize)
	perClient := 0
	if cfg.ClientShare > 0 {
		perClient = max(1, int(cfg.ClientShare/cfg.PartSize))
	}
	reqTimeout := cfg.RequestTimeout
	if reqTimeout <= 0 {
		reqTimeout = DefaultRequestTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		log:         log,
		c:           c,
		bucket:      cfg.Bucket,
		partSize:    cfg.PartSize,
		budget:      newBudget(slots, perClient, cfg.PartSize),
		copyLimit:   maxSingleCopy,
		copyPart:    copyPartSize,
		instance:    instance,
		reqTimeout:  reqTimeout,
		copyTimeout: CopyTimeout,
		minSendRate: MinSendRate,
		now:         time.Now,
	}, nil
}

// MinSendRate is the slowest rate at which a store may take an upload's
// part (PutObject, UploadPart): a part request's deadline is the request
// timeout plus the part's size at this rate (16 MiB: 1 min + 64 s), so a
// store that accepts a part and never answers fails the upload with 451
// instead of holding it and its buffer.
const MinSendRate = 256 << 10

// partTimeout bounds a request that sends n bytes of an upload.
func (s *Store) partTimeout(n int) time.Duration {
	return s.reqTimeout + time.Duration(int64(n)*int64(time.Second)/s.minSendRate)
}

// Client is the SDK client (benchmarks, tests).
func (s *Store) Client() *s3.Client { return s.c }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// InstanceID marks this process's multipart uploads.
func (s *Store) InstanceID() string { return s.instance }

// CreateIfAbsent creates key with body only if no object has that key
// (PutObject with If-None-Match: *). It returns false, nil when the key
// already exists: of any number of racing callers exactly one gets true,
// on a store that honours conditional writes (Check tests that).
func (s *Store) CreateIfAbsent(ctx context.Context, key string, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		IfNoneMatch:   aws.String("*"),
	})
	if err == nil {
		return true, nil
	}
	if code := httpStatus(err); code == http.StatusPreconditionFailed || code == http.StatusConflict {
		// 409 ConditionalRequestConflict: a racing create is in flight
		// and won.
		return false, nil
	}
	return false, fmt.Errorf("s3: create %s: %w", key, err)
}

// maxErrorBody is the most of an error reply's body that is read: the
// SDK reads an error body whole before parsing it (and drains it before
// closing), and S3's error documents are a few hundred bytes.
// maxReplyBody is the most of any other reply but GetObject's data: a
// listing page of 1000 keys of 1024 bytes, XML-escaped, stays below it.
const (
	maxErrorBody = 1 << 20
	maxReplyBody = 16 << 20
)

// limitBody cuts the body of every error reply (status 300 and above) to
// maxErrorBody and of every other reply but GetObject's to maxReplyBody,
// so a failing or hostile store cannot make ftpd read an endless one
// into memory (the SDK builds a listing's names whole). It sits next to
// the transport, below the operation's deserializer.
type limitBody struct{}

func (limitBody) ID() string { return "ftpdLimitBody" }

func (limitBody) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Body == nil {
		return out, md, err
	}
	limit := int64(maxReplyBody)
	switch {
	case resp.StatusCode >= 300:
		limit = maxErrorBody
	case awsmiddleware.GetOperationName(ctx) == "GetObject":
		return out, md, err // the file's data: streamed, not held
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, limit), resp.Body}
	return out, md, err
}

// httpStatus is the HTTP status of an SDK error, 0 if none.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Check tells whether the store serves ftpd: bucket reachable, credentials
// accepted, a probe written, read back and deleted under .ftpd/, and a
// conditional create honoured. Each failure says which step and what to
// do.
func (s *Store) Check(ctx context.Context) error {
	if _, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		switch httpStatus(err) {
		case http.StatusNotFound:
			// A HEAD reply has no body: some stores (versitygw) answer
			// an unknown access key with a bare 404 there. A signed GET
			// says whether the credentials or the bucket are wrong.
			if gerr := s.probeGet(ctx); gerr != nil {
				return gerr
			}
			return fmt.Errorf("s3 check: bucket %q does not exist: create it or fix [s3].bucket: %w", s.bucket, err)
		case http.StatusForbidden, http.StatusUnauthorized:
			// A bare 403 on HEAD: a signed GET says which credential is wrong.
			if gerr := s.probeGet(ctx); gerr != nil {
				return gerr
			}
			return fmt.Errorf("s3 check: access to bucket %q denied: grant the credentials s3:ListBucket on it: %w", s.bucket, err)
		default:
			return fmt.Errorf("s3 check: bucket %q unreachable: check [s3].endpoint, region and path_style: %w", s.bucket, err)
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := Reserved + "probe-" + hex.EncodeToString(b[:])
	body := []byte("ftpd probe\n")
	if _, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		return fmt.Errorf("s3 check: write probe %s: %w (%s)", key, err, credHint(err))
	}
	defer func() {
		_, _ = s.c.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	}()
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("s3 check: read probe %s: %w (grant s3:GetObject)", key, err)
	}
	var got bytes.Buffer
	_, err = got.ReadFrom(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got.Bytes(), body) {
		return fmt.Errorf("s3 check: probe %s read back wrong (%q, %v): the store does not keep what it is given", key, got.Bytes(), err)
	}
	created, err := s.CreateIfAbsent(ctx, key, body)
	if err != nil {
		return fmt.Errorf("s3 check: conditional create: %w (the store must support If-None-Match: * on PutObject)", err)
	}
	if created {
		return errors.New("s3 check: conditional create (If-None-Match: *) was ignored: the store overwrote an existing object; ftpd needs a store that honours conditional writes (AWS S3, versitygw, recent Ceph RGW and MinIO)")
	}
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return fmt.Errorf("s3 check: delete probe %s: %w (grant s3:DeleteObject)", key, err)
	}
	return nil
}

func (s *Store) probeGet(ctx context.Context) error {
	key := Reserved + "absent-probe"
	_, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err == nil || httpStatus(err) == http.StatusNotFound && errCode(err) != codeUnknownUser {
		return nil
	}
	return fmt.Errorf("s3 check: credentials refused on bucket %q: %w (%s)", s.bucket, err, credHint(err))
}

// codeUnknownUser is versitygw's error code (with a 404) for an access
// key it does not know.
const codeUnknownUser = "XAdminUserNotFound"

func credHint(err error) string {
	switch errCode(err) {
	case "SignatureDoesNotMatch":
		return "the secret key is wrong: fix AWS_SECRET_ACCESS_KEY or the profile"
	case "InvalidAccessKeyId", codeUnknownUser:
		return "the access key is unknown to the store: fix AWS_ACCESS_KEY_ID or the profile"
	case "AccessDenied":
		return "the credentials lack permission: grant s3:PutObject, GetObject, DeleteObject, ListBucket"
	}
	return "check the credentials (AWS SDK default chain) and the store's policy"
}

// metaInstance and metaMtime are the object metadata keys ftpd sets.
const (
	metaInstance = "ftpd-instance"
	metaMtime    = "ftpd-mtime"
)

// SweepUploads aborts the multipart uploads under the key prefixes
// (where ftpd writes: its users' prefixes; none, none swept) started more
// than maxAge ago, whoever started them: leftovers of a crash (a live
// upload of another instance is younger; choose maxAge well above the
// longest transfer). A listing does not show an upload's metadata, so
// "only this instance's" cannot be told without one request per upload;
// the prefixes and the age are the guard, and another application's
// uploads elsewhere in the bucket are left alone. It returns how many it
// aborted.
func (s *Store) SweepUploads(ctx context.Context, maxAge time.Duration, prefixes []string) (int, error) {
	n := 0
	for _, p := range outermost(prefixes) {
		m, err := s.sweepPrefix(ctx, maxAge, p)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// outermost is prefixes without those another one contains (each
// upload is listed once).
func outermost(prefixes []string) []string {
	var out []string
	for i, p := range prefixes {
		inner := false
		for j, q := range prefixes {
			if strings.HasPrefix(p, q) && (p != q || j < i) {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, p)
		}
	}
	return out
}

func (s *Store) sweepPrefix(ctx context.Context, maxAge time.Duration, prefix string) (int, error) {
	n := 0
	var keyMarker, idMarker *string
	cutoff := s.now().Add(-maxAge)
	for {
		out, err := s.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker})
		if err != nil {
			return n, fmt.Errorf("s3: list multipart uploads: %w", err)
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(cutoff) {
				continue
			}
			if _, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId}); err == nil {
				n++
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		if aws.ToString(out.NextKeyMarker) == aws.ToString(keyMarker) && aws.ToString(out.NextUploadIdMarker) == aws.ToString(idMarker) {
			return n, errors.New("s3: list multipart uploads: the store's listing does not advance (same markers again)")
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
