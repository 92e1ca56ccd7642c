package acl

import (
	"net/netip"
	"sync"
	"time"
)

// BanList bans addresses after repeated login failures: an IPv4 address
// alone, an IPv6 address with its whole /64 (or the prefix length set with
// SetIPv6Prefix), since one IPv6 host usually owns a whole /64. Thresholds
// are passed in on each call, so a reload changes them without losing the
// state. Times come from the caller (an injected clock). Safe for
// concurrent use.
type BanList struct {
	mu       sync.Mutex
	v6Bits   int
	failures map[netip.Prefix][]time.Time // recent failures, oldest first
	until    map[netip.Prefix]time.Time   // active bans
}

// DefaultIPv6BanPrefix is the prefix length of an IPv6 ban unless set.
const DefaultIPv6BanPrefix = 64

// NewBanList returns an empty list.
func NewBanList() *BanList {
	return &BanList{v6Bits: DefaultIPv6BanPrefix, failures: map[netip.Prefix][]time.Time{}, until: map[netip.Prefix]time.Time{}}
}

// SetIPv6Prefix sets the prefix length (1-128) an IPv6 failure or ban
// covers from now on; out-of-range values are clamped.
func (b *BanList) SetIPv6Prefix(bits int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.v6Bits = min(max(bits, 1), 128)
}

// key is the block ip is judged as. Callers hold mu.
func (b *BanList) key(ip netip.Addr) netip.Prefix { return clientBlock(ip, b.v6Bits) }

// Failure records a failed login from ip at now. When it is the
// maxFailures-th within window, ip is banned until now+window and Failure
// returns true. maxFailures <= 0 disables bans.
func (b *BanList) Failure(ip netip.Addr, now time.Time, maxFailures int, window time.Duration) bool {
	if maxFailures <= 0 || window <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.key(ip)
	recent := b.failures[k][:0]
	for _, t := range b.failures[k] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	if len(recent) < maxFailures {
		b.failures[k] = recent
		return false
	}
	delete(b.failures, k)
	b.until[k] = now.Add(window)
	return true
}

// Banned reports whether ip (or its IPv6 block) is banned at now.
func (b *BanList) Banned(ip netip.Addr, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.until[b.key(ip)]
	return ok && now.Before(until)
}

// Sweep ends the bans that are over at now and returns their blocks; it
// also forgets failures older than window, so the table stays bounded.
func (b *BanList) Sweep(now time.Time, window time.Duration) []netip.Prefix {
	b.mu.Lock()
	defer b.mu.Unlock()
	var expired []netip.Prefix
	for ip, until := range b.until {
		if !now.Before(until) {
			expired = append(expired, ip)
			delete(b.until, ip)
		}
	}
	for ip, ts := range b.failures {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= window {
			delete(b.failures, ip)
		}
	}
	return expired
}

// Active returns the number of bans in force at now.
func (b *BanList) Active(now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, until := range b.until {
		if now.Before(until) {
			n++
		}
	}
	return n
}
