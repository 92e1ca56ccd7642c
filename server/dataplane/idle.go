package dataplane

import (
	"net"
	"sync/atomic"
	"time"
)

// idleWatch ends a data connection that moves no byte for a while. It
// never wraps the connection (the library and the driver keep the
// *net.TCPConn, so sendfile and splice stay in use): it sets the
// connection's deadline, and pushes it back each time the kernel's byte
// counters of the socket (bytes acknowledged by the peer, bytes received
// from it) have moved. A blocked read or write then fails by itself when
// the peer is silent, or reads nothing, for the timeout.
type idleWatch struct {
	timeout  time.Duration
	deadline atomic.Int64 // UnixNano of the deadline in force
	stop     chan struct{}
	stopped  atomic.Bool
}

// watchIdle starts watching tc; nil when the platform cannot tell
// progress (then no deadline is set: a deadline that nothing pushes back
// would cut every transfer longer than the timeout).
func watchIdle(tc *net.TCPConn, timeout time.Duration) *idleWatch {
	if tc == nil || timeout <= 0 {
		return nil
	}
	last, err := socketProgress(tc)
	if err != nil {
		return nil
	}
	w := &idleWatch{timeout: timeout, stop: make(chan struct{})}
	w.push(tc)
	go w.run(tc, last)
	return w
}

// tick is how often the counters are read: a quarter of the timeout, so
// a connection that moves keeps its deadline well ahead, and one that
// does not ends between 1 and 1.25 timeouts after its last byte.
func (w *idleWatch) tick() time.Duration {
	return min(max(w.timeout/4, 10*time.Millisecond), 15*time.Second)
}

func (w *idleWatch) push(tc *net.TCPConn) {
	d := time.Now().Add(w.timeout)
	w.deadline.Store(d.UnixNano())
	_ = tc.SetDeadline(d)
}

func (w *idleWatch) run(tc *net.TCPConn, last uint64) {
	t := time.NewTicker(w.tick())
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		n, err := socketProgress(tc)
		if err != nil {
			return // closed: the transfer is over
		}
		if n != last {
			last = n
			w.push(tc)
		}
	}
}

// expired reports whether the connection's deadline has passed, i.e. it
// moved nothing for the timeout (a connection that moves is pushed back
// before its deadline).
func (w *idleWatch) expired() bool {
	return w != nil && time.Now().UnixNano() >= w.deadline.Load()
}

// end stops the watch.
func (w *idleWatch) end() {
	if w != nil && w.stopped.CompareAndSwap(false, true) {
		close(w.stop)
	}
}
