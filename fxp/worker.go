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
	if w.cl.opts.InPlace {
		return w.copyInPlace(ctx, j, t, size)
	}
	return w.copyViaTemp(ctx, j, t, size)
}

// copyInPlace writes the target itself (--in-place): STOR, or REST + APPE
// to continue what the destination holds.
func (w *worker) copyInPlace(ctx context.Context, j job, t *tracker, size int64) (fileResult, error) {
	var attempts []Attempt
	for i, pasvSrc := range w.cl.passiveOrder() {
		if i > 0 {
			if err := w.connect(ctx, j); err != nil {
				return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err, Attempts: attempts}
			}
		}
		var offset, oldSize int64
		if w.cl.opts.Resume || j.resume && hasFeature(w.src.features(), "REST STREAM") {
			var err error
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
				return w.finish(ctx, j, t, fileResult{skipped: true}, nil)
			}
		}
		if i == 0 {
			t.start(offset)
		}
		store := "STOR"
		if offset > 0 {
			oldSize, store = offset, "APPE"
		} else {
			oldSize = w.dstSizeOr(j, 0) // a STOR over it shrinks it first
		}
		if i == 0 && !j.resume {
			w.before = oldSize
		}
		ws := watchState{offset: offset, oldSize: oldSize}
		a := w.watchedAttempt(ctx, j, pasvSrc, offset, size, store, &ws, t)
		attempts = append(attempts, a)
		if a.ok() {
			t.setPassive(a.Passive)
			return w.finish(ctx, j, t, fileResult{passive: a.Passive, moved: t.final(w.dstSizeOr(j, -1)) - offset}, nil)
		}
		w.reset()
		if ctx.Err() != nil {
			return fileResult{}, interrupted(ctx)
		}
		w.cl.log.Debug("attempt failed", "passive", a.Passive, "stage", a.Stage)
	}
	return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Attempts: attempts}
}

// copyViaTemp copies j into its temporary file beside the target (see
// tempPath) and renames that onto the target once its size (and, with
// Verify, its digest) matches the source. A fresh start removes a stale
// temporary file and writes with APPE, which ftpd (whose STOR is atomic)
// and the others write in place, so that an interrupted copy leaves the
// bytes so far; STOR is the fallback for a destination that refuses APPE.
// --resume (or a retry, when the source has REST STREAM) continues the
// temporary file from its size: REST on the source, APPE on the
// destination. The target is not touched before the rename. A
// destination that refuses both APPE and STOR of the temporary name gets
// the target written directly (copyInPlace).
func (w *worker) copyViaTemp(ctx context.Context, j job, t *tracker, size int64) (fileResult, error) {
	mtime := j.mtime
	if mtime.IsZero() {
		mtime = mdtm(w.src, j.src.Path)
	}
	tmp := j
	tmp.dst.Path = tempPath(j.dst.Path, j.src, size, mtime)
	resuming := w.cl.opts.Resume || j.resume && hasFeature(w.src.features(), "REST STREAM")
	if w.cl.opts.Resume && size >= 0 {
		// Nothing to continue and the target has the source's size: it
		// is complete already (as before temporary files). A target of
		// another size is not continued: it is a complete file too (an
		// older version, say), not this copy's beginning.
		_, ok, err := w.dst.size(tmp.dst.Path)
		if err != nil {
			return fileResult{}, &CopyError{Src: j.src, Dst: j.dst, Err: err}
		}
		if !ok {
			if m, ok, err := w.dst.size(j.dst.Path); err == nil && ok && m == size {
				t.start(size)
				return w.finish(ctx, j, t, fileResult{skipped: true}, nil)
			}
		}
	}
	storFresh := false // the destination refused APPE: start over with STOR
	order := w.cl.passiveOrder()
	var (
		attempts []Attempt
		offset   int64 // of the last attempt
	)
	fail := func(err error) (fileResult, error) {
		ce := &CopyError{Src: j.src, Dst: j.dst, Err: err, Attempts: attempts}
		if t.movedPastStart() || offset > 0 {
			ce.Partial = tmp.dst.Path
		}
		return fileResult{}, ce
	}
	for i := 0; i < len(order); i++ {
		pasvSrc := order[i]
		if i > 0 {
			if err := w.connect(ctx, j); err != nil {
				return fail(err)
			}
			resuming = resuming || t.movedPastStart() && hasFeature(w.src.features(), "REST STREAM")
		}
		var err error
		if offset, err = w.tempOffset(tmp, size, resuming); err != nil {
			return fail(err)
		}
		t.start(offset)
		if size >= 0 && offset == size {
			w.cl.log.Debug("temporary file complete", "path", tmp.dst.Path)
			return w.finish(ctx, tmp, t, fileResult{}, func() error { return w.commit(tmp, j) })
		}
		store := "APPE"
		if offset == 0 && storFresh {
			store = "STOR"
		}
		ws := watchState{offset: offset, oldSize: offset}
		a := w.watchedAttempt(ctx, tmp, pasvSrc, offset, size, store, &ws, t)
		attempts = append(attempts, a)
		if a.ok() {
			t.setPassive(a.Passive)
			got := w.dstSizeOr(tmp, -1)
			if size >= 0 && got >= 0 && got != size {
				return fail(fmt.Errorf("%s: %s holds %d bytes after the copy, the source %d: not renamed onto %s", w.dst, tmp.dst.Path, got, size, j.dst.Path))
			}
			res := fileResult{passive: a.Passive, moved: t.final(got) - offset}
			return w.finish(ctx, tmp, t, res, func() error { return w.commit(tmp, j) })
		}
		w.reset()
		if ctx.Err() != nil {
			err := interrupted(ctx)
			if t.movedPastStart() || offset > 0 {
				err = fmt.Errorf("%w; the bytes so far are in %s: fxp copy --resume continues it", err, tmp.dst.Path)
			}
			return fileResult{}, err
		}
		w.cl.log.Debug("attempt failed", "passive", a.Passive, "stage", a.Stage)
		refused := a.Err == nil && a.Dst.Code >= 400 && !a.Dst.Aborted && !t.movedPastStart()
		switch {
		case refused && store == "APPE" && !storFresh:
			// The destination refused APPE on its own (ProFTPD without
			// AllowStoreRestart: 451): the same side again, from byte 0
			// with STOR.
			w.cl.log.Debug("APPE refused; starting over with STOR", "reply", a.Dst.String())
			storFresh, resuming = true, false
			order = append(order[:i+1:i+1], order[i:]...)
		case refused && store == "STOR" && a.Dst.Code >= 500:
			// Neither APPE nor STOR of the temporary name: a login that
			// may write only the target (an ftpd receive token). Write
			// the target itself.
			w.cl.log.Info("the destination refuses the temporary file; writing the target directly", "tmp", tmp.dst.Path, "reply", a.Dst.String())
			if err := w.connect(ctx, j); err != nil {
				return fail(err)
			}
			return w.copyInPlace(ctx, j, t, size)
		}
	}
	return fail(nil)
}

