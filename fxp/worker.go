package fxp

import (
	"context"
	"errors"
	"fmt"

	"github.com/ftpd/ftpd/ftpclient"
)

// worker copies files one after another over its own pair of control
// connections, plus one that watches progress.
type worker struct {
	cl       *Client
	src, dst *server
	watch    prober
	// touched is set when a failed file's destination was seen growing
	// with this copy's bytes: it holds a partial copy of our own.
	touched bool
	// appendRefused is set when a failed file tried APPE and no data
	// flowed: the destination may not allow appends (ProFTPD without
	// AllowStoreRestart answers 451), so the next try starts over.
	appendRefused bool
	// before is the destination's size before a file's first try (0
	// when absent, -1 when not known yet).
	before int64
}

// fileResult is what one successful file copy did.
type fileResult struct {
	moved   int64
	skipped bool
	passive string
}

func (w *worker) close() {
	w.reset()
	w.watch.close()
}

// reset drops the control pair (after a failure its state is unknown).
func (w *worker) reset() {
	w.src.close()
	w.dst.close()
	w.src, w.dst = nil, nil
}

// connect (re)dials whatever side is not connected to j's servers.
func (w *worker) connect(ctx context.Context, j job) error {
	if w.src != nil && w.src.ep.Addr() != j.src.Addr() || w.dst != nil && w.dst.ep.Addr() != j.dst.Addr() {
		w.reset()
	}
	var err error
	if w.src == nil {
		if w.src, err = w.cl.dial(ctx, roleSrc, j.src); err != nil {
			return err
		}
	}
	if w.dst == nil {
		if w.dst, err = w.cl.dial(ctx, roleDst, j.dst); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies one file and reports its events; a failure is reported
// as an error event too.
func (w *worker) copyFile(ctx context.Context, j job) (fileResult, error) {
	t := newTracker(w.cl, j)
	res, err := w.copyOne(ctx, j, t)
	if err != nil {
		// Progress seen past the start means the destination file now
		// holds this attempt's bytes (STOR truncated it): a retry may
		// continue it. Without that, it may still be the old file.
		w.touched = t.movedPastStart()
		w.appendRefused = !w.touched && triedAppend(err)
		t.fail(err)
	}
	return res, err
}

func (w *worker) copyOne(ctx context.Context, j job, t *tracker) (fileResult, error) {
	if err := w.connect(ctx, j); err != nil {
		return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err}
	}
	size, err := w.srcSize(j)
	if err != nil {
		return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err}
	}
	t.setSize(size)

	var attempts []Attempt
	for i, pasvSrc := range w.cl.passiveOrder() {
		if i > 0 {
			if err := w.connect(ctx, j); err != nil {
				return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err, Attempts: attempts}
			}
		}
		var offset, oldSize int64
		if w.cl.opts.Resume || j.resume && hasFeature(w.src.features(), "REST STREAM") {
			if offset, err = w.resumeOffset(j, size); err != nil {
				return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err, Attempts: attempts}
			}
			if !w.cl.opts.Resume && offset == j.before {
				// A retry finds the destination as it was before the
				// first try (ftpd's atomic STOR keeps the old file):
				// not ours to extend, so start over.
				offset = 0
			}
			if size >= 0 && offset == size {
				t.start(offset)
				return w.finish(ctx, j, t, fileResult{skipped: true})
			}
		}
		if i == 0 {
			t.start(offset)
		}
		if offset > 0 {
			oldSize = offset
		} else {
			oldSize = w.dstSizeOr(j, 0) // a STOR over it shrinks it first
		}
		if i == 0 && !j.resume {
			w.before = oldSize
		}
		ws := watchState{offset: offset, oldSize: oldSize}
		// A transfer whose progress stands still for DataTimeout is
		// aborted like an interrupted one, but only this attempt.
		actx, stall := context.WithCancelCause(ctx)
		a := w.attempt(actx, j, pasvSrc, offset, size, func(ctx context.Context) {
			w.watch.run(ctx, w, j, &ws, t, func(err error) { stall(err) })
		})
		if cause := context.Cause(actx); ctx.Err() == nil && errors.Is(cause, errStalled) && a.Err == nil {
			a.Err = cause
		}
		stall(nil)
		attempts = append(attempts, a)
		if a.ok() {
			t.setPassive(a.Passive)
			return w.finish(ctx, j, t, fileResult{passive: a.Passive, moved: t.final(w.dstSizeOr(j, -1)) - offset})
		}
		w.reset()
		if ctx.Err() != nil {
			return fileResult{}, interrupted(ctx)
		}
		w.cl.log.Debug("attempt failed", "passive", a.Passive, "stage", a.Stage)
	}
	return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Attempts: attempts}
}

