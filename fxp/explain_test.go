package fxp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/ftpd/ftpd/ftpclient"
)

func portRefused(code int, msg string) error {
	return &ftpclient.ReplyError{Command: "PORT 127,0,0,2,156,64", Code: code, Msg: msg}
}

func TestFxpExplain(t *testing.T) {
	pasvA := netip.MustParseAddrPort("127.0.0.2:40000")
	pasvB := netip.MustParseAddrPort("127.0.0.3:40001")
	foreign := "foreign addresses are disabled there — " + fxpSwitches
	cases := []struct {
		name string
		a    Attempt
		want string
	}{
		{"ftpd PORT refused", Attempt{Passive: roleSrc, PasvAddr: pasvA, Stage: stagePORT,
			Err: portRefused(501, "PORT refused: foreign data address 127.0.0.2 refused: FXP is disabled on this server")},
			"destination refused PORT to 127.0.0.2: " + foreign},
		{"vsftpd PORT refused", Attempt{Passive: roleSrc, PasvAddr: pasvA, Stage: stagePORT, Err: portRefused(500, "Illegal PORT command.")},
			"destination refused PORT to 127.0.0.2: " + foreign},
		{"Pure-FTPd PORT refused", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stagePORT,
			Err: portRefused(500, "I won't open a connection to 127.0.0.3 (only to 127.0.0.10)")},
			"source refused PORT to 127.0.0.3: " + foreign},
		{"ftpd peers", Attempt{Passive: roleSrc, PasvAddr: pasvA, Stage: stagePORT,
			Err: portRefused(501, "PORT refused: 127.0.0.2 is not an allowed FXP peer of this server")},
			"destination does not accept the other server as an FXP peer"},
		{"ftpd direction at transfer", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 226, Msg: "Closing data connection"},
			Dst: Reply{Code: 550, Msg: "Could not transfer file: FXP receive not allowed for alice"}},
			"destination does not allow this user that FXP direction"},
		{"vsftpd passive side refuses", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 426, Msg: "Failure writing network stream."},
			Dst: Reply{Code: 425, Msg: "Security: Bad IP connecting."}},
			"the destination refused the data connection from the source: " + foreign},
		{"Pure-FTPd passive side silent", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 426, Msg: "Data connection closed"},
			Dst: Reply{Err: errors.New("i/o timeout"), Aborted: true}},
			"the destination closed the data connection from the source without a reply"},
		{"Pure-FTPd passive side silent, ftpd source broken pipe", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 550, Msg: "Issue during transfer: network error: error transferring data: readfrom tcp 127.0.0.1:51166->127.0.0.4:26542: sendfile: broken pipe"},
			Dst: Reply{Err: errors.New("context canceled"), Aborted: true}},
			"the destination closed the data connection from the source without a reply"},
		{"no such file", Attempt{Passive: roleDst, PasvAddr: pasvB, Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 550, Msg: "No such file"},
			Dst: Reply{Code: 426, Msg: "aborted", Aborted: true}},
			"the source refused RETR: 550 No such file"},
		{"PASV refused", Attempt{Passive: roleDst, Stage: stagePASV, Err: &ftpclient.ReplyError{Command: "PASV", Code: 502, Msg: "not implemented"}},
			"the destination refused passive mode: 502 not implemented"},
	}
	for _, tc := range cases {
		got := Explain([]Attempt{tc.a})
		if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestFxpCopyErrorText(t *testing.T) {
	src := Endpoint{Host: "127.0.0.2", Port: 2121, User: "alice", Pass: "secret-pw", Path: "f"}
	dst := Endpoint{Host: "127.0.0.3", Port: 2121, User: "alice", Pass: "secret-pw", Path: "f"}
	e := &CopyError{Src: src, Dst: dst, Attempts: []Attempt{
		{Passive: roleDst, PasvAddr: netip.MustParseAddrPort("127.0.0.3:40001"), Stage: stageTransfer, Store: "STOR",
			Src: Reply{Code: 226, Msg: "ok"}, Dst: Reply{Code: 550, Msg: "foreign data address 127.0.0.1 refused: FXP is disabled on this server"}},
		{Passive: roleSrc, PasvAddr: netip.MustParseAddrPort("127.0.0.2:40000"), Stage: stagePORT,
			Err: errors.Join(errors.New("destination 127.0.0.3:2121"), portRefused(501, "PORT refused: foreign data address 127.0.0.2 refused: FXP is disabled on this server"))},
	}}
	text := e.Error()
	for _, want := range []string{
		"copy ftp://alice:****@127.0.0.2:2121/f -> ftp://alice:****@127.0.0.3:2121/f failed",
		"PASV on destination (127.0.0.3:40001): source RETR -> 226 ok; destination STOR -> 550 foreign data address 127.0.0.1 refused: FXP is disabled on this server",
		"PASV on source (127.0.0.2:40000): PORT failed:",
		"likely cause: destination refused PORT to 127.0.0.2: foreign addresses are disabled there",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("error lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "secret-pw") {
		t.Fatalf("error shows the password:\n%s", text)
	}
}
