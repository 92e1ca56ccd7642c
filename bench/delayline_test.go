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

// The delay line holds each packet for the delay, serializes them at the
// rate, and drops what would queue longer than its buffer.
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

	// 1000 packets at once: 100 ms of data at the rate, but only 60 ms
	// may queue.
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
	_ = outR.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := outR.Read(rbuf)
		if err != nil {
			break
		}
		if n != pkt {
			t.Fatalf("packet of %d bytes, sent %d", n, pkt)
		}
		if got == 0 {
			first = time.Since(start)
		}
		last = time.Since(start)
		got++
		_ = outR.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	}
	if first < delay {
		t.Errorf("first packet after %v, the delay is %v", first, delay)
	}
	// 60 ms of buffer at 10 MB/s is about 600 packets (plus what drained
	// while the sender wrote).
	if got < 550 || got > 800 {
		t.Errorf("%d of 1000 packets passed; want about 600 (tail drop past the 60 ms buffer)", got)
	}
	if _, dropped := (&link{lines: []*delayLine{dl}}).stats(); int(dropped) != 1000-got {
		t.Errorf("dropped %d, lost %d", dropped, 1000-got)
	}
	// The last passes after its serialization time plus the delay.
	if want := delay + time.Duration(float64(got*pkt)/rate*float64(time.Second)); last < want*9/10 || last > want+200*time.Millisecond {
		t.Errorf("last packet after %v, want about %v", last, want)
	}
}
