package acl

import (
	"net/netip"
	"strings"
	"testing"
)

func nets(s ...string) Networks {
	out := make(Networks, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

func TestDecide(t *testing.T) {
	on := FXPPolicy{Enabled: true}
	alice := UserFXP{Name: "alice", Send: true, Receive: true}
	sendOnly := UserFXP{Name: "sam", Send: true}
	recvOnly := UserFXP{Name: "rita", Receive: true}
	none := UserFXP{Name: "nora"}
	anon := UserFXP{Name: "anonymous", Anonymous: true, Send: true, Receive: true}
	narrowed := UserFXP{Name: "nick", Send: true, Receive: true, Peers: nets("127.0.0.3/32")}
	client := ip("127.0.0.10")

	cases := []struct {
		name    string
		policy  FXPPolicy
		user    *UserFXP
		req     DataRequest
		want    Reason
		foreign bool
		msg     string
	}{
		{"own address passive", FXPPolicy{}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.10:5000"), false}, ReasonNone, false, ""},
		{"own address active", FXPPolicy{}, &alice, DataRequest{DirectionReceive, client, ap("127.0.0.10:5000"), true}, ReasonNone, false, ""},
		{"own address listing", FXPPolicy{}, &none, DataRequest{DirectionListing, client, ap("127.0.0.10:5000"), true}, ReasonNone, false, ""},
		{"mapped client equals peer", FXPPolicy{}, &alice, DataRequest{DirectionSend, ip("::ffff:127.0.0.10"), ap("127.0.0.10:5000"), false}, ReasonNone, false, ""},
		{"active port 21 own address", on, &alice, DataRequest{DirectionSend, client, ap("127.0.0.10:21"), true}, ReasonPrivilegedPort, false, "port 21"},
		{"active port 0", on, &alice, DataRequest{DirectionAny, client, ap("127.0.0.10:0"), true}, ReasonPrivilegedPort, false, "below 1024"},
		{"active port 1023 foreign", on, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:1023"), true}, ReasonPrivilegedPort, true, "RFC 2577"},
		{"active port 1024 foreign ok", on, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:1024"), true}, ReasonNone, true, ""},
		{"passive peer from port 20 is fine", on, &alice, DataRequest{DirectionReceive, client, ap("127.0.0.3:20"), false}, ReasonNone, true, ""},
		{"disabled", FXPPolicy{}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonFXPDisabled, true, "FXP is disabled"},
		{"foreign listing", on, &alice, DataRequest{DirectionListing, client, ap("127.0.0.3:40000"), true}, ReasonListing, true, "listings"},
		{"send-only user sends", on, &sendOnly, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), false}, ReasonNone, true, ""},
		{"send-only user receives", on, &sendOnly, DataRequest{DirectionReceive, client, ap("127.0.0.3:40000"), false}, ReasonDirection, true, "FXP receive not allowed for sam"},
		{"receive-only user sends", on, &recvOnly, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonDirection, true, "FXP send not allowed for rita"},
		{"receive-only user any", on, &recvOnly, DataRequest{DirectionAny, client, ap("127.0.0.3:40000"), true}, ReasonNone, true, ""},
		{"none user any", on, &none, DataRequest{DirectionAny, client, ap("127.0.0.3:40000"), true}, ReasonDirection, true, "not allowed for nora"},
		{"anonymous refused", on, &anon, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonAnonymous, true, "anonymous"},
		{"anonymous allowed", FXPPolicy{Enabled: true, AllowAnonymous: true}, &anon, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonNone, true, ""},
		{"peer outside peers", FXPPolicy{Enabled: true, Peers: nets("127.0.0.3/32")}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.4:40000"), true}, ReasonPeers, true, "127.0.0.4 is not an allowed FXP peer of this server"},
		{"peer inside peers", FXPPolicy{Enabled: true, Peers: nets("127.0.0.0/30")}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonNone, true, ""},
		{"user peers narrow", FXPPolicy{Enabled: true, Peers: nets("127.0.0.0/8")}, &narrowed, DataRequest{DirectionSend, client, ap("127.0.0.4:40000"), true}, ReasonUserPeers, true, "for nick"},
		{"user peers allow", FXPPolicy{Enabled: true, Peers: nets("127.0.0.0/8")}, &narrowed, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonNone, true, ""},
		{"user peers cannot widen", FXPPolicy{Enabled: true, Peers: nets("127.0.0.4/32")}, &narrowed, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonPeers, true, ""},
		{"client outside clients", FXPPolicy{Enabled: true, Clients: nets("127.0.0.11/32")}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonClients, true, "client 127.0.0.10"},
		{"client inside clients", FXPPolicy{Enabled: true, Clients: nets("127.0.0.10/32")}, &alice, DataRequest{DirectionSend, client, ap("127.0.0.3:40000"), true}, ReasonNone, true, ""},
		{"ipv6 peer", on, &alice, DataRequest{DirectionSend, ip("::1"), ap("[::2]:40000"), true}, ReasonNone, true, ""},
		{"ipv6 privileged", on, &alice, DataRequest{DirectionSend, ip("::1"), ap("[::1]:22"), true}, ReasonPrivilegedPort, false, ""},
		{"unknown peer", on, &alice, DataRequest{DirectionSend, client, netip.AddrPort{}, false}, ReasonUnknownAddress, false, "cannot determine"},
		{"unknown client", on, &alice, DataRequest{DirectionSend, netip.Addr{}, ap("127.0.0.3:4000"), false}, ReasonUnknownAddress, false, ""},
		{"nil user", on, nil, DataRequest{DirectionSend, client, ap("127.0.0.3:4000"), false}, ReasonUnknownAddress, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.policy.Decide(tc.user, tc.req)
			if v.Reason != tc.want {
				t.Fatalf("reason = %v (%q), want %v", v.Reason, v.Message, tc.want)
			}
			if v.Allowed() != (tc.want == ReasonNone) {
				t.Fatalf("Allowed() = %v", v.Allowed())
			}
			if v.Foreign != tc.foreign {
				t.Fatalf("foreign = %v, want %v", v.Foreign, tc.foreign)
			}
			if !strings.Contains(v.Message, tc.msg) {
				t.Fatalf("message %q lacks %q", v.Message, tc.msg)
			}
			if v.Allowed() && v.Message != "" {
				t.Fatalf("allowed verdict carries message %q", v.Message)
			}
		})
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "reason(") || seen[s] {
			t.Fatalf("bad or duplicate reason name %q", s)
		}
		seen[s] = true
	}
}

// FuzzDecide checks the invariants that must hold for any input: an active
// connection to a privileged port is never allowed, a foreign peer is never
// allowed with FXP off, and a same-address peer on an unprivileged port
// always is.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{127, 0, 0, 10}, []byte{127, 0, 0, 3}, uint16(40000), uint8(1), true, true, uint8(3))
	f.Add([]byte{127, 0, 0, 10}, []byte{127, 0, 0, 10}, uint16(21), uint8(2), true, false, uint8(0))
	f.Fuzz(func(t *testing.T, c, p []byte, port uint16, dir uint8, active, enabled bool, userBits uint8) {
		client, ok1 := netip.AddrFromSlice(c)
		peer, ok2 := netip.AddrFromSlice(p)
		policy := FXPPolicy{Enabled: enabled, AllowAnonymous: userBits&8 != 0}
		u := UserFXP{Name: "u", Send: userBits&1 != 0, Receive: userBits&2 != 0, Anonymous: userBits&4 != 0}
		req := DataRequest{Direction: Direction(dir % 4), Client: client, Peer: netip.AddrPortFrom(peer, port), Active: active}
		v := policy.Decide(&u, req)
		if !ok1 || !ok2 {
			if v.Allowed() {
				t.Fatal("allowed with an unreadable address")
			}
			return
		}
		if active && port < 1024 && v.Allowed() {
			t.Fatalf("allowed active connection to port %d", port)
		}
		foreign := client.Unmap() != peer.Unmap()
		if foreign && !enabled && v.Allowed() {
			t.Fatal("allowed a foreign peer with FXP disabled")
		}
		if foreign && req.Direction == DirectionListing && v.Allowed() {
			t.Fatal("allowed a foreign listing")
		}
		if !foreign && (!active || port >= 1024) && !v.Allowed() {
			t.Fatalf("refused own address: %s", v.Message)
		}
		if v.Allowed() && v.Foreign != foreign {
			t.Fatal("foreign flag wrong")
		}
	})
}
