// Package s3test starts a real S3 server (versitygw) for tests. It is
// found on PATH or in $FTPD_PEERS_DIR/bin (default /opt/ftpd-peers/bin,
// where .ci/install-peers puts it); a test is skipped when it is absent,
// and fails instead under CI=true.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ftpd/ftpd/storage/s3store"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Dir       string // its posix root: objects are files under Dir/BUCKET/
	bin, addr string
	mu        sync.Mutex
	cmd       *exec.Cmd
}

// Binary finds versitygw or skips (fails under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	dir := os.Getenv("FTPD_PEERS_DIR")
	if dir == "" {
		dir = "/opt/ftpd-peers"
	}
	p := filepath.Join(dir, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := "versitygw not found on PATH or in " + filepath.Join(dir, "bin") + ": run .ci/install-peers"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing program is a failure)")
	}
	t.Skip(msg)
	return ""
}

// Start runs versitygw on a free loopback port with access key "k" and
// secret "s" (also set in the test's AWS_* environment) and stops it at
// the test's end.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir() // /tmp: extended attributes work there
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := &Server{Endpoint: "http://" + addr, Dir: dir, bin: bin, addr: addr}
	t.Cleanup(srv.Kill)
	srv.run(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv
}

// Restart starts the server again on the same address and directory
// (after Kill): what it stored is still there.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.run(t)
}

func (s *Server) run(t testing.TB) {
	t.Helper()
	addr := s.addr
	cmd := exec.Command(s.bin, "-p", addr, "-q", "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=k", "ROOT_SECRET_KEY=s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second) // start-up, generous for a loaded machine
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Put stores an object directly (test fixtures).
func Put(t testing.TB, st *s3store.Store, key string, body []byte) {
	t.Helper()
	_, err := st.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(st.Bucket()), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// Get reads an object directly.
func Get(t testing.TB, st *s3store.Store, key string) ([]byte, error) {
	t.Helper()
	out, err := st.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Exists reports whether key is an object.
func Exists(t testing.TB, st *s3store.Store, key string) bool {
	t.Helper()
	_, err := st.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key)})
	return err == nil
}

// Store connects a Store with the given part size and budget to a new
// bucket.
func (s *Server) Store(t testing.TB, bucket string, partSize, memory int64) *s3store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{
		Endpoint: s.Endpoint, Region: "us-east-1", Bucket: bucket, PathStyle: true,
		PartSize: partSize, UploadMemory: memory,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	return st
}

// Uploads lists the bucket's multipart uploads in progress.
func Uploads(t testing.TB, st *s3store.Store) []string {
	t.Helper()
	out, err := st.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(st.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, fmt.Sprintf("%s(%s)", aws.ToString(u.Key), aws.ToString(u.UploadId)))
	}
	return keys
}
