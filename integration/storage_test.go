package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/server"
	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// s3Config is a config whose user "sam" has backend = "s3" (prefix sam/)
// on the versitygw at endpoint, beside basicConfig's os users.
func s3Config(endpoint, extra string) string {
	return basicConfig("", `
[s3]
endpoint = "`+endpoint+`"
region = "us-east-1"
bucket = "ftp"
path_style = true
part_size = "5MiB"
upload_memory = "20MiB"
`+extra) + `
[[users]]
name = "sam"
password = "` + testPass + `"
backend = "s3"
root = "sam/"
`
}

// startS3Server starts versitygw with bucket "ftp" and an ftpd on host
// with the S3 user "sam".
func startS3Server(t *testing.T, host, extra string) (*instance, *s3test.Server, *s3store.Store) {
	t.Helper()
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, 10<<20) // creates the bucket
	return startServer(t, host, s3Config(store.Endpoint, extra)), store, st
}

// code runs a command and returns its reply code.
func code(t *testing.T, c *ftpclient.Conn, format string, args ...any) int {
	t.Helper()
	n, _, err := c.Cmd(format, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// storageSuite runs the same commands on one user's storage and returns
// "COMMAND -> reply code" lines, to compare across backends.
func storageSuite(t *testing.T, c *ftpclient.Conn) []string {
	t.Helper()
	var out []string
	rec := func(what string, n int) { out = append(out, fmt.Sprintf("%s -> %d", what, n)) }
	stor := func(name string, data []byte) int {
		if _, err := c.Stor(name, bytes.NewReader(data)); err != nil {
			if re, ok := err.(*ftpclient.ReplyError); ok {
				return re.Code
			}
			t.Fatalf("STOR %s: %v", name, err)
		}
		return 226
	}
	big := randomBytes(t, 12<<20+17) // three 5 MiB parts on S3
	rec("MKD d", code(t, c, "MKD d"))
	rec("MKD d again", code(t, c, "MKD d"))
	rec("MKD x/y (no parent)", code(t, c, "MKD x/y"))
	rec("STOR d/f", stor("d/f", []byte("first")))
	rec("STOR d/f replace", stor("d/f", big))
	rec("STOR nodir/f", stor("nodir/f", []byte("x")))
	rec("SIZE d/f", code(t, c, "SIZE d/f"))
	rec("SIZE d/missing", code(t, c, "SIZE d/missing"))
	rec("MDTM d/f", code(t, c, "MDTM d/f"))
	rec("MFMT", code(t, c, "MFMT 20200102030405 d/f"))
	_, mdtm, _ := c.Cmd("MDTM d/f")
	rec("MDTM after MFMT = "+strings.TrimSpace(mdtm), 0)
	rec("MLST d/f", code(t, c, "MLST d/f"))
	var got bytes.Buffer
	_, err := c.Retr("d/f", &got)
	if err != nil || !bytes.Equal(got.Bytes(), big) {
		t.Fatalf("RETR d/f: %d bytes, %v", got.Len(), err)
	}
	rec("RETR d/f intact", 226)
	rec("REST 5242883", code(t, c, "REST 5242883"))
	got.Reset()
	if _, err := c.Retr("d/f", &got); err != nil || !bytes.Equal(got.Bytes(), big[5242883:]) {
		t.Fatalf("REST+RETR: %d bytes, %v", got.Len(), err)
	}
	rec("REST+RETR d/f intact", 226)
	names, err := c.List("NLST", "d")
	rec(fmt.Sprintf("NLST d = %v %v", names, err), 0)
	lines, err := c.List("MLSD", "/")
	rec(fmt.Sprintf("MLSD / = %d entries %v", len(lines), err), 0)
	rec("RMD d (not empty)", code(t, c, "RMD d"))
	rec("RNFR d/f", code(t, c, "RNFR d/f"))
	rec("RNTO g", code(t, c, "RNTO g"))
	rec("SIZE g", code(t, c, "SIZE g"))
	rec("SIZE d/f (renamed)", code(t, c, "SIZE d/f"))
	rec("RMD d (empty)", code(t, c, "RMD d"))
	rec("DELE g", code(t, c, "DELE g"))
	rec("DELE g again", code(t, c, "DELE g"))
	for _, name := range []string{"../alice/x", "/../../x", "..//x", `..\x`, "a/../../x", "../sam2/x", "//x/../../x", "%2e%2e/x"} {
		rec("SIZE "+name, code(t, c, "SIZE %s", name))
	}
	return out
}

// TestStorageSuiteAllBackends runs one suite on os, memory and S3 users:
// the same commands give the same replies.
func TestStorageSuiteAllBackends(t *testing.T) {
	in, _, st := startS3Server(t, hostA, "")
	// Files next to the users' roots that no spelling may reach.
	for _, k := range []string{"x", "alice/x", "sam2/x"} {
		s3test.Put(t, st, k, []byte("outside"))
		writeFile(t, in.dir+"/"+k, []byte("outside"))
	}
	osLines := storageSuite(t, in.dial(client1, "bob", testPass))
	s3Lines := storageSuite(t, in.dial(client1, "sam", testPass))
	// The memory backend runs the same suite against disk in
	// TestMemoryBackendSuite (no S3 store needed there).
	for i := range osLines {
		if osLines[i] != s3Lines[i] {
			t.Errorf("step %d differs:\n  os: %s\n  s3: %s", i, osLines[i], s3Lines[i])
		}
	}
	t.Logf("suite (os):\n%s", strings.Join(osLines, "\n"))
}

// TestS3Refusals: what S3 cannot do is refused with a 5xx and changes
// nothing.
func TestS3Refusals(t *testing.T) {
	in, _, st := startS3Server(t, hostA, "")
	c := in.dial(client1, "sam", testPass)
	if _, err := c.Stor("f", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	code(t, c, "MKD d")
	if _, err := c.Appe("f", strings.NewReader("more")); err == nil {
		t.Error("APPE to an existing S3 object succeeded")
	} else if re, ok := err.(*ftpclient.ReplyError); !ok || re.Code < 500 {
		t.Errorf("APPE: %v, want a 5xx", err)
	}
	code(t, c, "REST 2")
	if _, err := c.Stor("f", strings.NewReader("llo!")); err == nil {
		t.Error("REST+STOR on S3 succeeded")
	}
	if n := code(t, c, "SITE CHMOD 600 f"); n != 550 {
		t.Errorf("SITE CHMOD on S3: %d, want 550", n)
	}
	code(t, c, "RNFR d")
	if n := code(t, c, "RNTO e"); n < 500 {
		t.Errorf("directory rename on S3: %d, want a 5xx", n)
	}
	out, err := st.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("ftp"), Key: aws.String("sam/f")})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(out.Body)
	out.Body.Close()
	if b.String() != "hello" {
		t.Errorf("sam/f = %q after refused writes, want hello", b.String())
	}
}

// TestS3StoreKilledDuringStor: the store dies in the middle of an upload
// (after the multipart upload started) and comes back. The transfer is
// not 226, no object appears, and the multipart upload is aborted (none
// left). ftpd reaches the store through a proxy that restarts the killed
// store exactly when ftpd's first abort request arrives, so the test
// does not depend on timing: ftpd must keep trying to abort.
func TestS3StoreKilledDuringStor(t *testing.T) {
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, 10<<20)
	target, err := url.Parse(store.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var killed, restarted atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // the dead store's refusals are expected
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if killed.Load() && r.Method == http.MethodDelete && r.URL.Query().Has("uploadId") && restarted.CompareAndSwap(false, true) {
			store.Restart(t)
		}
		proxy.ServeHTTP(w, r)
	})
	ln := listenLocal(t, "127.0.0.1")
	hs := &http.Server{Handler: handler}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	in := startServer(t, hostA, s3Config("http://"+ln.Addr().String(), ""))
	c := in.dial(client1, "sam", testPass)
	conn := openStor(t, c, client1, "STOR", "big")
	chunk := randomBytes(t, 6<<20)
	if _, err := conn.Write(chunk); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a multipart upload in progress", func() bool { return len(s3test.Uploads(t, st)) == 1 })
	killed.Store(true)
	store.Kill()
	go func() {
		_, _ = conn.Write(chunk) // fails on the dead store
		conn.Close()
	}()
	n, msg, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if n != 451 || strings.Contains(msg, store.Endpoint) {
		t.Fatalf("STOR through a killed store: %d %s, want 451 without the store's address", n, msg)
	}
	if !restarted.Load() {
		t.Fatal("ftpd never tried to abort the multipart upload")
	}
	if s3test.Exists(t, st, "sam/big") {
		t.Error("an object appeared for an upload cut by the store's death")
	}
	if ups := s3test.Uploads(t, st); len(ups) != 0 {
		t.Errorf("multipart uploads left: %v", ups)
	}
	t.Logf("reply: %d %s", n, msg)
}

