package integration

import (
	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/server"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
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

// TestS3CheckConfigWrongAccessKey: an access key the store does not know
// is named as such by -check-config and at start (versitygw answers the
// unsigned-body HEAD of the bucket with a bare 404, which was reported as
// "bucket does not exist: create it").
func TestS3CheckConfigWrongAccessKey(t *testing.T) {
	store := s3test.Start(t)
	_ = store.Store(t, "ftp", 5<<20, 10<<20)
	dir := t.TempDir()
	text := strings.ReplaceAll(strings.ReplaceAll(s3Config(store.Endpoint, ""), "{{DIR}}", dir), "{{HOST}}", hostA)
	path := dir + "/ftpd.toml"
	writeFile(t, path, []byte(text))
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "nosuchkey")
	err = server.Check(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "access key is unknown") || strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("check with an unknown access key: %v", err)
	}
}

// TestS3LongNameRefused: a name whose key would pass S3's 1024-byte limit
// is refused as too long before any request (was: the store's 400/500,
// retried three times, shown as a store failure).
func TestS3LongNameRefused(t *testing.T) {
	in, _, st := startS3Server(t, hostA, "")
	c := in.dial(client1, "sam", testPass)
	long := strings.Repeat("a", 1030)
	for _, cmd := range []string{"MKD", "SIZE", "DELE"} {
		n, msg, err := c.Cmd("%s %s", cmd, long)
		if err != nil {
			t.Fatal(err)
		}
		if n != 550 || !strings.Contains(msg, "file name too long") {
			t.Errorf("%s of a 1030-byte name: %d %.200s", cmd, n, msg)
		}
	}
	if _, err := c.Stor(long, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "file name too long") {
		t.Errorf("STOR of a 1030-byte name: %.300v", err)
	}
	if ups := s3test.Uploads(t, st); len(ups) != 0 {
		t.Errorf("uploads left: %v", ups)
	}
}
