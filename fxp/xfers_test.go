package fxp

import (
	"testing"
)

func TestFxpParseXfers(t *testing.T) {
	// As net/textproto returns it (prefixes stripped) and raw.
	stripped := "2 transfer(s) in progress\n" +
		" id=7 cmd=RETR dir=send bytes=1048576 size=5242880 rate=52428800 elapsed=0.020 peer=127.0.0.3:40011 fxp=yes path=/big file.bin\n" +
		" id=9 cmd=STOR dir=receive bytes=0 size=-1 rate=0 elapsed=0.001 peer=127.0.0.10:5000 fxp=no path=/up/x\n" +
		"End"
	raw := "200-2 transfer(s) in progress\r\n" +
		"200- id=7 cmd=RETR dir=send bytes=1048576 size=5242880 rate=52428800 elapsed=0.020 peer=127.0.0.3:40011 fxp=yes path=/big file.bin\r\n" +
		"200-id=9 cmd=STOR dir=receive bytes=0 size=-1 rate=0 elapsed=0.001 peer=127.0.0.10:5000 fxp=no path=/up/x\r\n" +
		"200 End"
	want := []Xfer{
		{ID: 7, Cmd: "RETR", Dir: "send", Bytes: 1048576, Size: 5242880, Rate: 52428800, Elapsed: 0.02, Peer: "127.0.0.3:40011", FXP: true, Path: "/big file.bin"},
		{ID: 9, Cmd: "STOR", Dir: "receive", Bytes: 0, Size: -1, Rate: 0, Elapsed: 0.001, Peer: "127.0.0.10:5000", FXP: false, Path: "/up/x"},
	}
	for name, msg := range map[string]string{"stripped": stripped, "raw": raw} {
		got, err := ParseXfers(msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d transfers", name, len(got))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s[%d]:\n got %+v\nwant %+v", name, i, got[i], want[i])
			}
		}
	}
	if got, err := ParseXfers("0 transfer(s) in progress\nEnd"); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

func TestFxpParseXfersErrors(t *testing.T) {
	for _, msg := range []string{
		"",
		"Unknown SITE subcommand: XFERS",
		"1 transfer(s) in progress\nEnd", // count mismatch
		"1 transfer(s) in progress\n id=1 cmd=RETR\nEnd", // truncated line
		"0 transfer(s) in progress",                      // no End
		"1 transfer(s) in progress\n cmd=RETR id=1 dir=send bytes=1 size=1 rate=1 elapsed=1 peer=p fxp=no path=x\nEnd", // order
		"1 transfer(s) in progress\n id=1 cmd=RETR dir=send bytes=x size=1 rate=1 elapsed=1 peer=p fxp=no path=x\nEnd",
		"1 transfer(s) in progress\n id=1 cmd=RETR dir=send bytes=1 size=1 rate=1 elapsed=1 peer=p fxp=maybe path=x\nEnd",
	} {
		if _, err := ParseXfers(msg); err == nil {
			t.Errorf("%q: no error", msg)
		}
	}
}

func TestFxpFindXfer(t *testing.T) {
	xs := []Xfer{
		{ID: 1, Cmd: "RETR", Path: "/a/f"},
		{ID: 2, Cmd: "STOR", Path: "/home/u/b/f"},
		{ID: 3, Cmd: "STOR", Path: "/a/f"},
		{ID: 4, Cmd: "APPE", Path: "/c"},
	}
	for _, tc := range []struct {
		path string
		cmds []string
		id   uint64
		ok   bool
	}{
		{"a/f", []string{"STOR", "APPE"}, 3, true},
		{"/a/f", []string{"RETR"}, 1, true},
		{"b/f", []string{"STOR"}, 2, true}, // login directory not the root
		{"c", []string{"STOR", "APPE"}, 4, true},
		{"c", []string{"RETR"}, 0, false},
		{"f", []string{"RETR"}, 1, true},
	} {
		x, ok := findXfer(xs, tc.path, tc.cmds...)
		if ok != tc.ok || x.ID != tc.id {
			t.Errorf("findXfer(%q, %v) = %d %v", tc.path, tc.cmds, x.ID, ok)
		}
	}
}
