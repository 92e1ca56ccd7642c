package fxp

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFxpHashSupport(t *testing.T) {
	sha256 := hashAlgos[0]
	md5 := hashAlgos[3]
	cases := []struct {
		feats []string
		a     hashAlgo
		want  int
	}{
		{[]string{"HASH SHA-1;SHA-256*;MD5"}, sha256, hashHASH},
		{[]string{"CRC32;MD5;SHA-1;SHA-256*;SHA-512;", "XSHA256"}, sha256, hashHASH}, // ftpserverlib's FEAT
		{[]string{"XMD5", "XCRC"}, md5, hashX},
		{[]string{"XMD5", "XCRC"}, sha256, hashNone},
		{[]string{"MDTM", "SIZE"}, sha256, hashNone},
		{nil, sha256, hashNone},
	}
	for _, tc := range cases {
		if got := hashSupport(tc.feats, tc.a); got != tc.want {
			t.Errorf("hashSupport(%q, %s) = %d, want %d", tc.feats, tc.a.name, got, tc.want)
		}
	}
}

func TestFxpParseMLSD(t *testing.T) {
	jan1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for line, want := range map[string]entry{
		"Type=file;Size=123;Modify=20240101000000; a b.txt": {name: "a b.txt", typ: "file", size: 123, modify: jan1},
		"type=dir;modify=20240101000000; sub":               {name: "sub", typ: "dir", size: -1, modify: jan1},
		"type=file;size=1;modify=20240101000000.123; frac":  {name: "frac", typ: "file", size: 1, modify: jan1},
		"type=file;size=1;modify=2024-01-01; badtime":       {name: "badtime", typ: "file", size: 1},
		"type=cdir; .":                {name: ".", typ: "cdir", size: -1},
		"type=OS.unix=slink:/x; link": {name: "link", typ: "os.unix=slink:/x", size: -1},
	} {
		got, ok := parseMLSD(line)
		if !ok || got.name != want.name || got.typ != want.typ || got.size != want.size || !got.modify.Equal(want.modify) {
			t.Errorf("parseMLSD(%q) = %+v %v", line, got, ok)
		}
	}
	if _, ok := parseMLSD("garbage"); ok {
		t.Error("garbage parsed")
	}
}

func TestFxpQuoted(t *testing.T) {
	for msg, want := range map[string]string{
		`"/" is the current directory`: "/",
		`"/a ""b""" is current`:        `/a "b"`,
		`no quotes`:                    "/",
	} {
		if got := quoted(msg); got != want {
			t.Errorf("quoted(%q) = %q, want %q", msg, got, want)
		}
	}
}

// fakeClock advances by step at each call.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Report(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) Close()         {}

func TestFxpTrackerMonotonic(t *testing.T) {
	rec := &recorder{}
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	c := New(Options{Reporter: rec, Now: clock.now})
	tr := newTracker(c, job{id: 1, src: Endpoint{Host: "a", Port: 21, Path: "f"}, dst: Endpoint{Host: "b", Port: 21, Path: "f"}})
	tr.setSize(1000)
	tr.progress(10) // before start: dropped
	tr.start(100)
	for _, n := range []int64{50, 300, 200, 300, 2000} {
		tr.progress(n)
	}
	if n := tr.final(-1); n != 1000 {
		t.Fatalf("final = %d", n)
	}
	tr.done(false, "size:1000")
	var kinds []string
	var bytes []int64
	for _, e := range rec.events {
		kinds = append(kinds, e.Kind)
		bytes = append(bytes, e.Bytes)
	}
	if strings.Join(kinds, ",") != "start,progress,progress,done" {
		t.Fatalf("kinds %v", kinds)
	}
	if bytes[1] != 300 || bytes[2] != 1000 || bytes[3] != 1000 {
		t.Fatalf("bytes %v", bytes)
	}
	// The rate counts from the offset, by the injected clock.
	if e := rec.events[1]; e.Elapsed <= 0 || e.Rate != 200/e.Elapsed.Seconds() {
		t.Fatalf("rate %v after %v, want 200 bytes over that time", e.Rate, e.Elapsed)
	}
}

