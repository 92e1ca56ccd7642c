package ftpclient

import (
	"net/netip"
	"testing"
)

func TestParsePASV(t *testing.T) {
	cases := map[string]string{
		"Entering Passive Mode (127,0,0,2,156,64)":  "127.0.0.2:40000",
		"Entering Passive Mode (127,0,0,2,156,64).": "127.0.0.2:40000",
		"=127,0,0,2,156,64":                         "",
		"Entering Passive Mode (127,0,0,2,356,64)":  "",
		"Entering Passive Mode (1,2,3)":             "",
	}
	for msg, want := range cases {
		got, err := ParsePASV(msg)
		if want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %s", msg, got)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddrPort(want) {
			t.Errorf("%q = %s, %v", msg, got, err)
		}
	}
}

func TestParseEPSV(t *testing.T) {
	if p, err := ParseEPSV("Entering Extended Passive Mode (|||40001|)"); err != nil || p != 40001 {
		t.Fatalf("= %d, %v", p, err)
	}
	for _, bad := range []string{"(|||0|)", "(||x|)", "no parens", "(|||70000|)"} {
		if _, err := ParseEPSV(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPortCommand(t *testing.T) {
	cases := []struct {
		addr     string
		extended bool
		want     string
	}{
		{"127.0.0.3:40000", false, "PORT 127,0,0,3,156,64"},
		{"127.0.0.3:40000", true, "EPRT |1|127.0.0.3|40000|"},
		{"[::1]:5282", false, "EPRT |2|::1|5282|"},
		{"[::ffff:127.0.0.3]:21", false, "PORT 127,0,0,3,0,21"},
	}
	for _, tc := range cases {
		if got := PortCommand(netip.MustParseAddrPort(tc.addr), tc.extended); got != tc.want {
			t.Errorf("%s extended=%v = %q, want %q", tc.addr, tc.extended, got, tc.want)
		}
	}
}
