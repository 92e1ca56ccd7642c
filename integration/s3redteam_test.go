package integration

import (
	"net/url"
	"strings"
	"testing"
)

// TestS3StoreErrorRepliesHideStore: with the store down, the replies to
// SIZE, MDTM, MKD, DELE, CWD and LIST say "S3 store error" and name
// neither the store's address nor the user's key prefix in the bucket
// (the SDK's text, e.g. `Head "http://host:port/ftp/sam/zz"`, stays in
// the log).
func TestS3StoreErrorRepliesHideStore(t *testing.T) {
	in, store, _ := startS3Server(t, hostA, "")
	c := in.dial(client1, "sam", testPass)
	u, err := url.Parse(store.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	store.Kill()
	check := func(what, reply string) {
		t.Helper()
		if strings.Contains(reply, u.Host) || strings.Contains(reply, "/sam/") || strings.Contains(reply, "sam%2F") {
			t.Errorf("%s: reply names the store: %s", what, reply)
		}
		if !strings.Contains(reply, "S3 store error") {
			t.Errorf("%s: reply %q does not say it is a store error", what, reply)
		}
	}
	for _, cmd := range []string{"SIZE zz", "MDTM zz", "MKD zz", "DELE zz", "CWD zz", "RNFR zz"} {
		n, msg, err := c.Cmd("%s", cmd)
		if err != nil {
			t.Fatal(err)
		}
		if n < 400 {
			t.Errorf("%s with the store down: %d %s", cmd, n, msg)
		}
		check(cmd, msg)
	}
	_, err = c.List("LIST", "/")
	if err == nil {
		t.Fatal("LIST with the store down succeeded")
	}
	check("LIST", err.Error())
}
