package acl

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestConnTable(t *testing.T) {
	tab := NewConnTable()
	a, b := ip("127.0.0.10"), ip("127.0.0.11")
	steps := []struct {
		add      netip.Addr
		remove   bool
		maxTotal int
		maxPerIP int
		want     Cap
	}{
		{add: a, maxTotal: 3, maxPerIP: 2, want: CapNone},
		{add: a, maxTotal: 3, maxPerIP: 2, want: CapNone},
		{add: a, maxTotal: 3, maxPerIP: 2, want: CapPerIP}, // third from a
		{add: b, maxTotal: 3, maxPerIP: 2, want: CapNone},  // other IP fine
		{add: b, maxTotal: 3, maxPerIP: 2, want: CapTotal}, // server full
		{add: a, remove: true},
		{add: b, maxTotal: 3, maxPerIP: 2, want: CapNone},
		{add: ip("::ffff:127.0.0.11"), maxTotal: 0, maxPerIP: 2, want: CapPerIP}, // mapped = same IP
		{add: ip("127.0.0.12"), maxTotal: 0, maxPerIP: 0, want: CapNone},         // no caps
	}
	for i, s := range steps {
		if s.remove {
			tab.Remove(s.add)
			continue
		}
		if got := tab.Add(s.add, s.maxTotal, s.maxPerIP); got != s.want {
			t.Fatalf("step %d: Add(%s) = %v, want %v", i, s.add, got, s.want)
		}
	}
	if total, fromB := tab.Count(b); total != 4 || fromB != 2 {
		t.Fatalf("Count = %d, %d", total, fromB)
	}
	tab.Remove(ip("127.0.0.99")) // unknown: no effect, no underflow
	if total, _ := tab.Count(b); total != 4 {
		t.Fatalf("total after unknown remove = %d", total)
	}
}

func TestConnTableConcurrent(t *testing.T) {
	tab := NewConnTable()
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tab.Add(ip("127.0.0.10"), 0, 50) == CapNone {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 50 {
		t.Fatalf("admitted %d, want 50", admitted)
	}
}

func TestBanList(t *testing.T) {
	bl := NewBanList()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	attacker, other := ip("127.0.0.10"), ip("127.0.0.11")
	window := 10 * time.Minute
	for i := 0; i < 4; i++ {
		if bl.Failure(attacker, t0.Add(time.Duration(i)*time.Second), 5, window) {
			t.Fatalf("banned after %d failures", i+1)
		}
	}
	if bl.Failure(other, t0, 5, window) || bl.Banned(other, t0) {
		t.Fatal("other IP affected")
	}
	if !bl.Failure(attacker, t0.Add(5*time.Second), 5, window) {
		t.Fatal("not banned after 5 failures")
	}
	if !bl.Banned(attacker, t0.Add(time.Minute)) || bl.Banned(other, t0.Add(time.Minute)) {
		t.Fatal("ban state wrong")
	}
	if n := bl.Active(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("Active = %d", n)
	}
	if exp := bl.Sweep(t0.Add(5*time.Minute), window); len(exp) != 0 {
		t.Fatalf("expired early: %v", exp)
	}
	end := t0.Add(5*time.Second + window)
	if bl.Banned(attacker, end) {
		t.Fatal("ban did not end on time")
	}
	if exp := bl.Sweep(end, window); len(exp) != 1 || exp[0] != netip.PrefixFrom(attacker, 32) {
		t.Fatalf("Sweep = %v", exp)
	}
	if n := bl.Active(end); n != 0 {
		t.Fatalf("Active after expiry = %d", n)
	}
	// Failures outside the window do not add up.
	for i := 0; i < 10; i++ {
		if bl.Failure(attacker, end.Add(time.Duration(i)*window), 5, window) {
			t.Fatal("failures spread beyond the window caused a ban")
		}
	}
	// Bans off.
	if bl.Failure(other, t0, 0, window) {
		t.Fatal("banned with max_login_failures = 0")
	}
}

func TestBanIPv6Prefix(t *testing.T) {
	t0 := time.Unix(1000, 0)
	bl := NewBanList()
	a, sameNet, otherNet := netip.MustParseAddr("fd00::10"), netip.MustParseAddr("fd00::11"), netip.MustParseAddr("fd00:0:0:1::10")
	for i := 0; i < 3; i++ {
		bl.Failure(a, t0, 3, time.Hour)
	}
	if !bl.Banned(a, t0) || !bl.Banned(sameNet, t0) {
		t.Fatal("a ban of fd00::10 does not cover its /64")
	}
	if bl.Banned(otherNet, t0) {
		t.Fatal("a ban of fd00::10 covers another /64")
	}
	// Failures from one /64 add up whatever the address.
	for i := 0; i < 3; i++ {
		bl.Failure(netip.MustParseAddr(fmt.Sprintf("fd00:0:0:2::%x", i+1)), t0, 3, time.Hour)
	}
	if !bl.Banned(netip.MustParseAddr("fd00:0:0:2::ffff"), t0) {
		t.Fatal("failures spread over one /64 did not ban it")
	}
	// /128: one address only. IPv4 stays per address.
	host := NewBanList()
	host.SetIPv6Prefix(128)
	for i := 0; i < 3; i++ {
		host.Failure(a, t0, 3, time.Hour)
		host.Failure(netip.MustParseAddr("192.0.2.1"), t0, 3, time.Hour)
	}
	if !host.Banned(a, t0) || host.Banned(sameNet, t0) {
		t.Fatal("ban_ipv6_prefix = 128 does not ban one address")
	}
	if !host.Banned(netip.MustParseAddr("::ffff:192.0.2.1"), t0) || host.Banned(netip.MustParseAddr("192.0.2.2"), t0) {
		t.Fatal("IPv4 bans are not per address")
	}
}