// TestS3StoreKilledDuringRetr: the store dies during a download: the
// client gets no 226 and fewer bytes than the object holds.
func TestS3StoreKilledDuringRetr(t *testing.T) {
	in, store, st := startS3Server(t, hostA, "")
	const size = 96 << 20 // far beyond what socket buffers hold
	s3test.Put(t, st, "sam/big", randomBytes(t, size))
	c := in.dial(client1, "sam", testPass)
	conn := openStor(t, c, client1, "RETR", "big") // any command over PASV
	if _, err := io.ReadFull(conn, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	store.Kill()
	got, _ := io.Copy(io.Discard, conn)
	n, msg, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if n != 451 || got+1<<20 >= size {
		t.Fatalf("RETR through a killed store: reply %d %s after %d bytes", n, msg, got+1<<20)
	}
	t.Logf("reply %d %s after %d of %d bytes", n, msg, got+1<<20, size)
}

// TestS3FXPWithOSUser copies a file by FXP from an S3 user on A to an os
// user on B and back.
func TestS3FXPWithOSUser(t *testing.T) {
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, 10<<20)
	a := startServer(t, hostA, strings.Replace(pairConfig(fxpOn, ""), `root = "{{DIR}}/alice"`,
		"root = \"alice/\"\nbackend = \"s3\"", 1)+`
[s3]
endpoint = "`+store.Endpoint+`"
bucket = "ftp"
path_style = true
part_size = "5MiB"
upload_memory = "10MiB"
`)
	b := startServer(t, hostB, pairConfig(fxpOn, ""))
	data := randomBytes(t, 11<<20+5)
	s3test.Put(t, st, "alice/src", data)
	ca := a.dial(client1, "alice", testPass)
	cb := b.dial(client1, "alice", testPass)
	if r := fxpCopy(t, ca, cb, "src", "copy", true, false); !r.ok() {
		t.Fatalf("FXP S3 -> os: %v", r)
	}
	if got := fileSHA(t, b.root("alice")+"/copy"); got != sha(data) {
		t.Fatal("FXP S3 -> os: copy differs")
	}
	if r := fxpCopy(t, cb, ca, "copy", "back", false, false); !r.ok() {
		t.Fatalf("FXP os -> S3: %v", r)
	}
	var back bytes.Buffer
	if _, err := ca.Retr("back", &back); err != nil || sha(back.Bytes()) != sha(data) {
		t.Fatalf("FXP os -> S3: %d bytes back, %v", back.Len(), err)
	}
}

