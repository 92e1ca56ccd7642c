package server

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/conf"
)

// admit decides about a new control connection before the library sees it:
// shutdown, bans, then the connection caps. An admitted connection is
// counted until the library reports it gone (ClientDisconnected).
func (s *Server) admit(raw net.Conn) string {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return "421 Server shutting down"
	}
	ip := addrOf(raw.RemoteAddr())
	if s.bans.Banned(ip, s.now()) {
		s.metrics.refused(reasonBanned)
		s.log.Warn("connection refused", "client_ip", ip.String(), "reason", reasonBanned)
		return "421 Too many failed logins from your address; try again later"
	}
	lim := s.state.Load().cfg.Limits
	switch s.conns.Add(ip, lim.MaxConnections, lim.MaxConnectionsPerIP) {
	case acl.CapTotal:
		s.metrics.refused(reasonMaxConns)
		s.log.Warn("connection refused", "client_ip", ip.String(), "reason", reasonMaxConns, "limit", lim.MaxConnections)
		return "421 Too many connections to this server; try again later"
	case acl.CapPerIP:
		s.metrics.refused(reasonMaxConnsPerIP)
		s.log.Warn("connection refused", "client_ip", ip.String(), "reason", reasonMaxConnsPerIP, "limit", lim.MaxConnectionsPerIP)
		return "421 Too many connections from your address; try again later"
	}
	s.metrics.connections.Inc()
	return ""
}

// released undoes admit for a connection that is gone.
func (s *Server) released(remote net.Addr) {
	s.conns.Remove(addrOf(remote))
	s.metrics.connections.Dec()
}

// loginFailed counts a failed login towards a ban of its IP.
func (s *Server) loginFailed(sess *session) {
	lim := s.state.Load().cfg.Limits
	if s.bans.Failure(sess.clientIP, s.now(), lim.MaxLoginFailures, lim.BanDuration.Duration) {
		s.metrics.bans.Set(float64(s.bans.Active(s.now())))
		s.log.Warn("IP banned after failed logins", "client_ip", sess.clientIP.String(),
			"failures", lim.MaxLoginFailures, "duration", lim.BanDuration.String(), "reason", reasonBanned)
	}
}

// sweepBans lifts expired bans every interval until ctx ends.
func (s *Server) sweepBans(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.now()
			window := s.state.Load().cfg.Limits.BanDuration.Duration
			for _, ip := range s.bans.Sweep(now, window) {
				s.log.Info("IP ban lifted", "client_ip", banned(ip))
			}
			s.metrics.bans.Set(float64(s.bans.Active(now)))
		}
	}
}

// takeSessionSlot counts a new session of user unless that would exceed
// max (0 = no cap). Check and count are one step, so simultaneous logins
// cannot both slip under the cap.
func (s *Server) takeSessionSlot(user string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.userSlots[user] >= max {
		return false
	}
	s.userSlots[user]++
	return true
}

// releaseSessionSlot forgets one session of user.
func (s *Server) releaseSessionSlot(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userSlots[user]--; s.userSlots[user] <= 0 {
		delete(s.userSlots, user)
	}
}

// bandwidth holds the rate limiters: one pair for the whole server, one
// pair per user, shared by all the user's transfers. A reload retunes them
// in place, so running transfers follow new limits too.
type bandwidth struct {
	mu     sync.Mutex
	server [2]*rate.Limiter // [send, receive]
	users  map[string][2]*rate.Limiter
}

func newBandwidth() *bandwidth { return &bandwidth{users: map[string][2]*rate.Limiter{}} }

// update applies cfg's rates.
func (b *bandwidth) update(cfg *conf.Config) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.server = [2]*rate.Limiter{
		retune(b.server[0], cfg.Limits.DownloadRate),
		retune(b.server[1], cfg.Limits.UploadRate),
	}
	users := make(map[string][2]*rate.Limiter, len(cfg.Users))
	for _, u := range cfg.Users {
		old := b.users[u.Name]
		users[u.Name] = [2]*rate.Limiter{retune(old[0], u.DownloadRate), retune(old[1], u.UploadRate)}
	}
	b.users = users
}

// limiters returns the limiters a transfer of user in direction d obeys.
func (b *bandwidth) limiters(user string, d acl.Direction) []*rate.Limiter {
	i := 0
	if d == acl.DirectionReceive {
		i = 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*rate.Limiter
	for _, l := range []*rate.Limiter{b.users[user][i], b.server[i]} {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// retune returns a limiter for bytesPerSecond, reusing l when there is one;
// nil means no limit. The burst (and so a transfer's chunk) is 20 ms
// worth, between 16 KiB and 4 MiB: small enough that the bucket's initial
// fill barely shows in a transfer's average, large enough that a chunk is
// still one efficient zero-copy call.
func retune(l *rate.Limiter, bytesPerSecond conf.Size) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := int(min(max(int64(bytesPerSecond)/50, 16<<10), 4<<20))
	if l == nil {
		return rate.NewLimiter(rate.Limit(bytesPerSecond), burst)
	}
	l.SetLimit(rate.Limit(bytesPerSecond))
	l.SetBurst(burst)
	return l
}

// banned names a banned block: the address alone for an IPv4 ban (or a
// /128), the prefix for a wider IPv6 ban.
func banned(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
