package dataplane

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseStrict(t *testing.T) {
	cases := []struct {
		verb, arg string
		want      string // "" = refused
	}{
		{"PORT", "127,0,0,10,156,64", "127.0.0.10:40000"},
		{"PORT", " 127,0,0,10,0,21 ", "127.0.0.10:21"},
		{"PORT", "127,0,0,10,019,136", "127.0.0.10:5000"},
		{"PORT", "127,0,0,10,0,0", ""},
		{"PORT", "127,0,0,10,256,1", ""},
		{"PORT", "127,0,0,99,18,392", ""},
		{"PORT", "127,0,0,10,1", ""},
		{"PORT", "127,0,0,10,1,2,3", ""},
		{"PORT", "127,0,0,10,1,2,", ""},
		{"PORT", "a,b,c,d,e,f", ""},
		{"PORT", "-1,0,0,10,1,2", ""},
		{"PORT", "127,0,0,10,+19,136", ""},
		{"PORT", "127,0,0,10, 19,136", ""},
		{"PORT", "127,0,0,10,0019,136", ""},
		{"PORT", "127,0,0,10,0x13,136", ""},
		{"EPRT", "|1|127.0.0.3|40000|", "127.0.0.3:40000"},
		{"EPRT", "!1!127.0.0.3!40000!", "127.0.0.3:40000"},
		{"EPRT", "|2|::1|5282|", "[::1]:5282"},
		{"EPRT", "|2|::ffff:127.0.0.3|21|", "127.0.0.3:21"},
		{"EPRT", "|1|::ffff:127.0.0.3|5000|", ""},
		{"EPRT", "|1|::1|5282|", ""},
		{"EPRT", "|2|127.0.0.1|5282|", ""},
		{"EPRT", "|3|127.0.0.1|5282|", ""},
		{"EPRT", "|01|127.0.0.1|5282|", ""},
		{"EPRT", "|1|127.0.0.1|70000|", ""},
		{"EPRT", "|1|127.0.0.1|+25|", ""},
		{"EPRT", "|1|127.0.0.1| 25|", ""},
		{"EPRT", "|1|127.0.0.1|0|", ""},
		{"EPRT", "|1|127.000.0.1|5000|", ""},
		{"EPRT", "x|1|127.0.0.1|5000|", ""},
		{"EPRT", "|1|127.0.0.1|5000|x", ""},
		{"EPRT", "|1|127.0.0.1|5000||", ""},
		{"EPRT", "1112711270.0.0.111500011", ""},
		{"EPRT", ":1:127.0.0.1:5000:", ""},
		{"EPRT", "|2|fe80::1%eth0|5282|", ""},
		{"EPRT", "|1|127.0.0.1|", ""},
		{"EPRT", "", ""},
		{"LPRT", "4,4,127,0,0,1,2,19,136", ""},
	}
	for _, tc := range cases {
		got, err := Parse(tc.verb, tc.arg)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %q: accepted as %s", tc.verb, tc.arg, got)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddrPort(tc.want) {
			t.Errorf("%s %q = %v, %v; want %s", tc.verb, tc.arg, got, err, tc.want)
		}
	}
}

func TestParsePassiveReply(t *testing.T) {
	for line, want := range map[string]int{
		"227 Entering Passive Mode (127,0,0,2,156,64)":   40000,
		"229 Entering Extended Passive Mode (|||40001|)": 40001,
		"227 Entering Passive Mode (127,0,0,2,0,0)":      0,
		"229 Entering Extended Passive Mode (|||+5|)":    0,
		"227 nothing": 0,
	} {
		got, ok := ParsePassiveReply(line)
		if (want == 0) == ok || (ok && got != want) {
			t.Errorf("%q = %d %v, want %d", line, got, ok, want)
		}
	}
}

// FuzzParse: whatever the strict parsers accept re-encodes canonically to
// the same address, and was written in the canonical grammar (PORT: six
// fields of digits; EPRT: one delimiter, protocol matching the family).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"127,0,0,10,156,64", "|1|127.0.0.3|40000|", "|2|::1|5282|", "|2|::ffff:1.2.3.4|9|", "127,0,0,99,18,392", "|1|127.0.0.99|+25|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if ap, err := ParsePORT(arg); err == nil {
			back, err := ParsePORT(FormatPORT(ap))
			if err != nil || back != ap || ap.Port() == 0 || !ap.Addr().Is4() {
				t.Fatalf("PORT %q -> %v -> %q -> %v %v", arg, ap, FormatPORT(ap), back, err)
			}
			if strings.Trim(strings.TrimSpace(arg), "0123456789,") != "" {
				t.Fatalf("PORT %q accepted with characters outside digits and commas", arg)
			}
		}
		if ap, err := ParseEPRT(arg); err == nil {
			back, err := ParseEPRT(FormatEPRT(ap))
			if err != nil || back != ap || ap.Port() == 0 || ap.Addr().Is4In6() {
				t.Fatalf("EPRT %q -> %v -> %q -> %v %v", arg, ap, FormatEPRT(ap), back, err)
			}
			a := strings.TrimSpace(arg)
			if strings.Count(a, a[:1]) != 4 || !strings.HasSuffix(a, a[:1]) {
				t.Fatalf("EPRT %q accepted without four equal delimiters", arg)
			}
		}
	})
}
