package ftpclient

import (
	"context"
	"strings"
	"time"
)

// WaitReply reads one (possibly multi-line) reply with no timeout, for
// replies that come when a transfer ends, however long it takes. It returns
// early with an error when ctx is done. A reply cut short that way leaves
// the connection unusable: close it.
//
// WaitReply may run in one goroutine while another sends commands (ABOR)
// with Send; no other reads may run at the same time.
func (c *Conn) WaitReply(ctx context.Context) (int, string, error) {
	_ = c.raw.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetReadDeadline(time.Now()) })
	defer stop()
	code, msg, err := c.readResponse()
	if err != nil && ctx.Err() != nil {
		return 0, "", ctx.Err()
	}
	return code, msg, err
}

// Feat sends FEAT and returns the features, one per line, trimmed (the
// first and last lines of the reply are not features). A server that does
// not know FEAT yields a *ReplyError.
func (c *Conn) Feat() ([]string, error) {
	msg, err := c.Expect(211, "FEAT")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(msg, "\n")
	var out []string
	for i, l := range lines {
		if i == 0 || i == len(lines)-1 {
			continue
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}
