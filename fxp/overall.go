package fxp

import (
	"fmt"
	"sync"
	"time"
)

// overall adds up a run's progress across files: files finished, bytes
// moved (finished files plus the running ones' progress), rate and ETA.
type overall struct {
	mu      sync.Mutex
	files   int   // planned
	bytes   int64 // planned, -1 when unknown
	done    int   // files finished (copied, skipped or failed)
	settled int64 // bytes of finished files
	running map[int]int64
	start   time.Time
	now     func() time.Time
}

func newOverall(files int, bytes int64, now func() time.Time) *overall {
	return &overall{files: files, bytes: bytes, running: map[int]int64{}, start: now(), now: now}
}

// update takes one event; it returns true when a file finished.
func (o *overall) update(e Event) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Kind {
	case EventStart:
		o.running[e.Job] = 0
	case EventProgress:
		o.running[e.Job] = e.Bytes
	case EventDone, EventError:
		// Bytes on the destination, resumed parts included: the plan
		// counts whole files.
		if e.Kind == EventDone {
			o.settled += e.Bytes
		} else {
			o.settled += o.running[e.Job]
		}
		delete(o.running, e.Job)
		o.done++
		return true
	}
	return false
}

// moved is the bytes done so far.
func (o *overall) moved() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.settled
	for _, b := range o.running {
		n += b
	}
	return n
}

// line is "3/10 files, 1.2 GiB / 4.0 GiB, 110.0 MiB/s, ETA 27s".
func (o *overall) line() string {
	n := o.moved()
	o.mu.Lock()
	defer o.mu.Unlock()
	el := o.now().Sub(o.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	eta := "?"
	if o.bytes >= 0 && rate > 0 {
		eta = (time.Duration(float64(max(o.bytes-n, 0))/rate) * time.Second).Round(time.Second).String()
	}
	total := ""
	if o.bytes >= 0 {
		total = " / " + humanBytes(o.bytes)
	}
	return fmt.Sprintf("%d/%d files, %s%s, %s/s, ETA %s", o.done, o.files, humanBytes(n), total, humanBytes(int64(rate)), eta)
}

// doneAll reports whether every planned file has finished.
func (o *overall) doneAll() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done >= o.files
}
