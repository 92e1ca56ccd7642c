package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/storage/s3store"
)

// uploadState is a session's bookkeeping for what a transfer's final reply
// must say: the size ALLO announced for the next upload, and how the last
// transfer ended. The FTP library words the final reply from its own view
// (226, or 550 with the error text); the screen corrects it from ftpd's.
type uploadState struct {
	mu      sync.Mutex
	allo    int64    // ALLO size for the next STOR/APPE; 0 = none
	outcome *outcome // the last transfer's end, until its final reply
	// restRefusals are the 501 replies of refused RESTs, in order: each
	// replaces the library's reply to the "REST 0" sent in its place.
	restRefusals []string
}

type outcome struct {
	upload bool
	err    error
}

// screenUpload answers ALLO itself: the size becomes the next upload's
// expected length (RFC 959 4.1.3), checked when its data stream ends. It
// also checks REST: the library takes a negative offset ("REST -5") and
// answers a bad one with 550; an offset is a decimal number of bytes
// (RFC 3659 5.2), anything else is 501 and leaves no offset set. An
// offset beyond the file is refused by the transfer (driver.ErrRestBeyond).
func (sess *session) screenUpload(verb, arg string) (string, bool) {
	if verb == "REST" {
		f := strings.TrimSpace(arg)
		offset, err := strconv.ParseInt(f, 10, 64)
		if !digits(f) || err != nil {
			// The library keeps the offset of an earlier REST: it gets
			// "REST 0", which clears it, and its reply becomes the 501.
			sess.up.mu.Lock()
			sess.up.restRefusals = append(sess.up.restRefusals,
				fmt.Sprintf("501 REST %q: the offset must be a decimal number of bytes, 0 to %d", arg, int64(math.MaxInt64)))
			sess.up.mu.Unlock()
			return "REST 0", true
		}
		return fmt.Sprintf("REST %d", offset), true
	}
	if verb != "ALLO" {
		return "", false
	}
	size, err := parseAllo(arg)
	if err != nil {
		return sess.answer(501, "ALLO: "+err.Error()), true
	}
	sess.up.mu.Lock()
	sess.up.allo = size
	sess.up.mu.Unlock()
	return sess.answer(200, fmt.Sprintf("ALLO %d: the next STOR or APPE must bring %d bytes", size, size)), true
}

// parseAllo reads "<size>" or "<size> R <record size>".
func parseAllo(arg string) (int64, error) {
	f := strings.Fields(arg)
	if len(f) != 1 && !(len(f) == 3 && strings.EqualFold(f[1], "R") && digits(f[2])) {
		return 0, fmt.Errorf("want ALLO <size> [R <record size>], got %q", arg)
	}
	if !digits(f[0]) {
		return 0, fmt.Errorf("size %q is not a decimal number", f[0])
	}
	size, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is out of range", f[0])
	}
	return size, nil
}

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// takeAllo returns the ALLO size for the transfer being opened and forgets
// it: ALLO applies to the next transfer command only.
func (sess *session) takeAllo() int64 {
	sess.up.mu.Lock()
	defer sess.up.mu.Unlock()
	n := sess.up.allo
	sess.up.allo = 0
	return n
}

// noteTransferEnd records how a transfer ended; its final reply, which the
// library writes right after, is corrected from it.
func (sess *session) noteTransferEnd(t *driver.Transfer, err error) {
	sess.up.mu.Lock()
	defer sess.up.mu.Unlock()
	sess.up.outcome = &outcome{upload: t.Direction == acl.DirectionReceive, err: err}
}

// Final replies the library writes after a file transfer.
const (
	replyTransferOK         = "226 Closing transfer connection"
	replyTransferFailed     = "550 Issue during transfer"
	replyTransferStorage    = "552 Issue during transfer"
	replyTransferCloseError = "550 Issue during transfer close"
	replyCannotOpen         = "550 Could not access file: "
	// The library's replies to REST.
	replyRestOK    = "350 OK"
	replyRestASCII = "501 Resuming transfers not allowed"
)

// rewriteReply corrects library replies that clients rely on:
//   - a REST offset beyond the file: 554 (RFC 3659 5.5), not 550;
//   - MKD's 257 in RFC 959 form, the path first: 257 "/a ""b""" created;
//   - a transfer's final reply from how ftpd saw it end: 451 for a transfer
//     that ended short, 452 for a full disk, and 226 for an upload whose
//     bytes all arrived and were stored even though the data connection's
//     TLS close_notify could not be sent back.
func (sess *session) rewriteReply(line string) string {
	if line == replyRestOK || strings.HasPrefix(line, replyRestASCII) {
		sess.up.mu.Lock()
		if len(sess.up.restRefusals) > 0 {
			line = sess.up.restRefusals[0]
			sess.up.restRefusals = sess.up.restRefusals[1:]
		}
		sess.up.mu.Unlock()
		return line
	}
	if q, ok := strings.CutPrefix(line, `257 Created dir "`); ok && strings.HasSuffix(q, `"`) {
		return `257 "` + q + ` created`
	}
	if strings.HasPrefix(line, "150 ") || strings.HasPrefix(line, "125 ") {
		sess.up.mu.Lock()
		sess.up.outcome = nil // a transfer starts: an older outcome is stale
		sess.up.mu.Unlock()
		return line
	}
	if strings.HasPrefix(line, replyCannotOpen) {
		if _, rest, ok := strings.Cut(line, driver.RestErrorPrefix); ok {
			return "554 " + driver.RestErrorPrefix + rest
		}
	}
	if !strings.HasPrefix(line, replyTransferOK) && !strings.HasPrefix(line, replyTransferFailed) &&
		!strings.HasPrefix(line, replyTransferStorage) {
		return line
	}
	sess.up.mu.Lock()
	o := sess.up.outcome
	sess.up.outcome = nil
	sess.up.mu.Unlock()
	if o == nil {
		return line
	}
	var short *driver.IncompleteError
	switch {
	case o.err == nil && o.upload && strings.HasPrefix(line, replyTransferCloseError):
		return "226 Transfer complete (data connection closed without TLS close_notify)"
	case errors.As(o.err, &short):
		return "451 " + short.Error()
	case errors.Is(o.err, driver.ErrInsufficientStorage):
		return "452 insufficient storage: upload removed, existing file unchanged"
	case errors.Is(o.err, s3store.ErrStore):
		// The store's own text (endpoint, request ids) stays in the log.
		if o.upload {
			return "451 storage error: upload aborted, existing file unchanged"
		}
		return "451 storage error: download aborted"
	}
	return line
}
