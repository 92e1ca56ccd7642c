package acl

import (
	"net/netip"
	"sync"
)

// Cap says which connection cap refused a connection.
type Cap uint8

// Caps. CapNone means the connection fits.
const (
	CapNone  Cap = iota
	CapTotal     // max_connections
	CapPerIP     // max_connections_per_ip
)

// ConnTable counts live control connections, in total and per IP. It is
// safe for concurrent use.
type ConnTable struct {
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// NewConnTable returns an empty table.
func NewConnTable() *ConnTable { return &ConnTable{perIP: map[netip.Addr]int{}} }

// Add counts a new connection from ip unless that would exceed a cap
// (0 = no cap). It returns which cap refused it; a refused connection is
// not counted.
func (t *ConnTable) Add(ip netip.Addr, maxTotal, maxPerIP int) Cap {
	ip = ip.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	if maxTotal > 0 && t.total >= maxTotal {
		return CapTotal
	}
	if maxPerIP > 0 && t.perIP[ip] >= maxPerIP {
		return CapPerIP
	}
	t.total++
	t.perIP[ip]++
	return CapNone
}

// Remove forgets one connection from ip.
func (t *ConnTable) Remove(ip netip.Addr) {
	ip = ip.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perIP[ip] == 0 {
		return
	}
	t.total--
	if t.perIP[ip]--; t.perIP[ip] == 0 {
		delete(t.perIP, ip)
	}
}

// Count returns the number of connections in total and from ip.
func (t *ConnTable) Count(ip netip.Addr) (total, fromIP int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total, t.perIP[ip.Unmap()]
}
