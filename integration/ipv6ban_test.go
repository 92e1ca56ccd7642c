package integration

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// Issue 13, item 7: an IPv6 client is banned with its whole /64. The
// server and clients run in a private network namespace (inNetns) holding
// fd00:: addresses on its loopback.
func TestBanIPv6Per64(t *testing.T) {
	if !inNetns(t, "fd00::2", "fd00::10", "fd00::11", "fd00:0:0:1::10") {
		return
	}
	a := startServer(t, "[fd00::2]", basicConfig("", "[limits]\nmax_login_failures = 3\nban_duration = \"1h\"\n"))
	early := a.dial("fd00::11", "", "") // opened before the ban
	for i := 0; i < 3; i++ {
		c := a.dial("fd00::10", "", "")
		if err := c.Login("alice", "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	a.logs.waitFor(t, `"msg":"IP banned after failed logins"`)
	// fd00::11 shares fd00::10's /64: refused at connect and at PASS.
	c := rawDial(t, "fd00::11", a.addr)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "421") {
		t.Errorf("fd00::11 after fd00::10 was banned: greeted %q", line)
	}
	if err := early.Login("alice", testPass); err == nil {
		t.Error("fd00::11 logged in on a connection opened before its /64 was banned")
	}
	// Another /64 is not affected.
	if err := a.dial("fd00:0:0:1::10", "", "").Login("alice", testPass); err != nil {
		t.Errorf("fd00:0:0:1::10 (another /64): %v", err)
	}
}
