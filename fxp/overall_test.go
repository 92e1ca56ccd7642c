package fxp

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// steppingClock advances by step at each call.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(step); return t }
}

func runEvents(r Reporter) {
	for job := 1; job <= 3; job++ {
		r.Report(Event{Kind: EventStart, Job: job, Size: 100, Dst: "f"})
		r.Report(Event{Kind: EventProgress, Job: job, Size: 100, Bytes: 50, Dst: "f"})
		if job == 2 {
			r.Report(Event{Kind: EventError, Job: job, Size: 100, Dst: "f", Err: "boom"})
			continue
		}
		r.Report(Event{Kind: EventDone, Job: job, Size: 100, Bytes: 100, Dst: "f"})
	}
}

func TestLogReporterOverall(t *testing.T) {
	var buf bytes.Buffer
	r := NewLogReporter(&buf, time.Hour, steppingClock(time.Second))
	r.Plan(3, 300)
	runEvents(r)
	out := buf.String()
	for _, want := range []string{"plan     3 files, 300 B", "overall  1/3 files, 100 B / 300 B", "overall  2/3 files, 150 B / 300 B", "overall  3/3 files, 250 B / 300 B"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	// One file: no overall line.
	buf.Reset()
	r = NewLogReporter(&buf, time.Hour, steppingClock(time.Second))
	r.Plan(1, 100)
	r.Report(Event{Kind: EventDone, Job: 1, Size: 100, Bytes: 100})
	if strings.Contains(buf.String(), "overall") {
		t.Fatalf("overall line for one file:\n%s", buf.String())
	}
}

func TestOverallETA(t *testing.T) {
	o := newOverall(2, 1000, steppingClock(time.Second)) // start at t=1s
	o.update(Event{Kind: EventStart, Job: 1})
	o.update(Event{Kind: EventProgress, Job: 1, Bytes: 100}) // 100 B in 1 s
	if got := o.line(); got != "0/2 files, 100 B / 1000 B, 100 B/s, ETA 9s" {
		t.Fatalf("line %q", got)
	}
}

func TestBarReporterOverall(t *testing.T) {
	var buf bytes.Buffer
	r := NewBarReporter(&buf)
	r.Plan(3, 300)
	runEvents(r)
	r.Close()
	out := buf.String()
	if !strings.Contains(out, "total") || !strings.Contains(out, "3/3 files") {
		t.Fatalf("no overall bar in:\n%s", out)
	}
}
