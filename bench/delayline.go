package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This kernel has no netem (and no fq for EDT pacing), so the WAN link
// between namespaces A and B is a delay line in this process: a TUN device
// in each namespace, and for each direction a goroutine pair that reads an
// IP packet from one device, queues it behind the packets before it at the
// link rate (serialization), holds it for the one-way delay and writes it
// to the other device. A packet that would wait longer than the router
// buffer for its turn is dropped (tail drop), as a router would. TCP ends
// in A and B, so the servers' own congestion control and socket buffers
// face a real bandwidth-delay product.

// openTun creates TUN device name (IFF_TUN|IFF_NO_PI) inside network
// namespace ns and returns it; the device lives in ns.
func openTun(ns, name string) (*os.File, error) {
	var f *os.File
	err := inNetns(ns, func() error {
		var err error
		f, err = makeTun(name)
		return err
	})
	return f, err
}

// inNetns runs fn on an OS thread that has joined network namespace ns:
// sockets and devices fn creates belong to ns, and stay usable from any
// thread. The thread returns to its namespace after fn; if that fails it
// is never unlocked, so it dies with its goroutine.
func inNetns(ns string, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			ch <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr == nil {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

func makeTun(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, e)
	}
	// Non-blocking: reads go through Go's poller and end at Close.
	return os.NewFile(uintptr(fd), "tun-"+name), nil
}

// delayLine moves packets one way from in to out.
type delayLine struct {
	in, out     *os.File
	delay       time.Duration
	bytesPerSec float64
	buffer      time.Duration // router buffer: longest wait for serialization
	mtu         int

	mu      sync.Mutex
	dropped int64
	moved   int64
}

// linkQueue is the delay line's schedule, apart from any clock or device:
// given when a packet of n bytes arrives, it says when the packet leaves
// the far end, or that the router buffer is full and it is dropped. The
// tests drive it with made-up times and check exact counts.
type linkQueue struct {
	delay       time.Duration
	bytesPerSec float64
	buffer      time.Duration
	lastDepart  time.Time // when the last admitted packet finishes serializing
}

// admit schedules a packet of n bytes arriving at now. It queues behind
// the packets before it at the link rate; one that would wait longer than
// the buffer for its turn is dropped (tail drop) and changes nothing.
func (q *linkQueue) admit(now time.Time, n int) (release time.Time, ok bool) {
	start := q.lastDepart
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > q.buffer {
		return time.Time{}, false
	}
	depart := start.Add(time.Duration(float64(n) / q.bytesPerSec * 1e9))
	q.lastDepart = depart
	return depart.Add(q.delay), true
}

type held struct {
	pkt     []byte
	release time.Time
}

func (d *delayLine) run(ctx context.Context) error {
	q := make(chan held, 1<<16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for h := range q {
			if wait := time.Until(h.release); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
			if _, err := d.out.Write(h.pkt); err == nil {
				d.mu.Lock()
				d.moved++
				d.mu.Unlock()
			}
		}
	}()
	sched := linkQueue{delay: d.delay, bytesPerSec: d.bytesPerSec, buffer: d.buffer}
	pool := sync.Pool{New: func() any { return make([]byte, d.mtu+64) }}
	var err error
	for ctx.Err() == nil {
		buf := pool.Get().([]byte)
		n, rerr := d.in.Read(buf)
		if rerr != nil {
			if !errors.Is(rerr, os.ErrClosed) {
				err = rerr
			}
			break
		}
		release, ok := sched.admit(time.Now(), n)
		if !ok {
			d.mu.Lock()
			d.dropped++
			d.mu.Unlock()
			continue
		}
		select {
		case q <- held{pkt: buf[:n], release: release}:
		default:
			d.mu.Lock()
			d.dropped++
			d.mu.Unlock()
		}
	}
	close(q)
	wg.Wait()
	return err
}

// link is both directions of one emulated link.
type link struct {
	cancel context.CancelFunc
	lines  []*delayLine
	done   chan struct{}
}

func startLink(a, b *os.File, k wanLink, mtu int) *link {
	ctx, cancel := context.WithCancel(context.Background())
	l := &link{cancel: cancel, done: make(chan struct{})}
	for _, p := range [][2]*os.File{{a, b}, {b, a}} {
		l.lines = append(l.lines, &delayLine{in: p[0], out: p[1], delay: k.delay, bytesPerSec: k.bits / 8,
			buffer: max(2*k.delay, 20*time.Millisecond), mtu: mtu})
	}
	var wg sync.WaitGroup
	for _, dl := range l.lines {
		wg.Add(1)
		go func() { defer wg.Done(); _ = dl.run(ctx) }()
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// stop ends both directions (the devices' reads end when they close).
func (l *link) stop() {
	l.cancel()
}

func (l *link) stats() (moved, dropped int64) {
	for _, dl := range l.lines {
		dl.mu.Lock()
		moved += dl.moved
		dropped += dl.dropped
		dl.mu.Unlock()
	}
	return
}
