package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Upload is a file being written to S3. Its bytes go into a part buffer
// taken from the store's budget; each full buffer is sent as a part of a
// multipart upload (started at the first full part). While a part is
// sent, the next one fills a second buffer if the budget has one to spare
// at that moment (never waited for: an upload that holds one buffer must
// not wait for another, or uploads holding one each would wait for each
// other forever); otherwise the part is sent before more is received.
// Commit makes the object appear: PutObject when everything fitted in one
// buffer, else CompleteMultipartUpload. Close without Commit aborts: the
// multipart upload is removed and the old object, if any, is untouched.
type Upload struct {
	notFile
	fs   *Fs
	name string
	key  string

	buf      []byte // the part being filled (capacity part_size); nil until the first write
	held     bool   // buf holds a budget token
	written  int64
	uploadID *string
	parts    []types.CompletedPart
	err      error
	done     bool

	// The part being sent while buf fills: its buffer (a budget token of
	// its own) and where its result arrives; nil when none.
	sending  []byte
	inflight chan partResult
}

// partResult is the end of one UploadPart.
type partResult struct {
	etag *string
	err  error
}

func newUpload(f *Fs, name, key string) *Upload {
	return &Upload{fs: f, name: name, key: key}
}

func (u *Upload) Name() string { return u.name }

// Stat reports the bytes written so far.
func (u *Upload) Stat() (os.FileInfo, error) {
	return &info{name: u.name, size: u.written, mtime: u.fs.s.now()}, nil
}

func (u *Upload) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: u.name, Err: ErrUnsupported}
}

// Seek tells the position; an upload cannot move.
func (u *Upload) Seek(off int64, whence int) (int64, error) {
	if (whence == io.SeekCurrent && off == 0) || (whence == io.SeekStart && off == u.written) || (whence == io.SeekEnd && off == 0) {
		return u.written, nil
	}
	return 0, &os.PathError{Op: "seek", Path: u.name, Err: ErrUnsupported}
}

func (u *Upload) ctx() context.Context { return u.fs.ctx }

// Write buffers p, sending each full part.
func (u *Upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.done {
		return 0, os.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		if err := u.ensureBuf(); err != nil {
			return n, err
		}
		if len(u.buf) == cap(u.buf) {
			// A full part is sent only once more data follows, so a file
			// of exactly one part still goes in one PutObject.
			if err := u.sendPart(); err != nil {
				u.err = err
				return n, err
			}
		}
		take := min(cap(u.buf)-len(u.buf), len(p))
		u.buf = append(u.buf, p[:take]...)
		p = p[take:]
		n += take
		u.written += int64(take)
	}
	return n, nil
}

// ReadFrom takes the data connection's bytes straight into the part
// buffer (no intermediate copy).
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if u.err != nil {
			return total, u.err
		}
		if err := u.ensureBuf(); err != nil {
			return total, err
		}
		if len(u.buf) == cap(u.buf) {
			// Full: send it only once more data is known to follow.
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			if n == 0 {
				if errors.Is(err, io.EOF) {
					return total, nil
				}
				return total, err
			}
			if err := u.sendPart(); err != nil {
				u.err = err
				return total, err
			}
			u.buf = append(u.buf, one[0])
			u.written++
			total++
			continue
		}
		// Read into the buffer's free room: never beyond the part size
		// (bytes.Buffer.ReadFrom would grow the buffer).
		n, err := r.Read(u.buf[len(u.buf):cap(u.buf)])
		u.buf = u.buf[:len(u.buf)+n]
		u.written += int64(n)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ensureBuf takes a part buffer from the budget if the upload has none,
// waiting while the budget or the client's share of it is spent.
func (u *Upload) ensureBuf() error {
	if u.buf != nil {
		return nil
	}
	b, err := u.fs.s.budget.acquire(u.ctx(), u.fs.client)
	if err != nil {
		u.err = err
		return err
	}
	u.held = true
	u.buf = b
	return nil
}

