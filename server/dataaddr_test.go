package server

import (
	"net/netip"
	"testing"
)

func TestParseDataAddress(t *testing.T) {
	cases := []struct {
		verb, arg string
		want      string // "" = invalid
	}{
		{"PORT", "127,0,0,10,156,64", "127.0.0.10:40000"},
		{"PORT", " 127,0,0,10,0,21 ", "127.0.0.10:21"},
		{"PORT", "127,0,0,10,0,0", "127.0.0.10:0"},
		{"PORT", "127,0,0,10,256,1", ""},
		{"PORT", "127,0,0,10,1", ""},
		{"PORT", "127,0,0,10,1,2,3", ""},
		{"PORT", "a,b,c,d,e,f", ""},
		{"PORT", "-1,0,0,10,1,2", ""},
		{"EPRT", "|1|127.0.0.3|40000|", "127.0.0.3:40000"},
		{"EPRT", "!1!127.0.0.3!40000!", "127.0.0.3:40000"},
		{"EPRT", "|2|::1|5282|", "[::1]:5282"},
		{"EPRT", "|2|::ffff:127.0.0.3|21|", "127.0.0.3:21"},
		{"EPRT", "|1|::1|5282|", ""},
		{"EPRT", "|2|127.0.0.1|5282|", ""},
		{"EPRT", "|3|127.0.0.1|5282|", ""},
		{"EPRT", "|1|127.0.0.1|70000|", ""},
		{"EPRT", "|2|fe80::1%eth0|5282|", ""},
		{"EPRT", "|1|127.0.0.1|", ""},
		{"EPRT", "", ""},
	}
	for _, tc := range cases {
		got, ok := parseDataAddress(tc.verb, tc.arg)
		if tc.want == "" {
			if ok {
				t.Errorf("%s %q: accepted as %s", tc.verb, tc.arg, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddrPort(tc.want) {
			t.Errorf("%s %q = %s, %v; want %s", tc.verb, tc.arg, got, ok, tc.want)
		}
	}
}

func TestParsePassiveReply(t *testing.T) {
	cases := []struct {
		line string
		port int
		ok   bool
	}{
		{"227 Entering Passive Mode (127,0,0,2,156,64)", 40000, true},
		{"229 Entering Extended Passive Mode (|||40001|)", 40001, true},
		{"227 Entering Passive Mode (127,0,0,2,300,64)", 0, false},
		{"229 Entering Extended Passive Mode (|||x|)", 0, false},
		{"227 no parens", 0, false},
	}
	for _, tc := range cases {
		port, ok := parsePassiveReply(tc.line)
		if ok != tc.ok || (ok && port != tc.port) {
			t.Errorf("%q = %d, %v", tc.line, port, ok)
		}
	}
}

// FuzzParseDataAddress: whatever the argument, parsing never panics, and an
// accepted PORT/EPRT round-trips through its canonical form.
func FuzzParseDataAddress(f *testing.F) {
	for _, s := range []string{"127,0,0,10,156,64", "|1|127.0.0.3|40000|", "|2|::1|5282|", "1,2,3", "||||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, verb := range []string{"PORT", "EPRT"} {
			ap, ok := parseDataAddress(verb, arg)
			if !ok {
				continue
			}
			if !ap.Addr().IsValid() || ap.Addr().Is4In6() || ap.Addr().Zone() != "" {
				t.Fatalf("%s %q gave %v", verb, arg, ap)
			}
			canon := "|1|" + ap.Addr().String() + "|" + itoa(ap.Port()) + "|"
			if ap.Addr().Is6() {
				canon = "|2|" + ap.Addr().String() + "|" + itoa(ap.Port()) + "|"
			}
			if back, ok := parseDataAddress("EPRT", canon); !ok || back != ap {
				t.Fatalf("%s %q -> %v does not round-trip (%q -> %v)", verb, arg, ap, canon, back)
			}
		}
	})
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}
