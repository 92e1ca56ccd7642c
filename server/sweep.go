package server

import (
	"errors"
	"io/fs"
	"time"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
)

// sweepPartials removes, under every os-backed user root, the partial
// upload files that a previous ftpd left behind when it was killed during a
// STOR, and logs how many in all. It runs at start, before the first connection is accepted, so no
// upload of this process can be mistaken for a leftover.
func (s *Server) sweepPartials(cfg *conf.Config, cutoff time.Time) {
	seen := map[string]bool{}
	total := 0
	defer func() {
		s.log.Info("partial uploads swept at start", "removed", total, "roots", len(seen))
	}()
	for _, u := range cfg.Users {
		if u.Backend != conf.BackendOS || seen[u.Root] {
			continue
		}
		seen[u.Root] = true
		n, err := driver.SweepPartials(u.Root, cutoff)
		total += n
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			s.log.Warn("sweep partial uploads", "root", u.Root, "removed", n, "err", err)
		case n > 0:
			s.log.Info("removed partial uploads left by an earlier run", "root", u.Root, "removed", n)
		}
	}
}
