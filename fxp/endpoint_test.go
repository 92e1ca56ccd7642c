package fxp

import (
	"strings"
	"testing"
)

func TestFxpParseURL(t *testing.T) {
	cases := []struct {
		raw  string
		want Endpoint
		str  string
	}{
		{"ftp://alice:pw@127.0.0.2:2121/dir/f.bin",
			Endpoint{Host: "127.0.0.2", Port: 2121, User: "alice", Pass: "pw", Path: "dir/f.bin", UserFromURL: true, PassFromURL: true},
			"ftp://alice:****@127.0.0.2:2121/dir/f.bin"},
		{"ftp://example.org/f",
			Endpoint{Host: "example.org", Port: 21, Path: "f"},
			"ftp://example.org:21/f"},
		{"ftps://bob@[::1]:990//abs/path%20with%20space",
			Endpoint{TLS: true, Host: "::1", Port: 990, User: "bob", Path: "/abs/path with space", UserFromURL: true},
			"ftps://bob@[::1]:990//abs/path with space"},
		{"ftp://h/%2Fabs", Endpoint{Host: "h", Port: 21, Path: "/abs"}, "ftp://h:21//abs"},
		{"FTP://h:21/", Endpoint{Host: "h", Port: 21, Path: ""}, "ftp://h:21/"},
		{"ftp://u%40x:p%3Aw%2F@h/f", Endpoint{Host: "h", Port: 21, User: "u@x", Pass: "p:w/", Path: "f", UserFromURL: true, PassFromURL: true},
			"ftp://u%40x:****@h:21/f"},
	}
	for _, tc := range cases {
		got, err := ParseURL(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.raw, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.raw, s, tc.str)
		}
	}
}

func TestFxpParseURLErrorsHidePassword(t *testing.T) {
	for _, raw := range []string{
		"ftp://u:hunter2@h:99999/f",
		"ftp://u:hunter2@h:port/f",
		"http://u:hunter2@h/f",
		"ftp://u:hunter2@/f",
		"ftp://u:hunter2@h/f?x=1",
		"ftp://u:hunter2@h/f%0d%0aDELE x",
		"u:hunter2@h/f",
		"ftp://u:hunter2@h/f\x7f%zz",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Errorf("%q: no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error shows the password: %v", raw, err)
		}
	}
}

func TestFxpMaskURL(t *testing.T) {
	for raw, want := range map[string]string{
		"ftp://u:secret@h/f":  "ftp://u:****@h/f",
		"ftp://u@h/f":         "ftp://u@h/f",
		"ftp://h/f":           "ftp://h/f",
		"ftps://u:s:e@h:99/x": "ftps://u:****@h:99/x",
	} {
		if got := MaskURL(raw); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestFxpParsePassive(t *testing.T) {
	for s, want := range map[string]Passive{"auto": PassiveAuto, "src": PassiveSrc, "source": PassiveSrc, "dst": PassiveDst, "DESTINATION": PassiveDst} {
		if got, err := ParsePassive(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := ParsePassive("both"); err == nil {
		t.Error("both: no error")
	}
}
