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

// ConnTable counts live control connections, in total and per client: an
// IPv4 address, or an IPv6 block (/64 by default, as bans: one host
// usually owns a whole /64 and could otherwise take every slot with
// addresses of it). It is safe for concurrent use.
type ConnTable struct {
	mu     sync.Mutex
	total  int
	v6Bits int
	perIP  map[netip.Prefix]int
	// keys records, per exact address, the blocks its connections were
	// counted in, so Remove undoes Add even after SetIPv6Prefix.
	keys map[netip.Addr][]netip.Prefix
}

// NewConnTable returns an empty table.
func NewConnTable() *ConnTable {
	return &ConnTable{v6Bits: DefaultIPv6BanPrefix, perIP: map[netip.Prefix]int{}, keys: map[netip.Addr][]netip.Prefix{}}
}

// SetIPv6Prefix sets the prefix length (1-128) that counts as one IPv6
// client for new connections; out-of-range values are clamped.
func (t *ConnTable) SetIPv6Prefix(bits int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.v6Bits = min(max(bits, 1), 128)
}

// ClientBlock is the block an address counts as for per-client limits:
// the address itself for IPv4, its v6Bits prefix (clamped to 1-128) for
// IPv6, as for bans and connection caps.
func ClientBlock(ip netip.Addr, v6Bits int) netip.Prefix {
	return clientBlock(ip, min(max(v6Bits, 1), 128))
}

// clientBlock is the block an address counts as: the address itself for
// IPv4, its v6Bits prefix for IPv6.
func clientBlock(ip netip.Addr, v6Bits int) netip.Prefix {
	ip = ip.Unmap()
	bits := ip.BitLen()
	if ip.Is6() {
		bits = v6Bits
	}
	p, _ := ip.Prefix(bits) // cannot fail: bits is in range
	return p
}

// Add counts a new connection from ip unless that would exceed a cap
// (0 = no cap). It returns which cap refused it; a refused connection is
// not counted.
func (t *ConnTable) Add(ip netip.Addr, maxTotal, maxPerIP int) Cap {
	ip = ip.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	key := clientBlock(ip, t.v6Bits)
	if maxTotal > 0 && t.total >= maxTotal {
		return CapTotal
	}
	if maxPerIP > 0 && t.perIP[key] >= maxPerIP {
		return CapPerIP
	}
	t.total++
	t.perIP[key]++
	t.keys[ip] = append(t.keys[ip], key)
	return CapNone
}

// Remove forgets one connection from ip.
func (t *ConnTable) Remove(ip netip.Addr) {
	ip = ip.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys[ip]
	if len(keys) == 0 {
		return
	}
	key := keys[len(keys)-1]
	if len(keys) == 1 {
		delete(t.keys, ip)
	} else {
		t.keys[ip] = keys[:len(keys)-1]
	}
	t.total--
	if t.perIP[key]--; t.perIP[key] <= 0 {
		delete(t.perIP, key)
	}
}

// Count returns the number of connections in total and from ip's block.
func (t *ConnTable) Count(ip netip.Addr) (total, fromIP int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total, t.perIP[clientBlock(ip, t.v6Bits)]
}
