package acl

import (
	"net/netip"
	"testing"
)

func TestConnTableIPv6Blocks(t *testing.T) {
	tab := NewConnTable()
	a1, a2 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	other := netip.MustParseAddr("fd00:0:0:1::1")
	if tab.Add(a1, 0, 2) != CapNone || tab.Add(a2, 0, 2) != CapNone {
		t.Fatal("first two of a /64 refused")
	}
	if tab.Add(netip.MustParseAddr("fd00::3"), 0, 2) != CapPerIP {
		t.Fatal("a third address of the same /64 admitted past max_connections_per_ip = 2")
	}
	if tab.Add(other, 0, 2) != CapNone {
		t.Fatal("another /64 refused")
	}
	// A prefix change between Add and Remove keeps the counts exact.
	tab.SetIPv6Prefix(128)
	tab.Remove(a1)
	tab.Remove(a2)
	tab.Remove(other)
	if total, n := tab.Count(a1); total != 0 || n != 0 {
		t.Fatalf("after removing all: total %d, block %d", total, n)
	}
	if tab.Add(a1, 0, 1) != CapNone || tab.Add(a2, 0, 1) != CapNone {
		t.Fatal("with /128, two addresses are two clients")
	}
}
