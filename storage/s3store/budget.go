package s3store

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// budget lends the server's upload part buffers: at most slots buffers
// exist at once (upload_memory / part_size), and one client block (an
// IPv4 address or an IPv6 prefix, see WithClient) holds at most perClient
// of them, so a few slow senders from one address cannot hold every
// buffer and stall the uploads of everybody else. A borrower waits while
// either limit is reached; that wait is the upload's back-pressure (its
// data connection backs up). Waiters are served in turn: a buffer given
// back goes to the first waiter whose client is under its share, never
// to a borrower arriving later, so a stream of newcomers cannot starve
// one.
type budget struct {
	size      int64 // bytes per buffer
	perClient int   // 0 = no per-client cap

	mu    sync.Mutex
	free  [][]byte // buffers given back, reused: memory never exceeds slots buffers
	spare int      // buffers not allocated yet
	held  map[string]int
	inUse int
	// queue is the waiting borrowers, first come first. Invariant: while
	// a buffer is free, no waiter in it could take one (its client is at
	// its share), so a borrower that finds one free takes it.
	queue []*waiter
}

// waiter is a borrower waiting in the queue; ready is closed once buf is
// its.
type waiter struct {
	client string
	buf    []byte
	given  bool
	ready  chan struct{}
}

func newBudget(slots, perClient int, size int64) *budget {
	if perClient >= slots {
		perClient = 0
	}
	return &budget{size: size, perClient: perClient, spare: slots, held: map[string]int{}}
}

// acquire lends one buffer to client, waiting while the budget or the
// client's share is spent, until ctx ends.
func (b *budget) acquire(ctx context.Context, client string) ([]byte, error) {
	b.mu.Lock()
	if buf, ok := b.takeLocked(client); ok {
		b.mu.Unlock()
		return buf, nil
	}
	w := &waiter{client: client, ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return w.buf, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.given {
		// Handed a buffer as the wait ended: pass it on.
		b.giveBackLocked(client, w.buf)
	} else {
		for i, q := range b.queue {
			if q == w {
				b.queue = slices.Delete(b.queue, i, i+1)
				break
			}
		}
	}
	return nil, fmt.Errorf("wait for upload memory: %w", ctx.Err())
}

// tryAcquire lends one buffer to client if one is free within its share,
// without waiting.
func (b *budget) tryAcquire(client string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeLocked(client)
}

func (b *budget) takeLocked(client string) ([]byte, bool) {
	if b.perClient > 0 && b.held[client] >= b.perClient {
		return nil, false
	}
	var buf []byte
	switch {
	case len(b.free) > 0:
		buf = b.free[len(b.free)-1]
		b.free = b.free[:len(b.free)-1]
	case b.spare > 0:
		b.spare--
		buf = make([]byte, 0, b.size)
	default:
		return nil, false
	}
	b.held[client]++
	b.inUse++
	return buf[:0], true
}

// release gives client's buffer back: to the first waiter that may take
// it, or to the free list.
func (b *budget) release(client string, buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.giveBackLocked(client, buf)
}

func (b *budget) giveBackLocked(client string, buf []byte) {
	b.free = append(b.free, buf[:0])
	b.inUse--
	if b.held[client]--; b.held[client] <= 0 {
		delete(b.held, client)
	}
	for i, w := range b.queue {
		if got, ok := b.takeLocked(w.client); ok {
			b.queue = slices.Delete(b.queue, i, i+1)
			w.buf, w.given = got, true
			close(w.ready)
			return
		}
	}
}

// BudgetStats is the state of the upload buffers, for metrics.
type BudgetStats struct {
	InUse   int // buffers lent to uploads
	Waiting int // uploads waiting for one
}

// Budget reports the upload buffers in use and the uploads waiting.
func (s *Store) Budget() BudgetStats {
	s.budget.mu.Lock()
	defer s.budget.mu.Unlock()
	return BudgetStats{InUse: s.budget.inUse, Waiting: len(s.budget.queue)}
}

type clientKey struct{}

// WithClient marks ctx (a session's) with the client block its uploads
// count against (the share of upload_memory one client may hold).
// Contexts without it all count as one client.
func WithClient(ctx context.Context, block string) context.Context {
	return context.WithValue(ctx, clientKey{}, block)
}

func clientOf(ctx context.Context) string {
	s, _ := ctx.Value(clientKey{}).(string)
	return s
}