// sendPart sends the full buffer as the next part and gives the upload an
// empty one: the part goes in the background with the budget's spare
// buffer taking its place, or, when none is spare, before sendPart
// returns. Either way at most one part is in flight.
func (u *Upload) sendPart() error {
	if err := u.wait(); err != nil {
		return err
	}
	s := u.fs.s
	if u.uploadID == nil {
		ctx, cancel := context.WithTimeout(u.ctx(), s.reqTimeout)
		out, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: &s.bucket, Key: &u.key,
			Metadata: map[string]string{metaInstance: s.instance},
		})
		cancel()
		if err != nil {
			return fmt.Errorf("%w: start upload of %s: %w", ErrStore, u.name, err)
		}
		u.uploadID = out.UploadId
	}
	next, ok := s.budget.tryAcquire(u.fs.client)
	if !ok {
		return u.sendNow()
	}
	num := int32(len(u.parts) + 1)
	u.parts = append(u.parts, types.CompletedPart{PartNumber: &num})
	part := u.buf
	u.buf = next
	done := make(chan partResult, 1)
	u.sending, u.inflight = part, done
	go func() { done <- u.uploadPart(num, part) }()
	return nil
}

// sendNow sends the buffer as the next part and empties it (no part in
// flight).
func (u *Upload) sendNow() error {
	num := int32(len(u.parts) + 1)
	res := u.uploadPart(num, u.buf)
	if res.err != nil {
		return res.err
	}
	u.parts = append(u.parts, types.CompletedPart{PartNumber: &num, ETag: res.etag})
	u.buf = u.buf[:0]
	return nil
}

// uploadPart sends body as part num.
func (u *Upload) uploadPart(num int32, body []byte) partResult {
	s := u.fs.s
	ctx, cancel := context.WithTimeout(u.ctx(), s.partTimeout(len(body)))
	defer cancel()
	out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &u.key, UploadId: u.uploadID, PartNumber: &num,
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return partResult{err: fmt.Errorf("%w: upload part %d of %s: %w", ErrStore, num, u.name, err)}
	}
	return partResult{etag: out.ETag}
}

// wait waits for the part in flight, if any, gives its buffer back to the
// budget and returns the upload's first failure.
func (u *Upload) wait() error {
	if u.inflight != nil {
		res := <-u.inflight
		u.inflight = nil
		u.fs.s.budget.release(u.fs.client, u.sending)
		u.sending = nil
		// The part in flight is always the last one started.
		u.parts[len(u.parts)-1].ETag = res.etag
		if res.err != nil && u.err == nil {
			u.err = res.err
		}
	}
	return u.err
}

// Commit makes the object appear with everything written. Call it only
// for a transfer that completed; Close afterwards releases the buffer.
func (u *Upload) Commit() error {
	if u.err != nil {
		return u.err
	}
	if u.done {
		return os.ErrClosed
	}
	s := u.fs.s
	if u.uploadID == nil {
		body := u.buf
		ctx, cancel := context.WithTimeout(u.ctx(), s.partTimeout(len(body)))
		_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &u.key, Body: bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))),
		})
		cancel()
		if err != nil {
			u.err = fmt.Errorf("%w: store %s: %w", ErrStore, u.name, err)
			return u.err
		}
		u.done = true
		return nil
	}
	if err := u.wait(); err != nil {
		return err
	}
	if len(u.buf) > 0 {
		if err := u.sendNow(); err != nil {
			u.err = err
			return err
		}
	}
	// Completing a big object can take the store a while (AWS: minutes).
	ctx, cancel := context.WithTimeout(u.ctx(), s.copyTimeout)
	defer cancel()
	_, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &u.key, UploadId: u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		u.err = fmt.Errorf("%w: complete upload of %s: %w", ErrStore, u.name, err)
		return u.err
	}
	u.done = true
	return nil
}

// abortPatience is how long Close keeps trying to abort a multipart
// upload while the store does not answer (a store restart): an upload
// left behind would keep its parts until the start-up sweep.
const abortPatience = time.Minute

// Close releases the part buffer and, unless committed, aborts the
// multipart upload, retrying for up to abortPatience (with its own
// deadline: the session may be ending).
func (u *Upload) Close() error {
	// A part still in flight goes before the abort (a part that lands
	// after it could outlive the upload on some stores).
	_ = u.wait()
	if u.held {
		u.held = false
		u.fs.s.budget.release(u.fs.client, u.buf)
		u.buf = nil
	}
	if u.done {
		return nil
	}
	u.done = true
	if u.uploadID == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx()), abortPatience)
	defer cancel()
	for {
		_, err := u.fs.s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &u.fs.s.bucket, Key: &u.key, UploadId: u.uploadID})
		if err == nil || httpStatus(err) == http.StatusNotFound {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("s3: abort upload of %s: %w", u.name, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
