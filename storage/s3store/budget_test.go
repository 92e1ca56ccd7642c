package s3store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func (b *budget) stats() (inUse, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inUse, len(b.queue)
}

// waitWaiting polls until n borrowers wait (a hang detector: the
// goroutines only have to reach their select).
func waitWaiting(t *testing.T, b *budget, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, w := b.stats(); w == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw %d waiting borrowers", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBudgetClientShare(t *testing.T) {
	b := newBudget(3, 2, 8)
	a1, ok1 := b.tryAcquire("a")
	_, ok2 := b.tryAcquire("a")
	if !ok1 || !ok2 {
		t.Fatal("client a could not take its two buffers")
	}
	if _, ok := b.tryAcquire("a"); ok {
		t.Fatal("client a took a third buffer beyond its share of two")
	}
	c1, ok := b.tryAcquire("c")
	if !ok {
		t.Fatal("client c got no buffer while one was free")
	}
	if _, ok := b.tryAcquire("d"); ok {
		t.Fatal("a fourth buffer beyond the budget of three")
	}
	if cap(a1) != 8 || len(a1) != 0 {
		t.Fatalf("buffer len %d cap %d, want 0 and 8", len(a1), cap(a1))
	}

	// d waits for the budget, a for its share.
	got := make(chan string, 2)
	ctx := context.Background()
	go func() {
		if _, err := b.acquire(ctx, "d"); err == nil {
			got <- "d"
		}
	}()
	waitWaiting(t, b, 1)
	b.release("c", c1) // the budget frees one: d takes it
	if who := <-got; who != "d" {
		t.Fatalf("%s got the buffer", who)
	}
	go func() {
		if _, err := b.acquire(ctx, "a"); err == nil {
			got <- "a"
		}
	}()
	waitWaiting(t, b, 1)
	b.release("a", a1) // a is under its share again
	if who := <-got; who != "a" {
		t.Fatalf("%s got the buffer", who)
	}
	if inUse, waiting := b.stats(); inUse != 3 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d; want 3 and 0", inUse, waiting)
	}

	// A waiter whose context ends stops waiting and is not counted.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := b.acquire(cctx, "e"); errc <- err }()
	waitWaiting(t, b, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if _, waiting := b.stats(); waiting != 0 {
		t.Fatalf("%d still counted as waiting after cancel", waiting)
	}
	if len(b.held) != 2 || b.held["a"] != 2 || b.held["d"] != 1 {
		t.Fatalf("held %v, want a:2 d:1", b.held)
	}
}

func TestBudgetNoShareWhenAtLeastSlots(t *testing.T) {
	b := newBudget(2, 2, 8)
	for i := range 2 {
		if _, ok := b.tryAcquire("a"); !ok {
			t.Fatalf("buffer %d refused with a share of the whole budget", i)
		}
	}
}

// TestBudgetWaiterServedFirst: a buffer given back while an upload waits
// goes to that upload, not to one arriving after it: a steady stream of
// newcomers cannot starve a waiter (was: every release woke the waiters
// and the first to lock took the buffer, usually the newcomer, so a
// waiter could wait as long as others kept arriving). A waiter blocked
// only by its own client's share does not hold up other clients.
func TestBudgetWaiterServedFirst(t *testing.T) {
	b := newBudget(1, 0, 8)
	buf, _ := b.tryAcquire("a")
	got := make(chan []byte, 1)
	go func() {
		w, err := b.acquire(context.Background(), "w")
		if err != nil {
			t.Error(err)
		}
		got <- w
	}()
	waitWaiting(t, b, 1)
	bypassed := 0
	for range 100 {
		b.release("a", buf)
		var ok bool
		if buf, ok = b.tryAcquire("a"); !ok {
			break
		}
		bypassed++ // a newcomer took the buffer the waiter waits for
	}
	if bypassed > 0 {
		if bypassed == 100 {
			b.release("a", buf)
		}
		t.Fatalf("%d newcomers took the buffer before the waiter", bypassed)
	}
	w := <-got
	if inUse, waiting := b.stats(); inUse != 1 || waiting != 0 || b.held["w"] != 1 || len(b.held) != 1 {
		t.Fatalf("in use %d, waiting %d, held %v; want 1, 0, w:1", inUse, waiting, b.held)
	}
	b.release("w", w)

	// Share 1 of 2: a waits for its share; b takes the free buffer;
	// a's release goes to a's waiter.
	b = newBudget(2, 1, 8)
	a1, _ := b.tryAcquire("a")
	go func() {
		w, _ := b.acquire(context.Background(), "a")
		got <- w
	}()
	waitWaiting(t, b, 1)
	if _, ok := b.tryAcquire("b"); !ok {
		t.Fatal("client b refused the free buffer because a waits for its own share")
	}
	b.release("a", a1)
	<-got
	if inUse, waiting := b.stats(); inUse != 2 || waiting != 0 || b.held["a"] != 1 || b.held["b"] != 1 {
		t.Fatalf("in use %d, waiting %d, held %v; want 2, 0, a:1 b:1", inUse, waiting, b.held)
	}
}

// TestBudgetCancelledWhileHanded: a waiter whose context ends as a buffer
// is handed to it leaves nothing behind: the buffer goes back (or is
// its, if it took it first), no client keeps a count, nobody waits.
func TestBudgetCancelledWhileHanded(t *testing.T) {
	for range 20 {
		b := newBudget(1, 1, 8)
		buf, _ := b.tryAcquire("a")
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			buf []byte
			err error
		}
		got := make(chan result, 1)
		go func() {
			w, err := b.acquire(ctx, "w")
			got <- result{w, err}
		}()
		waitWaiting(t, b, 1)
		b.mu.Lock()
		cancel() // the waiter wakes and blocks on the lock
		b.giveBackLocked("a", buf)
		b.mu.Unlock()
		r := <-got
		if r.err == nil {
			b.release("w", r.buf)
		}
		if inUse, waiting := b.stats(); inUse != 0 || waiting != 0 || len(b.held) != 0 {
			t.Fatalf("in use %d, waiting %d, held %v: want nothing", inUse, waiting, b.held)
		}
		if _, ok := b.tryAcquire("z"); !ok {
			t.Fatal("the buffer did not come back")
		}
	}
}