// TestS3CheckConfig: -check-config and a start check the store and say
// which step failed.
func TestS3CheckConfig(t *testing.T) {
	store := s3test.Start(t)
	_ = store.Store(t, "ftp", 5<<20, 10<<20)
	load := func(bucket string) *conf.Config {
		dir := t.TempDir()
		text := strings.ReplaceAll(strings.ReplaceAll(s3Config(store.Endpoint, ""), "{{DIR}}", dir), "{{HOST}}", hostA)
		text = strings.Replace(text, `bucket = "ftp"`, `bucket = "`+bucket+`"`, 1)
		path := dir + "/ftpd.toml"
		writeFile(t, path, []byte(text))
		cfg, err := conf.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if err := server.Check(load("ftp"), nil); err != nil {
		t.Fatalf("check of a good store: %v", err)
	}
	err := server.Check(load("missing"), nil)
	if err == nil || !strings.Contains(err.Error(), `bucket "missing" does not exist`) {
		t.Fatalf("check of a missing bucket: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	err = server.Check(load("ftp"), nil)
	if err == nil || !strings.Contains(err.Error(), "secret key is wrong") {
		t.Fatalf("check with a wrong secret: %v", err)
	}
	srv, err := server.New(load("ftp"), server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "secret key is wrong") {
		t.Fatalf("start with a wrong secret: %v", err)
	}
}

// TestS3StorResetKeepsOld: a client that resets its data connection in
// the middle of a STOR (after a part was sent), and one that ends short
// of its ALLO, leave the old object as it was and no multipart upload.
func TestS3StorResetKeepsOld(t *testing.T) {
	in, _, st := startS3Server(t, hostA, "")
	s3test.Put(t, st, "sam/f", []byte("old"))
	c := in.dial(client1, "sam", testPass)
	conn := openStor(t, c, client1, "STOR", "f")
	if _, err := conn.Write(randomBytes(t, 7<<20)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a multipart upload in progress", func() bool { return len(s3test.Uploads(t, st)) == 1 })
	_ = conn.SetLinger(0)
	conn.Close()
	n, msg, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if n == 226 {
		t.Fatalf("reset STOR answered %d %s", n, msg)
	}
	code(t, c, "ALLO 8388608")
	short := openStor(t, c, client1, "STOR", "f")
	if _, err := short.Write(randomBytes(t, 6<<20)); err != nil {
		t.Fatal(err)
	}
	short.Close()
	if n, msg, _ := c.ReadReply(); n != 451 {
		t.Fatalf("short STOR answered %d %s, want 451", n, msg)
	}
	var got bytes.Buffer
	if _, err := c.Retr("f", &got); err != nil || got.String() != "old" {
		t.Fatalf("after a reset and a short STOR: %q, %v; want the old object", got.String(), err)
	}
	eventually(t, 30*time.Second, "no multipart upload left", func() bool { return len(s3test.Uploads(t, st)) == 0 })
}
