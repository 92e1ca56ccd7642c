package fxp

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// Event kinds.
const (
	EventStart    = "start"
	EventProgress = "progress"
	EventDone     = "done"
	EventError    = "error"
	// EventRetry says a failed file will be tried again (Retry counts).
	EventRetry = "retry"
)

// Event is one step of one file's copy. Src and Dst have their passwords
// masked.
type Event struct {
	Kind     string        `json:"event"`
	Job      int           `json:"job"`
	Src      string        `json:"src"`
	Dst      string        `json:"dst"`
	Size     int64         `json:"size"`             // -1 when unknown
	Offset   int64         `json:"offset,omitempty"` // resumed from
	Bytes    int64         `json:"bytes"`            // on the destination
	Rate     float64       `json:"rate"`             // bytes/s since the start
	Elapsed  time.Duration `json:"-"`
	Passive  string        `json:"passive,omitempty"`  // side that got PASV
	Progress string        `json:"progress,omitempty"` // where progress came from
	Verified string        `json:"verified,omitempty"` // "sha256:<hex>" or "size:<n>"
	Skipped  bool          `json:"skipped,omitempty"`  // already complete (--resume)
	Err      string        `json:"error,omitempty"`
	Retry    int           `json:"retry,omitempty"` // retry: the how-manieth
	Secure   bool          `json:"secure"`          // data protected between the servers (--secure)
}

// printable is e with every text a server or a listing can shape (paths,
// errors with reply text) escaped by ftpclient.Printable, so that no
// reporter (text, bars, JSON) passes on a control or bidi character.
func (e Event) printable() Event {
	e.Src, e.Dst, e.Err = ftpclient.Printable(e.Src), ftpclient.Printable(e.Dst), ftpclient.Printable(e.Err)
	e.Verified, e.Progress, e.Passive = ftpclient.Printable(e.Verified), ftpclient.Printable(e.Progress), ftpclient.Printable(e.Passive)
	return e
}

// Reporter receives events from all of a copy's workers, concurrently.
type Reporter interface {
	Report(Event)
	// Close flushes; no events come after it.
	Close()
}

// Planner is a Reporter that wants to know, before a run's files start,
// how many there are and their total size (-1 when unknown): for an
// overall progress line.
type Planner interface {
	Plan(files int, bytes int64)
}

// NopReporter drops every event.
type NopReporter struct{}

func (NopReporter) Report(Event) {}
func (NopReporter) Close()       {}

// JSONReporter writes one JSON object per event and line.
type JSONReporter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONReporter writes to w.
func NewJSONReporter(w io.Writer) *JSONReporter {
	return &JSONReporter{enc: json.NewEncoder(w)}
}

type jsonEvent struct {
	Event
	ElapsedS float64 `json:"elapsed"`
}

func (r *JSONReporter) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.enc.Encode(jsonEvent{Event: e, ElapsedS: roundTo(e.Elapsed.Seconds(), 3)})
}

func (r *JSONReporter) Close() {}

// LogReporter writes plain lines (for logs and pipes): start, done and
// error lines, and a progress line per file at most every Every.
type LogReporter struct {
	mu    sync.Mutex
	w     io.Writer
	every time.Duration
	now   func() time.Time
	last  map[int]time.Time
	total *overall // after Plan, for runs of more than one file
}

// Plan starts the overall line printed after each finished file.
func (r *LogReporter) Plan(files int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if files > 1 {
		r.total = newOverall(files, bytes, r.now)
		fmt.Fprintf(r.w, "plan     %d files, %s\n", files, sizeText(bytes))
	}
}

// NewLogReporter writes to w; now may be nil (time.Now).
func NewLogReporter(w io.Writer, every time.Duration, now func() time.Time) *LogReporter {
	if now == nil {
		now = time.Now
	}
	return &LogReporter{w: w, every: every, now: now, last: map[int]time.Time{}}
}

func (r *LogReporter) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.total != nil && r.total.update(e) {
		defer func() { fmt.Fprintf(r.w, "overall  %s\n", r.total.line()) }()
	}
	switch e.Kind {
	case EventStart:
		from := ""
		if e.Offset > 0 {
			from = ", resuming at " + humanBytes(e.Offset)
		}
		fmt.Fprintf(r.w, "start    %s -> %s (%s%s%s)\n", e.Src, e.Dst, sizeText(e.Size), from, secureText(e.Secure))
		r.last[e.Job] = r.now()
	case EventProgress:
		now := r.now()
		if now.Sub(r.last[e.Job]) < r.every && (e.Size < 0 || e.Bytes < e.Size) {
			return
		}
		r.last[e.Job] = now
		fmt.Fprintf(r.w, "progress %s %s / %s%s %s/s ETA %s\n", e.Dst, humanBytes(e.Bytes), sizeText(e.Size),
			percent(e.Bytes, e.Size), humanBytes(int64(e.Rate)), eta(e))
	case EventDone:
		delete(r.last, e.Job)
		what := fmt.Sprintf("%s in %s (%s/s, PASV on %s%s)", humanBytes(e.Bytes), e.Elapsed.Round(time.Millisecond), humanBytes(int64(e.Rate)), e.Passive, secureText(e.Secure))
		if e.Skipped {
			what = "already complete"
		}
		if e.Verified != "" {
			what += ", verified " + e.Verified
		}
		fmt.Fprintf(r.w, "done     %s -> %s: %s\n", e.Src, e.Dst, what)
	case EventError:
		delete(r.last, e.Job)
		fmt.Fprintf(r.w, "error    %s -> %s: %s\n", e.Src, e.Dst, e.Err)
	case EventRetry:
		fmt.Fprintf(r.w, "retry    %s -> %s (retry %d): %s\n", e.Src, e.Dst, e.Retry, e.Err)
	}
}

func (r *LogReporter) Close() {}

func roundTo(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

func sizeText(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return humanBytes(n)
}

func percent(n, size int64) string {
	if size <= 0 {
		return ""
	}
	return fmt.Sprintf(" %d%%", n*100/size)
}

func eta(e Event) string {
	if e.Size < 0 || e.Rate <= 0 {
		return "?"
	}
	return (time.Duration(float64(e.Size-e.Bytes)/e.Rate*1e9) * time.Nanosecond).Round(time.Second).String()
}

// humanBytes formats n with binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
