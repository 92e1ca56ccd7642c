package server

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/driver"
)

const closeNotifyFailure = "550 Issue during transfer close: error closing transfer connection: " +
	"tls: failed to send closeNotify alert (but connection was closed anyway): write tcp 127.0.0.2:40001->127.0.0.3:50000: write: broken pipe"

// TestRewriteTransferReply: the final reply follows how ftpd saw the
// transfer end, whatever the library's wording.
func TestRewriteTransferReply(t *testing.T) {
	up := &driver.Transfer{Direction: acl.DirectionReceive}
	down := &driver.Transfer{Direction: acl.DirectionSend}
	short := &driver.IncompleteError{Got: 5, Want: 100}
	full := fmt.Errorf("copy: %w", fmt.Errorf("%w: %w", driver.ErrInsufficientStorage, syscall.ENOSPC))
	cases := []struct {
		name string
		t    *driver.Transfer
		err  error
		line string
		want string
	}{
		{"complete upload, close_notify not sent back", up, nil, closeNotifyFailure, "226 "},
		{"download, close_notify not sent", down, nil, closeNotifyFailure, "550 Issue during transfer close"},
		{"failed upload, close_notify not sent", up, errors.New("reset"), closeNotifyFailure, "550 Issue during transfer close"},
		{"short upload", up, short, "550 Issue during transfer: network error: transfer incomplete", "451 transfer incomplete: got 5 of 100 bytes"},
		{"short download", down, short, "550 Issue during transfer: x", "451 transfer incomplete: got 5 of 100 bytes"},
		{"disk full", up, full, "550 Issue during transfer: splice: no space left on device", "452 insufficient storage"},
		{"ok", up, nil, "226 Closing transfer connection", "226 Closing transfer connection"},
		{"other failure", up, errors.New("reset"), "550 Issue during transfer: reset", "550 Issue during transfer: reset"},
	}
	for _, c := range cases {
		sess := &session{}
		sess.rewriteReply("150 Using transfer connection")
		sess.noteTransferEnd(c.t, c.err)
		if got := sess.rewriteReply(c.line); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q -> %q, want %q...", c.name, c.line, got, c.want)
		}
		// The outcome is used once.
		if got := sess.rewriteReply(closeNotifyFailure); got != closeNotifyFailure {
			t.Errorf("%s: outcome applied twice: %q", c.name, got)
		}
	}
	// An outcome whose reply never came (ABOR) is dropped when the next
	// transfer starts.
	sess := &session{}
	sess.noteTransferEnd(up, short)
	sess.rewriteReply("150 Opening data connection")
	if got := sess.rewriteReply("226 Closing transfer connection"); got != "226 Closing transfer connection" {
		t.Errorf("stale outcome applied: %q", got)
	}
	// Replies that are not a transfer's final reply are never touched.
	sess.noteTransferEnd(up, short)
	for _, line := range []string{"426 Connection closed; transfer aborted", "226 ABOR successful; closing transfer connection", "550 Could not access file: x"} {
		if got := sess.rewriteReply(line); got != line {
			t.Errorf("%q rewritten to %q", line, got)
		}
	}
}

func TestRewriteMkdReply(t *testing.T) {
	sess := &session{}
	for in, want := range map[string]string{
		`257 Created dir "/newdir"`:        `257 "/newdir" created`,
		`257 Created dir "/say ""hi"""`:    `257 "/say ""hi""" created`,
		`257 "/" is the current directory`: `257 "/" is the current directory`,
	} {
		if got := sess.rewriteReply(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestParseAllo(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "10 R 512": 10, "7 r 1": 7, "9223372036854775807": 1<<63 - 1} {
		if got, err := parseAllo(in); err != nil || got != want {
			t.Errorf("parseAllo(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1e6", "0x10", "1 R", "1 X 2", "1 R x", "9223372036854775808", "99999999999999999999", "1 2"} {
		if _, err := parseAllo(in); err == nil {
			t.Errorf("parseAllo(%q) accepted", in)
		}
	}
}
