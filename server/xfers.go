package server

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ftpd/ftpd/driver"
)

// xferEntry is a running transfer in the server's registry.
type xferEntry struct {
	id   uint64
	user string
}

func (s *Server) addXfer(t *driver.Transfer, user string) {
	s.mu.Lock()
	s.xferID++
	s.xfers[t] = xferEntry{id: s.xferID, user: user}
	s.mu.Unlock()
	s.metrics.active.Inc()
}

// removeXfer reports whether t was registered (authorized).
func (s *Server) removeXfer(t *driver.Transfer) bool {
	s.mu.Lock()
	_, ok := s.xfers[t]
	delete(s.xfers, t)
	s.mu.Unlock()
	if ok {
		s.metrics.active.Dec()
	}
	return ok
}

// xfersReport is the text of SITE XFERS for user: the user's running
// transfers, one per line, in a stable, parseable form:
//
//	N transfer(s) in progress
//	 id=7 cmd=RETR dir=send bytes=1048576 size=5242880 rate=52428800 elapsed=0.020 peer=127.0.0.3:40011 fxp=yes path=/big file.bin
//	End
//
// Keys always come in this order; path is last and runs to the end of the
// line. size is -1 when unknown (uploads); rate is the average in bytes/s.
func (s *Server) xfersReport(user string) string {
	type row struct {
		id uint64
		t  *driver.Transfer
	}
	s.mu.Lock()
	var rows []row
	for t, e := range s.xfers {
		if e.user == user {
			rows = append(rows, row{e.id, t})
		}
	}
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })

	now := s.now()
	var b strings.Builder
	fmt.Fprintf(&b, "%d transfer(s) in progress\n", len(rows))
	for _, r := range rows {
		elapsed := max(now.Sub(r.t.Started), time.Millisecond)
		bytes := r.t.Bytes()
		fmt.Fprintf(&b, " id=%d cmd=%s dir=%s bytes=%d size=%d rate=%d elapsed=%.3f peer=%s fxp=%s path=%s\n",
			r.id, r.t.Command, r.t.Direction, bytes, r.t.Size,
			int64(float64(bytes)/elapsed.Seconds()), elapsed.Seconds(),
			r.t.Peer, yesNo(r.t.Foreign), r.t.Path)
	}
	b.WriteString("End")
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
