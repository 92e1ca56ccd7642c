package acl

import (
	"net/netip"
	"sync"
	"time"
)

// BanList bans IPs after repeated login failures. Thresholds are passed in
// on each call, so a reload changes them without losing the state. Times
// come from the caller (an injected clock). Safe for concurrent use.
type BanList struct {
	mu       sync.Mutex
	failures map[netip.Addr][]time.Time // recent failures, oldest first
	until    map[netip.Addr]time.Time   // active bans
}

// NewBanList returns an empty list.
func NewBanList() *BanList {
	return &BanList{failures: map[netip.Addr][]time.Time{}, until: map[netip.Addr]time.Time{}}
}

// Failure records a failed login from ip at now. When it is the
// maxFailures-th within window, ip is banned until now+window and Failure
// returns true. maxFailures <= 0 disables bans.
func (b *BanList) Failure(ip netip.Addr, now time.Time, maxFailures int, window time.Duration) bool {
	if maxFailures <= 0 || window <= 0 {
		return false
	}
	ip = ip.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	recent := b.failures[ip][:0]
	for _, t := range b.failures[ip] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	if len(recent) < maxFailures {
		b.failures[ip] = recent
		return false
	}
	delete(b.failures, ip)
	b.until[ip] = now.Add(window)
	return true
}

// Banned reports whether ip is banned at now.
func (b *BanList) Banned(ip netip.Addr, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.until[ip.Unmap()]
	return ok && now.Before(until)
}

// Sweep ends the bans that are over at now and returns their IPs; it also
// forgets failures older than window, so the table stays bounded.
func (b *BanList) Sweep(now time.Time, window time.Duration) []netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	var expired []netip.Addr
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
