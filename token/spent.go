package token

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SpentStore counts the logins of tokens, so that neither a restart nor a
// reload revives a token that was used up. The file store (FileSpent) is
// the default; another store (shared by several servers) fits behind the
// same interface.
type SpentStore interface {
	// Spend records one login with token id, which allows uses logins and
	// expires at expires. granted is false when its uses are spent (or it
	// has expired). A granted use is durable before Spend returns; an error
	// refuses the login (fail closed).
	Spend(ctx context.Context, id string, uses int, expires time.Time) (granted bool, err error)
	Close() error
}

// CompactLines is the fewest lines at which a spent file is compacted: it
// is rewritten, without the entries of expired tokens, whenever an
// append would take it past max(CompactLines, 2 x the entries the last
// compaction kept).
const CompactLines = 64

// FileSpent is a SpentStore in a file: one line "ID EXPIRES" per login,
// appended and synced before the login is granted; a compaction rewrites
// it (a temporary file renamed over it) as one line "ID EXPIRES COUNT" per
// token that has not expired. Opening it compacts it, and so does a
// Spend that finds it has grown (see CompactLines), so the file and the
// memory hold about the uses of unexpired tokens, never more than twice
// that plus CompactLines lines.
type FileSpent struct {
	mu      sync.Mutex
	path    string
	now     func() time.Time
	f       *os.File // the file, opened for appending
	entries map[string]spentEntry
	lines   int  // lines in the file
	kept    int  // entries the last compaction kept
	torn    bool // an append failed: rewrite before the next one
}

type spentEntry struct {
	count   int
	expires int64 // Unix seconds
}

var _ SpentStore = (*FileSpent)(nil)

// OpenFileSpent reads (or creates) a spent file and compacts it. now is the
// clock (nil = time.Now).
func OpenFileSpent(file string, now func() time.Time) (*FileSpent, error) {
	if now == nil {
		now = time.Now
	}
	s := &FileSpent{path: file, now: now, entries: map[string]spentEntry{}}
	f, err := os.Open(file)
	switch {
	case err == nil:
		err = s.read(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("token spent file %s: %w", file, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("token spent file: %w", err)
	}
	if err := s.compact(); err != nil {
		return nil, err
	}
	return s, nil
}

// read loads the lines of r; a torn or foreign line is skipped.
func (s *FileSpent) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || len(f) > 3 {
			continue
		}
		exp, err := strconv.ParseInt(f[1], 10, 64)
		n := 1
		if err == nil && len(f) == 3 {
			n, err = strconv.Atoi(f[2])
		}
		if err != nil || n < 1 {
			continue
		}
		e := s.entries[f[0]]
		e.count += n
		e.expires = max(e.expires, exp)
		s.entries[f[0]] = e
	}
	return sc.Err()
}

// compact drops expired entries and rewrites the file atomically, then
// reopens it for appending. Called with mu held (or before s is shared).
func (s *FileSpent) compact() error {
	now := s.now().Unix()
	ids := make([]string, 0, len(s.entries))
	for id, e := range s.entries {
		if now >= e.expires {
			delete(s.entries, id) // refused by its expiry anyway
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		e := s.entries[id]
		fmt.Fprintf(&b, "%s %d %d\n", id, e.expires, e.count)
	}
	tmp := s.path + ".tmp"
	if err := writeSynced(tmp, b.String()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("token spent file: compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("token spent file: compact: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("token spent file: %w", err)
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.lines, s.kept, s.torn = f, len(ids), len(ids), false
	return nil
}

func writeSynced(file, text string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Spend implements SpentStore.
func (s *FileSpent) Spend(_ context.Context, id string, uses int, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return false, fmt.Errorf("token spent file %s: closed", s.path)
	}
	e := s.entries[id]
	if e.count >= uses || !s.now().Before(expires) {
		return false, nil
	}
	if s.torn || s.lines >= max(CompactLines, 2*s.kept) {
		if err := s.compact(); err != nil {
			return false, err
		}
	}
	_, err := fmt.Fprintf(s.f, "%s %d\n", id, expires.Unix())
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		s.torn = true // a partial line must not glue onto the next one
		return false, fmt.Errorf("token spent file %s: %w", s.path, err)
	}
	s.lines++
	e.count++
	e.expires = max(e.expires, expires.Unix())
	s.entries[id] = e
	return true, nil
}

// Len is the number of tokens the store remembers (for tests and metrics).
func (s *FileSpent) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Close closes the file.
func (s *FileSpent) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
