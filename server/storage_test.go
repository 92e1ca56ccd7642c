package server

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ftpd/ftpd/conf"
)

// TestCheckTouchesS3OnlyForS3Users: -check-config (and a start, through
// the same storage registry) sends nothing to the [s3] endpoint when no
// user is on S3; with one S3 user it checks the store there.
func TestCheckTouchesS3OnlyForS3Users(t *testing.T) {
	// Static credentials, and no instance-metadata lookup: the SDK must
	// talk to nothing but the endpoint below.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusForbidden)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	base := fmt.Sprintf(`
[server]
listen = "127.0.0.2:0"
[s3]
endpoint = "http://%s"
bucket = "ftp"
path_style = true
[[users]]
name = "a"
password = "x"
root = %q
[[users]]
name = "m"
password = "x"
backend = "memory"
root = "m"
`, ln.Addr(), filepath.Join(dir, "a"))
	cfg, err := conf.Parse("t.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(cfg, nil); err != nil {
		t.Fatalf("check without S3 user: %v", err)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("check without S3 user sent %d requests to the S3 endpoint", n)
	}

	cfg, err = conf.Parse("t.toml", []byte(base+"[[users]]\nname = \"s\"\npassword = \"x\"\nbackend = \"s3\"\nroot = \"s/\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "t.toml: [s3] bucket \"ftp\"") {
		t.Fatalf("check with an S3 user on a store that refuses: %v", err)
	}
	if requests.Load() == 0 {
		t.Fatal("check with an S3 user sent nothing to the S3 endpoint")
	}
}
