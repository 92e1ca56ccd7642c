package fxp

import (
	"context"
	"time"
)

// plannedBytes is the sum of the known sizes of jobs (-1 when none is
// known).
func plannedBytes(jobs []job) int64 {
	var n int64 = -1
	for _, j := range jobs {
		if j.size >= 0 {
			n = max(n, 0) + j.size
		}
	}
	return n
}

// copyRetrying copies j, and after a failure tries again up to Retries
// times, waiting Backoff, then twice as long each time (at most
// MaxBackoff). A retry continues the partial file the failed attempt left
// (REST + APPE) when the source advertises REST STREAM and progress was
// seen; otherwise, or after an APPE that moved nothing, it starts over.
func (w *worker) copyRetrying(ctx context.Context, j job) (fileResult, error) {
	wait := w.cl.opts.Backoff
	j.before, w.before = -1, -1
	for try := 0; ; try++ {
		w.touched, w.appendRefused = false, false
		res, err := w.copyFile(ctx, j)
		if try == 0 {
			j.before = w.before
		}
		if err == nil || try >= w.cl.opts.Retries || ctx.Err() != nil {
			return res, err
		}
		// Only a file our own attempt was seen writing may be continued:
		// a failure before the data flowed leaves the old destination
		// file, which a resume would wrongly extend.
		switch {
		case w.touched:
			j.resume = true
		case w.appendRefused:
			j.resume = false
		}
		w.cl.log.Info("retrying", "src", j.src.String(), "dst", j.dst.String(), "try", try+2, "in", wait.String(), "err", err.Error())
		w.cl.rep.Report(Event{Kind: EventRetry, Job: j.id, Src: j.src.String(), Dst: j.dst.String(), Size: j.size, Err: err.Error(), Retry: try + 1}.printable())
		w.reset()
		if !sleepCtx(ctx, wait) {
			return res, interrupted(ctx)
		}
		wait = min(wait*2, w.cl.opts.MaxBackoff)
	}
}

// sleepCtx waits d, or less when ctx ends first (then false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dialRetrying dials like dial, and when that fails tries again up to
// Retries times with the same backoff as files (for the listing and
// directory connections of mirror, -r and run).
func (c *Client) dialRetrying(ctx context.Context, role string, ep Endpoint) (*server, error) {
	wait := c.opts.Backoff
	for try := 0; ; try++ {
		s, err := c.dial(ctx, role, ep)
		if err == nil || try >= c.opts.Retries || ctx.Err() != nil {
			return s, err
		}
		c.log.Info("retrying connection", "role", role, "server", ep.String(), "in", wait.String(), "err", err.Error())
		if !sleepCtx(ctx, wait) {
			return nil, interrupted(ctx)
		}
		wait = min(wait*2, c.opts.MaxBackoff)
	}
}
