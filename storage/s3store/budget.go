package s3store

import (
	"context"
	"fmt"
	"sync"
)

// budget lends the server's upload part buffers: at most slots buffers
// exist at once (upload_memory / part_size), and one client block (an
// IPv4 address or an IPv6 prefix, see WithClient) holds at most perClient
// of them, so a few slow senders from one address cannot hold every
// buffer and stall the uploads of everybody else. A borrower waits while
// either limit is reached; that wait is the upload's back-pressure (its
// data connection backs up).
type budget struct {
	size      int64 // bytes per buffer
	perClient int   // 0 = no per-client cap

	mu      sync.Mutex
	free    [][]byte // buffers given back, reused: memory never exceeds slots buffers
	spare   int      // buffers not allocated yet
	held    map[string]int
	inUse   int
	waiting int
	changed chan struct{} // closed (and replaced) whenever a buffer comes back
}

func newBudget(slots, perClient int, size int64) *budget {
	if perClient >= slots {
		perClient = 0
	}
	return &budget{size: size, perClient: perClient, spare: slots, held: map[string]int{}, changed: make(chan struct{})}
}

// acquire lends one buffer to client, waiting while the budget or the
// client's share is spent, until ctx ends.
func (b *budget) acquire(ctx context.Context, client string) ([]byte, error) {
	counted := false
	defer func() {
		if counted {
			b.mu.Lock()
			b.waiting--
			b.mu.Unlock()
		}
	}()
	for {
		b.mu.Lock()
		if buf, ok := b.takeLocked(client); ok {
			b.mu.Unlock()
			return buf, nil
		}
		if !counted {
			counted = true
			b.waiting++
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for upload memory: %w", ctx.Err())
		}
	}
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

// release gives client's buffer back and wakes the waiters.
func (b *budget) release(client string, buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free = append(b.free, buf[:0])
	b.inUse--
	if b.held[client]--; b.held[client] <= 0 {
		delete(b.held, client)
	}
	close(b.changed)
	b.changed = make(chan struct{})
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
	return BudgetStats{InUse: s.budget.inUse, Waiting: s.budget.waiting}
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