// finish verifies (if asked) and reports the file done.
func (w *worker) finish(ctx context.Context, j job, t *tracker, res fileResult) (fileResult, error) {
	if res.skipped {
		t.final(t.size())
	}
	verified := ""
	if w.cl.opts.Verify {
		var err error
		if verified, err = w.verify(ctx, j); err != nil {
			if ctx.Err() != nil {
				w.reset()
				return res, interrupted(ctx)
			}
			return res, err
		}
	}
	w.setMtime(j)
	t.done(res.skipped, verified)
	return res, nil
}

// passiveOrder lists the PASV sides to try: true means the source.
func (c *Client) passiveOrder() []bool {
	switch c.opts.Passive {
	case PassiveSrc:
		return []bool{true}
	case PassiveDst:
		return []bool{false}
	}
	return []bool{false, true}
}

// srcSize is the source file's size, -1 if the server cannot tell. A 550
// (no such file, or a directory) is an error.
func (w *worker) srcSize(j job) (int64, error) {
	n, err := w.src.c.Size(j.src.Path)
	var re *ftpclient.ReplyError
	switch {
	case err == nil:
		return n, nil
	case errors.As(err, &re) && re.Code == 550:
		return 0, fmt.Errorf("%s: %w", w.src, err)
	case errors.As(err, &re):
		w.cl.log.Debug("source SIZE unsupported; size unknown", "reply", re.Error())
		return -1, nil
	}
	return 0, fmt.Errorf("%s: %w", w.src, err)
}

// resumeOffset is how much of the destination file already exists.
func (w *worker) resumeOffset(j job, size int64) (int64, error) {
	n, ok, err := w.dst.size(j.dst.Path)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, nil
	case size >= 0 && n > size:
		return 0, fmt.Errorf("%s: %s is larger (%d bytes) than the source (%d bytes): not resuming", w.dst, j.dst.Path, n, size)
	}
	return n, nil
}

// dstSizeOr asks the destination for the copied file's size.
func (w *worker) dstSizeOr(j job, fallback int64) int64 {
	if n, ok, err := w.dst.size(j.dst.Path); err == nil && ok {
		return n
	}
	return fallback
}

// setMtime gives the destination file the source's modification time
// (MFMT), when known and the destination supports it, so that the next
// mirror sees the file as unchanged. A refusal is only logged.
func (w *worker) setMtime(j job) {
	if j.mtime.IsZero() || !hasFeature(w.dst.features(), "MFMT") {
		return
	}
	code, msg, err := w.dst.c.Cmd("MFMT %s %s", j.mtime.UTC().Format(mlsdTime), j.dst.Path)
	if err != nil || code != 213 {
		w.cl.log.Debug("MFMT failed", "path", j.dst.Path, "code", code, "msg", oneLine(msg), "err", err)
	}
}

// triedAppend reports whether a copy error includes an APPE attempt.
func triedAppend(err error) bool {
	var ce *CopyError
	if !errors.As(err, &ce) {
		return false
	}
	for _, a := range ce.Attempts {
		if a.Store == "APPE" && a.Stage == stageTransfer {
			return true
		}
	}
	return false
}
