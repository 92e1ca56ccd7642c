package fxp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Ledger remembers finished files across runs (fxp run --state), so that
// an interrupted run continues where it stopped.
type Ledger interface {
	Finished(key string) bool
	Record(key string) error
}

// ledgerKey names one file copy: its job, both ends (passwords masked) and
// what the source listing said about it, so that a changed source file is
// copied again.
func ledgerKey(prefix string, j job) string {
	k := prefix + "\x00" + j.src.String() + "\x00" + j.dst.String() + "\x00" + strconv.FormatInt(j.size, 10)
	if !j.mtime.IsZero() {
		k += "\x00" + j.mtime.UTC().Format(time.RFC3339)
	}
	return k
}

// StateFile is a Ledger kept in a file: one JSON string per line, appended
// and synced as each file finishes.
type StateFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	done map[string]bool
}

// OpenState reads (or creates) a state file.
func OpenState(path string) (*StateFile, error) {
	s := &StateFile{path: path, done: map[string]bool{}}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var k string
		if err := json.Unmarshal(sc.Bytes(), &k); err != nil {
			// A line cut short by a crash is the last one: ignore it;
			// elsewhere the file is not ours.
			if len(sc.Bytes()) > 0 && sc.Bytes()[0] == '"' {
				continue
			}
			f.Close()
			return nil, fmt.Errorf("state file %s line %d: not an fxp state line", path, n)
		}
		s.done[k] = true
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	s.f = f
	return s, nil
}

// Finished reports whether key was recorded.
func (s *StateFile) Finished(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[key]
}

// Record appends key and syncs the file.
func (s *StateFile) Record(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line, _ := json.Marshal(key)
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	s.done[key] = true
	return nil
}

// Len is the number of finished files recorded.
func (s *StateFile) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.done)
}

// Close closes the file; with clear (a run that finished everything) it
// removes it, so that the next run starts afresh.
func (s *StateFile) Close(clear bool) error {
	err := s.f.Close()
	if clear {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
