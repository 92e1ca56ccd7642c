package fxp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// tracker turns byte counts from any source into a file's events: byte
// counts never go back, and the last progress event is the final size.
type tracker struct {
	rep Reporter
	now func() time.Time

	mu      sync.Mutex
	ev      Event // Job, Src, Dst, Size, Offset, Passive, Progress
	started time.Time
	ended   time.Time // when the data stopped (final); zero before
	last    int64
	begun   bool
}

func newTracker(c *Client, j job) *tracker {
	return &tracker{
		rep: c.rep, now: c.opts.Now,
		ev: Event{Job: j.id, Src: j.src.String(), Dst: j.dst.String(), Size: -1, Secure: c.opts.Secure},
	}
}

func (t *tracker) setSize(n int64) {
	t.mu.Lock()
	t.ev.Size = n
	t.mu.Unlock()
}

func (t *tracker) size() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ev.Size
}

func (t *tracker) setPassive(role string) {
	t.mu.Lock()
	t.ev.Passive = role
	t.mu.Unlock()
}

func (t *tracker) setSource(s string) {
	t.mu.Lock()
	t.ev.Progress = s
	t.mu.Unlock()
}

// start reports the start event once.
func (t *tracker) start(offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.begun {
		return
	}
	t.begun = true
	t.started = t.now()
	t.ev.Offset, t.last = offset, offset
	t.emit(EventStart, offset)
}

// progress reports n bytes on the destination if it is news.
func (t *tracker) progress(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(n)
}

func (t *tracker) advance(n int64) {
	if t.ev.Size >= 0 && n > t.ev.Size {
		n = t.ev.Size
	}
	if !t.begun || n <= t.last {
		return
	}
	t.last = n
	t.emit(EventProgress, n)
}

// final settles the byte count once the copy succeeded: the size the
// destination reports (dstSize, -1 if unknown), else the source's size.
// It returns the final count.
func (t *tracker) final(dstSize int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = t.now()
	n := dstSize
	if n < 0 {
		n = max(t.ev.Size, t.last)
	}
	t.advance(n)
	return max(n, t.last)
}

// movedPastStart reports whether progress beyond the start offset was
// seen (the destination holds bytes of this copy).
func (t *tracker) movedPastStart() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.begun && t.last > t.ev.Offset
}

func (t *tracker) done(skipped bool, verified string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ev.Skipped, t.ev.Verified = skipped, verified
	t.emit(EventDone, t.last)
}

func (t *tracker) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ev.Err = err.Error()
	t.emit(EventError, t.last)
	t.ev.Err = ""
}

// emit reports an event; t.mu is held.
func (t *tracker) emit(kind string, n int64) {
	e := t.ev
	e.Kind, e.Bytes = kind, n
	if t.begun {
		end := t.ended
		if end.IsZero() {
			end = t.now()
		}
		e.Elapsed = end.Sub(t.started)
		if s := e.Elapsed.Seconds(); s > 0 {
			e.Rate = float64(n-t.ev.Offset) / s
		}
	}
	t.rep.Report(e.printable())
}

// Progress sources.
const (
	probeUnknown = iota
	probeXfersDst
	probeXfersSrc
	probeSize
	probeNone
)

var probeNames = [...]string{"", "SITE XFERS and SIZE on destination", "SITE XFERS on source", "SIZE on destination", ""}

// watchState is what one attempt's watcher knows and learns.
type watchState struct {
	offset  int64 // REST offset: XFERS counts from there
	oldSize int64 // destination size before the copy
	// sizeOK: SIZE on the destination reflects this copy. A STOR over an
	// existing file may keep showing the old size until the first byte
	// arrives; once SIZE falls below it (the truncation) it is this copy's.
	sizeOK bool
}

// sizeSeen filters a SIZE reading; ok is false while it may be stale.
func (ws *watchState) sizeSeen(n int64) (int64, bool) {
	if !ws.sizeOK && (n < ws.oldSize || ws.oldSize <= ws.offset) {
		ws.sizeOK = true
	}
	return n, ws.sizeOK
}

// prober watches copies from a third control connection: ftpd's SITE
// XFERS when either server answers it (destination first), else SIZE on
// the destination, which any server answers. It finds out once per
// worker. With XFERS on the destination it asks SIZE too and takes the
// larger count: ftpd counts a transfer's bytes per zero-copy chunk (up to
// 16 MiB), while the file grows continuously.
type prober struct {
	mode int
	conn *server
}

func (p *prober) close() {
	p.conn.close()
	p.conn, p.mode = nil, probeUnknown
}

// errStalled marks a transfer aborted because it moved no byte for the
// data timeout.
var errStalled = errors.New("transfer stalled")

