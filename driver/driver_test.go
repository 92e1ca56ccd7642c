package driver

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"
)

func TestNewValidates(t *testing.T) {
	if _, err := New(nil, Options{Hooks: &fakeHooks{}}); err == nil {
		t.Error("New(nil storage) succeeded")
	}
	if _, err := New(afero.NewMemMapFs(), Options{}); err == nil {
		t.Error("New without hooks succeeded")
	}
	d, err := New(afero.NewMemMapFs(), Options{Hooks: &fakeHooks{}})
	if err != nil {
		t.Fatal(err)
	}
	if d.opts.Now == nil || d.opts.Context == nil {
		t.Fatal("defaults for Now and Context not set")
	}
	if d.ReadOnly() {
		t.Fatal("ReadOnly() true by default")
	}
	ro, err := New(afero.NewMemMapFs(), Options{Hooks: &fakeHooks{}, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ro.ReadOnly() {
		t.Fatal("ReadOnly() false for a read-only FS")
	}
}

func TestFSReadOnly(t *testing.T) {
	d, hooks, root := newRootDriver(t, true)
	writeFile(t, filepath.Join(root, "file"), []byte("content"))
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "file"), mt, mt); err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	wantRO := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: err = %v, want ErrReadOnly", op, err)
		}
		var pe *os.PathError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%s: err %T is not a *os.PathError", op, err)
		}
	}
	wantROFile := func(op string, f afero.File, err error) {
		t.Helper()
		if f != nil {
			f.Close()
			t.Errorf("%s returned a file", op)
		}
		wantRO(op, err)
	}

	f, err := d.Create("new")
	wantROFile("Create(new)", f, err)
	f, err = d.Create("file")
	wantROFile("Create(file)", f, err)
	for _, flag := range []int{
		os.O_WRONLY,
		os.O_RDWR,
		os.O_CREATE,
		os.O_RDONLY | os.O_TRUNC,
		os.O_RDONLY | os.O_APPEND,
		os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
		os.O_WRONLY | os.O_CREATE | os.O_APPEND,
		os.O_RDWR | os.O_CREATE | os.O_EXCL,
	} {
		f, err := d.OpenFile("file", flag, 0o644)
		wantROFile("OpenFile(file)", f, err)
		f, err = d.OpenFile("new", flag, 0o644)
		wantROFile("OpenFile(new)", f, err)
	}
	wantRO("Mkdir", d.Mkdir("newdir", 0o755))
	wantRO("MkdirAll", d.MkdirAll("a/b/c", 0o755))
	wantRO("Remove(file)", d.Remove("file"))
	wantRO("Remove(dir)", d.Remove("dir"))
	wantRO("RemoveAll", d.RemoveAll("dir"))
	wantRO("RemoveAll(/)", d.RemoveAll("/"))
	wantRO("Rename", d.Rename("file", "renamed"))
	wantRO("Chmod", d.Chmod("file", 0o777))
	wantRO("Chown", d.Chown("file", os.Getuid(), os.Getgid()))
	wantRO("Chtimes", d.Chtimes("file", now, now))
	for _, flag := range []int{
		os.O_WRONLY,
		os.O_RDWR,
		os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
		os.O_WRONLY | os.O_CREATE,
		os.O_WRONLY | os.O_CREATE | os.O_APPEND,
	} {
		for _, name := range []string{"file", "new"} {
			h, err := d.OpenTransfer(name, flag, 0)
			if h != nil {
				h.Close()
				t.Errorf("OpenTransfer(%s, %#x) returned a handle", name, flag)
			}
			wantRO("OpenTransfer(upload)", err)
		}
	}

	// Nothing changed on disk.
	if got := readFile(t, filepath.Join(root, "file")); string(got) != "content" {
		t.Fatalf("file content = %q", got)
	}
	info, err := os.Stat(filepath.Join(root, "file"))
	if err != nil || !info.ModTime().Equal(mt) || info.Mode().Perm() != 0o644 {
		t.Fatalf("file metadata changed: %v %v", info, err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("root has %d entries, want 2 (file, dir)", len(entries))
	}
	if n := len(hooks.doneCalls()) + len(hooks.authCalls()); n != 0 {
		t.Fatalf("hooks called %d times", n)
	}

	// Reads still work.
	f, err = d.Open("file")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(b) != "content" {
		t.Fatalf("Open/read = %q, %v", b, err)
	}
	f, err = d.OpenFile("file", os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("OpenFile(O_RDONLY): %v", err)
	}
	f.Close()
	if info, err := d.Stat("file"); err != nil || info.Size() != 7 {
		t.Fatalf("Stat = %v, %v", info, err)
	}
	dir, err := d.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil || len(names) != 2 {
		t.Fatalf("listing = %v, %v", names, err)
	}
	if d.Name() != "RootFs" { // the partial-file filter is transparent
		t.Fatalf("Name = %q", d.Name())
	}

	// And so does a download.
	h, err := d.OpenTransfer("file", os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("OpenTransfer(RETR) on read-only FS: %v", err)
	}
	server, client := tcpPair(t)
	got := receiveAsync(client)
	if _, err := io.Copy(server, h); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if r := waitReceived(t, got); string(r.data) != "content" {
		t.Fatalf("received %q, %v", r.data, r.err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hooks.oneDone(t); err != nil {
		t.Fatalf("Done(%v)", err)
	}
}

func TestFSWritesPassThrough(t *testing.T) {
	d, _, root := newRootDriver(t, false)
	f, err := d.Create("/a")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("a"))
	f.Close()
	f, err = d.OpenFile("/a", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("b"))
	f.Close()
	if err := d.MkdirAll("/x/y", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Mkdir("/x/z", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Rename("/a", "/x/y/a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Chmod("/x/y/a", 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []os.FileMode{os.ModeSetuid | 0o755, os.ModeSetgid | 0o777, os.ModeSticky | 0o777, os.ModeDir | 0o755} {
		if err := d.Chmod("/x/y/a", bad); !errors.Is(err, ErrModeBits) {
			t.Fatalf("Chmod(%v) = %v, want ErrModeBits", bad, err)
		}
	}
	mt := time.Date(2015, 5, 5, 5, 5, 5, 0, time.UTC)
	if err := d.Chtimes("/x/y/a", mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := d.Chown("/x/y/a", os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(root, "x", "y", "a"))
	if err != nil || info.Mode().Perm() != 0o600 || !info.ModTime().Equal(mt) {
		t.Fatalf("stat = %v, %v", info, err)
	}
	if got := readFile(t, filepath.Join(root, "x", "y", "a")); string(got) != "ab" {
		t.Fatalf("content = %q", got)
	}
	if err := d.Remove("/x/z"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAll("/x"); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, "x"))
	if err := d.RemoveAll("/"); err == nil {
		t.Fatal("RemoveAll(/) through the driver succeeded")
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatal(err)
	}
}
