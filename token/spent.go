package token

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spent counts token uses in a file: one line "ID EXPIRES" per login,
// appended and synced before the login is granted. Opening it drops the
// lines of expired tokens.
type Spent struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	counts map[string]int
}

// OpenSpent reads (or creates) a spent file.
func OpenSpent(file string, now time.Time) (*Spent, error) {
	s := &Spent{path: file, counts: map[string]int{}}
	var keep []string
	if data, err := os.ReadFile(file); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			id, exp, ok := strings.Cut(sc.Text(), " ")
			e, err := strconv.ParseInt(exp, 10, 64)
			if !ok || err != nil || id == "" {
				continue // a torn last line
			}
			if now.Unix() >= e {
				continue // expired: refused by its expiry anyway
			}
			s.counts[id]++
			keep = append(keep, sc.Text())
		}
		// Compact: rewrite without expired lines, atomically.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(strings.Join(append(keep, ""), "\n")), 0o600); err != nil {
			return nil, fmt.Errorf("token spent file: %w", err)
		}
		if err := os.Rename(tmp, file); err != nil {
			return nil, fmt.Errorf("token spent file: %w", err)
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("token spent file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("token spent file: %w", err)
	}
	s.f = f
	return s, nil
}

// Use records one login with c, or refuses it when c's uses are spent.
// The use is on disk before Use returns nil; a write failure refuses.
func (s *Spent) Use(c Claims) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[c.ID] >= c.Uses {
		return &Refused{Reason: ReasonSpent, Detail: fmt.Sprintf("used %d of %d times", s.counts[c.ID], c.Uses)}
	}
	if _, err := fmt.Fprintf(s.f, "%s %d\n", c.ID, c.Expires); err != nil {
		return fmt.Errorf("token spent file %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("token spent file %s: %w", s.path, err)
	}
	s.counts[c.ID]++
	return nil
}

// Close closes the file.
func (s *Spent) Close() error { return s.f.Close() }
