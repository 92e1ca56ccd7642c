package osstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage/osstore"
)

// Sessions on the same root share one open root; the last release closes
// it, and the next session opens it again.
func TestSharedRoot(t *testing.T) {
	dir := t.TempDir()
	u := &conf.User{Name: "a", Root: dir}
	b := osstore.New(&conf.Config{Users: []conf.User{*u}}, nil, nil)
	fs1, rel1, err := b.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	fs2, rel2, err := b.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if fs1 != fs2 {
		t.Fatal("two sessions on one root got two roots")
	}
	if err := rel1(); err != nil {
		t.Fatal(err)
	}
	if err := rel1(); err != nil { // a second release is a no-op
		t.Fatal(err)
	}
	if err := afero.WriteFile(fs2, "f", []byte("x"), 0o644); err != nil {
		t.Fatalf("root closed while a session still uses it: %v", err)
	}
	if err := rel2(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs2.Stat("f"); err == nil {
		t.Fatal("root still open after its last release")
	}
	fs3, rel3, err := b.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer rel3()
	if fs3 == fs1 {
		t.Fatal("a closed root was handed out again")
	}
	if _, err := fs3.Stat("f"); err != nil {
		t.Fatal(err)
	}
}

// The sweep visits each root once, skips a root that does not exist yet,
// and logs its total.
func TestSweepRoots(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	cfg := &conf.Config{Users: []conf.User{
		{Name: "a", Root: dir},
		{Name: "b", Root: dir},
		{Name: "c", Root: filepath.Join(dir, "missing")},
		{Name: "m", Root: "m", Backend: conf.BackendMemory},
	}}
	now := time.Now()
	b := osstore.New(cfg, slog.New(slog.NewTextHandler(&log, nil)), func() time.Time { return now })
	n, err := b.Sweep(context.Background())
	if n != 0 || err != nil {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if !strings.Contains(log.String(), `msg="partial uploads swept at start" removed=0 roots=2`) {
		t.Fatalf("sweep log:\n%s", log.String())
	}
}

// -check-config creates no root; a start does.
func TestCheckRoot(t *testing.T) {
	u := &conf.User{Name: "a", Root: filepath.Join(t.TempDir(), "x", "y")}
	b := osstore.New(&conf.Config{}, nil, nil)
	if err := b.CheckRoot(u, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(u.Root); !os.IsNotExist(err) {
		t.Fatalf("a check created the root: %v", err)
	}
	if err := b.CheckRoot(u, true); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(u.Root); err != nil || !info.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.CheckRoot(&conf.User{Root: filepath.Join(file, "sub")}, false); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("root under a file: %v", err)
	}
}
