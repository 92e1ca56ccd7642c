package fxp

import (
	"fmt"
	"io"
	"path"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// BarReporter draws one live progress bar per file (for terminals): name,
// bytes, percentage, rate and ETA. Finished files print a line above the
// bars.
type BarReporter struct {
	p    *mpb.Progress
	w    io.Writer
	mu   sync.Mutex
	bars map[int]*barState
	late []string // errors of files that never had a bar: printed by Close
	// total is the overall bar above the files' bars (runs of more than
	// one file).
	total    *overall
	totalBar *mpb.Bar
}

// Plan adds the overall bar: files and bytes done, rate, ETA.
func (r *BarReporter) Plan(files int, bytes int64) {
	if files < 2 {
		return
	}
	o := newOverall(files, bytes, time.Now)
	bar := r.p.AddBar(max(bytes, 0),
		mpb.BarPriority(-1), // above the files' bars
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return "total" }, decor.WC{W: 6, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return o.line() }, decor.WC{C: decor.DextraSpace})),
	)
	r.mu.Lock()
	r.total, r.totalBar = o, bar
	r.mu.Unlock()
}

type barState struct {
	bar *mpb.Bar
	mu  sync.Mutex
	ev  Event // last progress
}

// NewBarReporter draws on w, which should be a terminal.
func NewBarReporter(w io.Writer) *BarReporter {
	return &BarReporter{
		p:    mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond)),
		w:    w,
		bars: map[int]*barState{},
	}
}

func (r *BarReporter) Report(e Event) {
	r.mu.Lock()
	st := r.bars[e.Job]
	total, totalBar := r.total, r.totalBar
	r.mu.Unlock()
	if total != nil {
		total.update(e)
		totalBar.SetCurrent(total.moved())
		if total.doneAll() {
			totalBar.SetTotal(-1, true)
		}
	}
	switch e.Kind {
	case EventStart:
		st = &barState{ev: e}
		total := max(e.Size, 0)
		st.bar = r.p.AddBar(total,
			mpb.PrependDecorators(
				decor.Name(path.Base(e.Dst), decor.WC{C: decor.DindentRight | decor.DextraSpace}),
				decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{C: decor.DextraSpace}),
			),
			mpb.AppendDecorators(
				decor.OnAbort(decor.OnComplete(decor.Percentage(decor.WC{W: 5}), "done"), "failed"),
				decor.OnAbort(decor.OnComplete(decor.Any(st.rate, decor.WC{W: 13}), ""), ""),
				decor.OnAbort(decor.OnComplete(decor.Any(st.eta, decor.WC{W: 10}), ""), ""),
			),
		)
		st.bar.SetCurrent(e.Offset)
		r.mu.Lock()
		r.bars[e.Job] = st
		r.mu.Unlock()
	case EventProgress:
		if st == nil {
			return
		}
		st.mu.Lock()
		st.ev = e
		st.mu.Unlock()
		st.bar.SetCurrent(e.Bytes)
	case EventDone:
		msg := fmt.Sprintf("%s: %s in %s, %s/s, PASV on %s", e.Dst, humanBytes(e.Bytes), e.Elapsed.Round(time.Millisecond), humanBytes(int64(e.Rate)), e.Passive)
		if e.Skipped {
			msg = e.Dst + ": already complete"
		}
		if e.Verified != "" {
			msg += ", verified " + e.Verified
		}
		// The line first: mpb prints it with the next frame, and the
		// bar's last frame is the last one drawn.
		fmt.Fprintln(r.p, msg)
		if st != nil {
			st.bar.SetCurrent(e.Bytes)
			st.bar.SetTotal(-1, true)
			r.forget(e.Job)
		}
	case EventError:
		if st == nil {
			// No bar, so maybe no frame to carry the line: keep it.
			r.mu.Lock()
			r.late = append(r.late, fmt.Sprintf("%s: %s", e.Dst, e.Err))
			r.mu.Unlock()
			return
		}
		fmt.Fprintf(r.p, "%s: %s\n", e.Dst, e.Err)
		st.bar.Abort(false)
		r.forget(e.Job)
	}
}

func (r *BarReporter) forget(job int) {
	r.mu.Lock()
	delete(r.bars, job)
	r.mu.Unlock()
}

// Close waits for the bars to be drawn a last time.
func (r *BarReporter) Close() {
	r.mu.Lock()
	for _, st := range r.bars {
		st.bar.Abort(false) // a file that never ended: should not happen
	}
	if r.totalBar != nil && !r.totalBar.Completed() {
		r.totalBar.Abort(false) // an interrupted run
	}
	r.mu.Unlock()
	r.p.Wait()
	for _, l := range r.late {
		fmt.Fprintln(r.w, l)
	}
}

func (st *barState) rate(decor.Statistics) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ev.Rate <= 0 {
		return ""
	}
	return humanBytes(int64(st.ev.Rate)) + "/s"
}

func (st *barState) eta(decor.Statistics) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ev.Kind != EventProgress {
		return ""
	}
	return "ETA " + eta(st.ev)
}
