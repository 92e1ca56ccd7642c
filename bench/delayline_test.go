package main

import (
	"context"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// seqpacketPair is two connected packet sockets as files: packet
// boundaries are kept, like a TUN device's.
func seqpacketPair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// The schedule, on made-up times: exact counts, whatever the machine does.
func TestLinkQueue(t *testing.T) {
	const (
		delay = 30 * time.Millisecond
		rate  = 10e6 // bytes/s: a 1000-byte packet serializes in 100 µs
		pkt   = 1000
	)
	ser := time.Duration(pkt / rate * float64(time.Second))
	t0 := time.Unix(1000, 0)

	t.Run("burst is tail-dropped past the buffer", func(t *testing.T) {
		q := linkQueue{delay: delay, bytesPerSec: rate, buffer: 60 * time.Millisecond}
		admitted := 0
		var lastRelease time.Time
		for i := 0; i < 1000; i++ {
			release, ok := q.admit(t0, pkt)
			if !ok {
				continue
			}
			admitted++
			// Packet k (0-based) starts after k serializations, leaves one
			// later, and arrives a delay after that.
			want := t0.Add(time.Duration(admitted)*ser + delay)
			if !release.Equal(want) {
				t.Fatalf("packet %d released at +%v, want +%v", i, release.Sub(t0), want.Sub(t0))
			}
			lastRelease = release
		}
		// A packet may wait up to 60 ms for its turn: packets 0..600 start
		// at 0, 0.1, ..., 60.0 ms; packet 601 would wait 60.1 ms.
		if admitted != 601 {
			t.Errorf("%d of 1000 admitted, want 601", admitted)
		}
		if want := t0.Add(601*ser + delay); !lastRelease.Equal(want) {
			t.Errorf("last release +%v, want +%v", lastRelease.Sub(t0), want.Sub(t0))
		}
	})

	t.Run("a drop does not take a place in the queue", func(t *testing.T) {
		q := linkQueue{delay: delay, bytesPerSec: rate, buffer: 0}
		if _, ok := q.admit(t0, pkt); !ok {
			t.Fatal("first packet on an idle link dropped")
		}
		if _, ok := q.admit(t0, pkt); ok {
			t.Fatal("second packet admitted with no buffer while the first serializes")
		}
		// Once the first has left, the link is idle again.
		release, ok := q.admit(t0.Add(ser), pkt)
		if !ok || !release.Equal(t0.Add(2*ser+delay)) {
			t.Fatalf("after the first left: ok=%v release +%v, want +%v", ok, release.Sub(t0), 2*ser+delay)
		}
	})

	t.Run("a paced sender loses nothing", func(t *testing.T) {
		q := linkQueue{delay: delay, bytesPerSec: rate, buffer: 0}
		for i := 0; i < 1000; i++ {
			now := t0.Add(time.Duration(i) * ser)
			release, ok := q.admit(now, pkt)
			if !ok {
				t.Fatalf("packet %d dropped at exactly the link rate", i)
			}
			if want := now.Add(ser + delay); !release.Equal(want) {
				t.Fatalf("packet %d released at +%v, want +%v", i, release.Sub(t0), want.Sub(t0))
			}
		}
	})
}

// The delay line end to end, through real packet sockets and the wall
// clock. Only bounds that load cannot break are checked: the line never
// releases a packet before its delay or its serialization, a slower sender
// can only make the queue shorter (so at least as many pass as in the
// instant burst of TestLinkQueue), and every packet is counted once.
func TestDelayLine(t *testing.T) {
	// sender → [inW | inR] → line → [outW | outR] → receiver
	inW, inR := seqpacketPair(t)
	outW, outR := seqpacketPair(t)
	const (
		delay = 30 * time.Millisecond
		rate  = 10e6 // bytes/s
		pkt   = 1000
	)
	k := wanLink{delay: delay, bits: rate * 8}
	dl := &delayLine{in: inR, out: outW, delay: k.delay, bytesPerSec: rate, buffer: 60 * time.Millisecond, mtu: 1500}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- dl.run(ctx) }()
	t.Cleanup(func() { cancel(); inR.Close(); <-done })

	start := time.Now()
	buf := make([]byte, pkt)
	for i := 0; i < 1000; i++ {
		buf[0] = byte(i)
		if _, err := inW.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	var first, last time.Duration
	got := 0
	rbuf := make([]byte, 2000)
	stats := func() (int64, int64) { return (&link{lines: []*delayLine{dl}}).stats() }
	// Read until every packet the line took in is accounted for: received
	// here or dropped. The 30 s bound only stops a broken line from hanging
	// the test; the counts, not the clock, end the loop.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_ = outR.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := outR.Read(rbuf)
		if err != nil {
			if moved, dropped := stats(); moved+dropped == 1000 && int(moved) == got {
				break
			}
			continue
		}
		if n != pkt {
			t.Fatalf("packet of %d bytes, sent %d", n, pkt)
		}
		if got == 0 {
			first = time.Since(start)
		}
		last = time.Since(start)
		got++
	}
	if first < delay {
		t.Errorf("first packet after %v, the delay is %v", first, delay)
	}
	if got < 601 {
		t.Errorf("%d of 1000 packets passed; at least the 601 of an instant burst must", got)
	}
	moved, dropped := stats()
	if int(dropped) != 1000-got || int(moved) != got {
		t.Errorf("moved %d, dropped %d; received %d of 1000", moved, dropped, got)
	}
	// The n-th packet to pass left after n serializations, plus the delay.
	if want := delay + time.Duration(float64(got*pkt)/rate*float64(time.Second)); last < want {
		t.Errorf("last packet after %v, before its serialization and delay (%v)", last, want)
	}
}