// run polls until ctx ends. When the progress it sees stands still for
// the data timeout (DataTimeout, else Timeout), it calls stalled and
// returns; without SIZE on the destination it cannot tell.
func (p *prober) run(ctx context.Context, w *worker, j job, ws *watchState, t *tracker, stalled func(error)) {
	if p.mode == probeNone && p.conn == nil {
		p.mode = probeUnknown // the last file lost it: probe again
	}
	tick := time.NewTicker(w.cl.opts.PollInterval)
	defer tick.Stop()
	idle := w.cl.opts.DataTimeout
	if idle <= 0 {
		idle = w.cl.opts.Timeout
	}
	last, since := int64(-1), w.cl.opts.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if p.mode == probeUnknown {
			p.setup(ctx, w.cl, j)
		}
		if p.mode == probeNone {
			return
		}
		t.setSource(probeNames[p.mode])
		n, ok := p.poll(w.cl, j, ws)
		now := w.cl.opts.Now()
		if ok {
			t.progress(n)
			if n != last {
				last, since = n, now
			}
		}
		// Only SIZE on the destination sees every byte: SITE XFERS on
		// the source alone counts in chunks of up to 16 MiB, which a slow
		// link may take longer than idle to move.
		if (p.mode == probeSize || p.mode == probeXfersDst) && now.Sub(since) >= idle {
			stalled(fmt.Errorf("%w: no data for %s (--data-timeout): %d bytes on the destination", errStalled, idle, max(last, 0)))
			return
		}
	}
}

func (p *prober) setup(ctx context.Context, c *Client, j job) {
	p.mode = probeNone
	dst, err := c.dial(ctx, roleDst, j.dst)
	if err != nil {
		c.log.Debug("no progress connection", "err", err)
		return
	}
	if hasXfers(dst) {
		p.mode, p.conn = probeXfersDst, dst
		return
	}
	if src, err := c.dial(ctx, roleSrc, j.src); err == nil {
		if hasXfers(src) {
			dst.close()
			p.mode, p.conn = probeXfersSrc, src
			return
		}
		src.close()
	}
	p.mode, p.conn = probeSize, dst
}

func hasXfers(s *server) bool {
	code, _, err := s.c.Cmd("SITE XFERS")
	return err == nil && code == 200
}

// poll asks once; ok is false when there is nothing to report.
func (p *prober) poll(c *Client, j job, ws *watchState) (int64, bool) {
	var (
		n   int64
		err error
	)
	switch p.mode {
	case probeXfersDst:
		n, err = p.xfers(j, ws.offset)
		if s, serr := p.conn.c.Size(j.dst.Path); serr == nil && (err == nil || errors.Is(err, errNotListed)) {
			if s, ok := ws.sizeSeen(s); ok && s > n {
				n, err = s, nil
			}
		}
	case probeXfersSrc:
		n, err = p.xfers(j, ws.offset)
	case probeSize:
		var ok bool
		if n, err = p.conn.c.Size(j.dst.Path); err == nil {
			if n, ok = ws.sizeSeen(n); !ok {
				return 0, false
			}
		}
	default:
		return 0, false
	}
	var re *ftpclient.ReplyError
	switch {
	case err == nil:
		return n, true
	case errors.Is(err, errNotListed):
	case (errors.As(err, &re) || errors.Is(err, errBadXfers)) && p.mode == probeXfersDst:
		p.mode = probeSize // SITE XFERS went away or changed: fall back
	case errors.Is(err, errBadXfers) || errors.As(err, &re) && p.mode == probeXfersSrc:
		c.log.Debug("SITE XFERS on the source failed; no progress for this file", "err", err)
		p.close()
		p.mode = probeNone
	case errors.As(err, &re):
		// SIZE before the file exists, say: try again next time
	default:
		c.log.Debug("progress connection lost", "err", err)
		p.close()
		p.mode = probeNone // for this file; a new one re-probes
	}
	return 0, false
}

var (
	errNotListed = errors.New("transfer not listed")
	errBadXfers  = errors.New("unexpected SITE XFERS reply")
)

func (p *prober) xfers(j job, offset int64) (int64, error) {
	code, msg, err := p.conn.c.Cmd("SITE XFERS")
	if err != nil {
		return 0, err
	}
	if code != 200 {
		return 0, &ftpclient.ReplyError{Command: "SITE XFERS", Code: code, Msg: msg}
	}
	xs, err := ParseXfers(msg)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errBadXfers, err)
	}
	var (
		x  Xfer
		ok bool
	)
	if p.mode == probeXfersDst {
		x, ok = findXfer(xs, j.dst.Path, "STOR", "APPE")
	} else {
		x, ok = findXfer(xs, j.src.Path, "RETR")
	}
	if !ok {
		return 0, errNotListed
	}
	return offset + x.Bytes, nil
}
