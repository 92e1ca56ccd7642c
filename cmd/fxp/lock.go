package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// errLocked means another process holds the lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive flock on path without waiting. The lock
// lasts until the returned file is closed (or the process ends).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
