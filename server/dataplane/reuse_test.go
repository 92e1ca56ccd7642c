package dataplane

import (
	"net"
	"testing"
	"time"
)

// Accept closes the raw listener as soon as it hands a connection over,
// while the transfer (and the Listener's registration) goes on; another
// session's PASV can then get the same port. Wrap must replace the stale
// registration without deadlocking: it used to close the old Listener
// while holding the plane's lock, and close takes that lock again, which
// hung every PASV and transfer end of the server (seen with 8 parallel
// FXP copies over 16 passive ports).
func TestWrapReusedPortOfRunningTransfer(t *testing.T) {
	p := New(Options{})
	first, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("listen on 127.0.0.2: %v", err)
	}
	addr := first.Addr().String()
	w1, err := p.Wrap(first)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w1.Close() })
	_ = first.Close() // what Accept does after handing the connection over

	second, err := net.Listen("tcp4", addr) // the kernel hands the port out again
	if err != nil {
		t.Skipf("port %s not free again: %v", addr, err)
	}
	t.Cleanup(func() { second.Close() })
	done := make(chan error, 1)
	go func() {
		w2, err := p.Wrap(second)
		if err == nil {
			t.Cleanup(func() { w2.Close() })
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wrap: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wrap deadlocked on a port whose previous Listener was still registered")
	}
	if n := p.Open(); n != 1 {
		t.Errorf("%d listeners registered, want 1 (the new one)", n)
	}
	w1.Close() // the first transfer ends: the new registration stays
	if n := p.Open(); n != 1 {
		t.Errorf("after the old transfer ended: %d listeners registered, want 1", n)
	}
}
