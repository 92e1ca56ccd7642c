package token

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// memStore is an in-memory CreateIfAbsent: the S3 conditional create.
type memStore struct {
	mu    sync.Mutex
	objs  map[string][]byte
	fail  error
	calls atomic.Int64
}

func (m *memStore) CreateIfAbsent(_ context.Context, key string, body []byte) (bool, error) {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	if _, ok := m.objs[key]; ok {
		return false, nil
	}
	if m.objs == nil {
		m.objs = map[string][]byte{}
	}
	m.objs[key] = append([]byte(nil), body...)
	return true, nil
}

// Two instances (two SharedSpent on one store), 32 racing logins each:
// a token with n uses logs in exactly n times.
func TestSharedSpentRaceAcrossInstances(t *testing.T) {
	for _, uses := range []int{1, 3} {
		store := &memStore{}
		a, b := NewSharedSpent(store, 0), NewSharedSpent(store, 0)
		c := Claims{ID: "tok" + strings.Repeat("x", uses), Uses: uses, Expires: 2e9}
		var granted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 64 {
			inst := a
			if i%2 == 1 {
				inst = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := inst.Use(c)
				var r *Refused
				switch {
				case err == nil:
					granted.Add(1)
				case errors.As(err, &r) && r.Reason == ReasonSpent:
					refused.Add(1)
				default:
					t.Errorf("Use: %v", err)
				}
			}()
		}
		wg.Wait()
		if granted.Load() != int64(uses) || refused.Load() != int64(64-uses) {
			t.Fatalf("uses %d: granted %d, refused %d", uses, granted.Load(), refused.Load())
		}
		if len(store.objs) != uses {
			t.Fatalf("uses %d: %d objects", uses, len(store.objs))
		}
		for k, body := range store.objs {
			if !strings.HasPrefix(k, SpentPrefix) || strings.Contains(k, c.ID) {
				t.Errorf("key %q: want %s<hash>, without the token id", k, SpentPrefix)
			}
			if string(body) != c.ID+" 2000000000\n" {
				t.Errorf("body %q", body)
			}
		}
	}
}

// A store that fails refuses the login: spends fail closed.
func TestSharedSpentStoreErrorRefuses(t *testing.T) {
	store := &memStore{fail: errors.New("503 slow down")}
	err := NewSharedSpent(store, 0).Use(Claims{ID: "t", Uses: 1, Expires: 2e9})
	if err == nil || !strings.Contains(err.Error(), "503 slow down") {
		t.Fatalf("Use = %v, want the store's error", err)
	}
	var r *Refused
	if errors.As(err, &r) {
		t.Fatalf("store error reported as a refusal %v (it is a failure, not a spent token)", r)
	}
}

func TestSpentKeyDistinctPerUse(t *testing.T) {
	if SpentKey("a", 1) == SpentKey("a", 2) || SpentKey("a", 1) == SpentKey("b", 1) || SpentKey("a1", 1) == SpentKey("a", 11) {
		t.Fatal("keys collide")
	}
	if got := NewSharedSpent(&memStore{}, 0).Use(Claims{ID: "t", Uses: 0}); got == nil {
		t.Fatal("a token with 0 uses logged in")
	}
}