func TestFxpWatchStateSize(t *testing.T) {
	// Overwriting a 500-byte file: readings at or above 500 are stale
	// until the file shrinks.
	ws := watchState{oldSize: 500}
	if _, ok := ws.sizeSeen(500); ok {
		t.Fatal("old size trusted")
	}
	if n, ok := ws.sizeSeen(20); !ok || n != 20 {
		t.Fatal("shrunk size not trusted")
	}
	if _, ok := ws.sizeSeen(600); !ok {
		t.Fatal("later size not trusted")
	}
	// New file, or APPE from the old end: trusted at once.
	for _, ws := range []watchState{{}, {offset: 500, oldSize: 500}} {
		if _, ok := ws.sizeSeen(700); !ok {
			t.Fatalf("%+v: not trusted", ws)
		}
	}
}

func TestFxpReporters(t *testing.T) {
	e := Event{Kind: EventProgress, Job: 1, Src: "ftp://a:21/f", Dst: "ftp://b:21/f", Size: 4 << 20, Bytes: 1 << 20, Rate: 1 << 20, Elapsed: 1500 * time.Millisecond}
	var jb bytes.Buffer
	NewJSONReporter(&jb).Report(e)
	var m map[string]any
	if err := json.Unmarshal(jb.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["event"] != "progress" || m["bytes"] != float64(1<<20) || m["elapsed"] != 1.5 || m["size"] != float64(4<<20) {
		t.Fatalf("json %s", jb.String())
	}
	var lb bytes.Buffer
	clock := &fakeClock{t: time.Unix(0, 0), step: 3 * time.Second}
	r := NewLogReporter(&lb, 2*time.Second, clock.now)
	r.Report(Event{Kind: EventStart, Job: 1, Src: e.Src, Dst: e.Dst, Size: e.Size})
	r.Report(e)
	r.Report(Event{Kind: EventDone, Job: 1, Src: e.Src, Dst: e.Dst, Size: e.Size, Bytes: e.Size, Rate: 2 << 20, Elapsed: 2 * time.Second, Passive: "destination", Verified: "sha256:ab"})
	out := lb.String()
	for _, want := range []string{
		"start    ftp://a:21/f -> ftp://b:21/f (4.0 MiB)",
		"progress ftp://b:21/f 1.0 MiB / 4.0 MiB 25% 1.0 MiB/s ETA 3s",
		"done     ftp://a:21/f -> ftp://b:21/f: 4.0 MiB in 2s (2.0 MiB/s, PASV on destination), verified sha256:ab",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestFxpBarReporter(t *testing.T) {
	var b bytes.Buffer
	r := NewBarReporter(&b)
	r.Report(Event{Kind: EventStart, Job: 1, Dst: "ftp://b:21/f", Size: 100})
	r.Report(Event{Kind: EventProgress, Job: 1, Dst: "ftp://b:21/f", Size: 100, Bytes: 50, Rate: 10})
	r.Report(Event{Kind: EventDone, Job: 1, Dst: "ftp://b:21/f", Size: 100, Bytes: 100, Passive: "source"})
	r.Report(Event{Kind: EventStart, Job: 2, Dst: "ftp://b:21/g", Size: -1})
	r.Report(Event{Kind: EventError, Job: 2, Dst: "ftp://b:21/g", Err: "refused"})
	r.Report(Event{Kind: EventError, Job: 3, Dst: "ftp://b:21/h", Err: "no connection"}) // never started
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if !strings.Contains(b.String(), "ftp://b:21/g: refused") || !strings.Contains(b.String(), "ftp://b:21/h: no connection") ||
		!strings.Contains(b.String(), "ftp://b:21/f: 100 B") {
		t.Fatalf("bar output:\n%q", b.String())
	}
}

func TestFxpHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 64 << 20: "64.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