// tempOffset is where a copy into tmp starts: the temporary file's size
// when resuming and it is no larger than the source; otherwise 0, after
// removing a stale temporary file (an earlier run's, never continued
// without --resume).
func (w *worker) tempOffset(tmp job, size int64, resuming bool) (int64, error) {
	n, ok, err := w.dst.size(tmp.dst.Path)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, nil
	case resuming && (size < 0 || n <= size):
		return n, nil
	}
	w.cl.log.Debug("removing stale temporary file", "path", tmp.dst.Path, "size", n)
	if _, err := w.dst.c.Expect(250, "DELE %s", tmp.dst.Path); err != nil {
		// Gone in between (ftpd removes a refused upload's empty file
		// just after its reply): what was to be removed is not there.
		if _, still, serr := w.dst.size(tmp.dst.Path); serr == nil && !still {
			return 0, nil
		}
		return 0, fmt.Errorf("%s: remove stale temporary file: %w", w.dst, err)
	}
	return 0, nil
}

// commit renames the complete temporary file of j onto its target
// (RNFR, RNTO). A destination that refuses to rename onto an existing
// file (Pure-FTPd, ProFTPD without AllowOverwrite, some Windows servers)
// gets the old target deleted (DELE) and the rename again: the new file
// is complete and checked by then. If that second rename fails, the new
// file stays under its temporary name, and the error says so.
func (w *worker) commit(tmp, j job) error {
	err := w.rename(tmp.dst.Path, j.dst.Path)
	if err == nil {
		return nil
	}
	var re *ftpclient.ReplyError
	if errors.As(err, &re) {
		if _, exists, serr := w.dst.size(j.dst.Path); serr == nil && exists {
			w.cl.log.Debug("rename onto the target refused; deleting the old target", "path", j.dst.Path, "reply", re.Error())
			if _, derr := w.dst.c.Expect(250, "DELE %s", j.dst.Path); derr != nil {
				err = errors.Join(err, derr)
			} else {
				err = w.rename(tmp.dst.Path, j.dst.Path)
			}
		}
	}
	if err != nil {
		return &CopyError{Src: j.src, Dst: j.dst, Err: fmt.Errorf("%s: the copy is complete in %s but was not renamed onto %s: %w", w.dst, tmp.dst.Path, j.dst.Path, err)}
	}
	return nil
}

func (w *worker) rename(from, to string) error {
	if _, err := w.dst.c.Expect(350, "RNFR %s", from); err != nil {
		return err
	}
	_, err := w.dst.c.Expect(250, "RNTO %s", to)
	return err
}

// finish verifies (if asked), sets the time, runs commit (if any: the
// rename of a temporary file) and reports the file done. A temporary file
// that fails verification is removed: its bytes are wrong, not to be
// continued.
func (w *worker) finish(ctx context.Context, j job, t *tracker, res fileResult, commit func() error) (fileResult, error) {
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
			var ve *VerifyError
			if commit != nil && errors.As(err, &ve) {
				if _, derr := w.dst.c.Expect(250, "DELE %s", j.dst.Path); derr != nil {
					err = errors.Join(err, fmt.Errorf("%s: remove %s: %w", w.dst, j.dst.Path, derr))
				}
			}
			return res, err
		}
	}
	w.setMtime(j)
	if commit != nil {
		if err := commit(); err != nil {
			return res, err
		}
	}
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

// watchedAttempt runs one attempt while the prober watches its progress. A
// transfer whose progress stands still for DataTimeout is aborted like an
// interrupted one, but only this attempt: its error says it stalled.
func (w *worker) watchedAttempt(ctx context.Context, j job, pasvSrc bool, offset, size int64, store string, ws *watchState, t *tracker) Attempt {
	actx, stall := context.WithCancelCause(ctx)
	defer stall(nil)
	a := w.attempt(actx, j, pasvSrc, offset, size, store, func(ctx context.Context) {
		w.watch.run(ctx, w, j, ws, t, func(err error) { stall(err) })
	})
	if cause := context.Cause(actx); ctx.Err() == nil && errors.Is(cause, errStalled) && a.Err == nil {
		a.Err = cause
	}
	return a
}
