package driver

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

func openRoot(t *testing.T, dir string) *RootFs {
	t.Helper()
	r, err := OpenRootFs(dir)
	if err != nil {
		t.Fatalf("OpenRootFs(%s): %v", dir, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func readAll(t *testing.T, fs afero.Fs, name string) ([]byte, error) {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func TestRel(t *testing.T) {
	cases := map[string]string{
		"":                    ".",
		"/":                   ".",
		".":                   ".",
		"..":                  ".",
		"/..":                 ".",
		"../..":               ".",
		"/./":                 ".",
		"a":                   "a",
		"/a/b":                "a/b",
		"a/b/":                "a/b",
		"//a//b":              "a/b",
		"a/../b":              "b",
		"a/../../b":           "b",
		"../../etc/passwd":    "etc/passwd",
		"/../x":               "x",
		"/etc/passwd":         "etc/passwd",
		`..\..\etc\passwd`:    `..\..\etc\passwd`, // a backslash is part of a name
		`\etc\passwd`:         `\etc\passwd`,
		`a\..\b`:              `a\..\b`,
		"a/./b/../c":          "a/c",
		"/a/b/../../../../..": ".",
	}
	for in, want := range cases {
		if got := rel(in); got != want {
			t.Errorf("rel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRootFsCreatesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "root")
	r := openRoot(t, dir)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		t.Fatalf("root not created: %v %v", info, err)
	}
	if r.Name() != "RootFs" {
		t.Errorf("Name() = %q", r.Name())
	}
	// It is usable at once.
	if err := afero.WriteFile(r, "/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "f")); string(got) != "x" {
		t.Fatalf("got %q", got)
	}
}

func TestOpenRootFsErrors(t *testing.T) {
	if _, err := OpenRootFs(""); err == nil {
		t.Error("OpenRootFs(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	if r, err := OpenRootFs(file); err == nil {
		r.Close()
		t.Error("OpenRootFs(regular file) succeeded")
	}
	if r, err := OpenRootFs(filepath.Join(file, "sub")); err == nil {
		r.Close()
		t.Error("OpenRootFs(below a regular file) succeeded")
	}
}

func TestRootFsClose(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	r, err := OpenRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err := r.Open("f"); err == nil {
		f.Close()
		t.Fatal("Open after Close succeeded")
	}
}

// The dot-dot and absolute names resolve inside the root.
func TestRootFsDotDotAndAbsoluteStayInside(t *testing.T) {
	s := newSentinel(t)
	base := t.TempDir()
	root := filepath.Join(base, "jail", "root")
	r := openRoot(t, root)
	// A file next to the root, reachable with one "..": must not be seen.
	outsideNeighbour := filepath.Join(base, "jail", "neighbour")
	writeFile(t, outsideNeighbour, s.data)

	for _, name := range []string{"../../etc/passwd", "/../etc/passwd", "/etc/passwd", `..\..\etc\passwd`} {
		if f, err := r.Open(name); !errors.Is(err, os.ErrNotExist) {
			if f != nil {
				f.Close()
			}
			t.Fatalf("Open(%q) before the jailed file exists: err=%v, want ErrNotExist", name, err)
		}
		if _, err := r.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Stat(%q): err=%v, want ErrNotExist", name, err)
		}
	}
	for _, name := range []string{"../neighbour", "/../neighbour", "../../jail/neighbour"} {
		if b, err := readAll(t, r, name); err == nil {
			s.noLeak(t, "Open("+name+")", b)
			t.Fatalf("Open(%q) found a file: %q", name, b)
		}
	}

	writeFile(t, filepath.Join(root, "etc", "passwd"), []byte("JAILED"))
	for _, name := range []string{"../../etc/passwd", "/../etc/passwd", "/etc/passwd", "etc/passwd", "/etc/../etc/./passwd"} {
		b, err := readAll(t, r, name)
		if err != nil || string(b) != "JAILED" {
			t.Fatalf("Open(%q) = %q, %v; want the jailed copy", name, b, err)
		}
		info, err := r.Stat(name)
		if err != nil || info.Size() != int64(len("JAILED")) {
			t.Fatalf("Stat(%q) = %v, %v", name, info, err)
		}
	}

	// Writes with escaping names land inside too.
	if err := afero.WriteFile(r, "/../x", []byte("X"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "x")); string(got) != "X" {
		t.Fatalf("root/x = %q", got)
	}
	mustNotExist(t, filepath.Join(base, "jail", "x"))
	mustNotExist(t, filepath.Join(base, "x"))

	f, err := r.Create("../../created")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "created")); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(base, "created"))

	if err := r.Mkdir("../../d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.MkdirAll("/../../e/f", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "e/f"} {
		if info, err := os.Stat(filepath.Join(root, p)); err != nil || !info.IsDir() {
			t.Fatalf("%s not created inside: %v", p, err)
		}
	}
	mustNotExist(t, filepath.Join(base, "d"))
	mustNotExist(t, filepath.Join(base, "e"))

	if err := r.Rename("/../x", "../../../renamed"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "renamed")); string(got) != "X" {
		t.Fatalf("renamed = %q", got)
	}
	mustNotExist(t, filepath.Join(base, "renamed"))

	// Remove with ".." removes the jailed file, not the neighbour.
	if err := r.Remove("../neighbour"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remove(../neighbour) = %v, want ErrNotExist", err)
	}
	if err := r.RemoveAll("../../jail"); err != nil {
		t.Fatalf("RemoveAll(../../jail) = %v (a missing path is not an error)", err)
	}
	if got := readFile(t, outsideNeighbour); !bytes.Equal(got, s.data) {
		t.Fatal("neighbour changed")
	}
	if err := r.Remove("/../etc/passwd"); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, "etc", "passwd"))
	s.check(t)
}

// escapeLinks creates, inside root, symlinks that lead to the sentinel or
// its directory by absolute and by relative ("../..") targets, plus
// dangling ones whose targets would be created outside. It returns the
// names of the file links and of the directory links.
func escapeLinks(t *testing.T, root string, s *sentinel) (files, dirs, dangling []string) {
	t.Helper()
	relTo := func(target string) string {
		r, err := filepath.Rel(root, target)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	links := map[string]string{
		"abs":            s.path,
		"rel":            relTo(s.path),
		"absdir":         s.dir,
		"reldir":         relTo(s.dir),
		"up":             "../..",
		"sub/deep":       "../" + relTo(s.path),
		"dangling-abs":   filepath.Join(s.dir, "created-outside"),
		"dangling-rel":   relTo(filepath.Join(s.dir, "created-outside")),
		"dangling-parts": "../../../../../../../../../../../../" + filepath.Join(s.dir, "x"),
	}
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	// "up" leads to the directory two levels above the root; from there the
	// sentinel is reached by the rest of its path.
	up, err := filepath.Rel(filepath.Dir(filepath.Dir(root)), s.path)
	if err != nil {
		t.Fatal(err)
	}
	files = []string{"abs", "rel", "/abs", "../rel", "sub/deep", "absdir/secret", "reldir/secret", "/reldir/../reldir/secret", "up/" + filepath.ToSlash(up)}
	dirs = []string{"absdir", "reldir", "up"}
	dangling = []string{"dangling-abs", "dangling-rel", "dangling-parts", "absdir/new-outside", "reldir/new-outside"}
	return files, dirs, dangling
}

func TestRootFsSymlinksLeavingRootAreRefused(t *testing.T) {
	s := newSentinel(t)
	root := t.TempDir()
	r := openRoot(t, root)
	files, dirs, dangling := escapeLinks(t, root, s)
	writeFile(t, filepath.Join(root, "inside"), []byte("inside"))
	now := time.Now()

	for _, name := range files {
		t.Run("file "+name, func(t *testing.T) {
			if b, err := readAll(t, r, name); err == nil {
				s.noLeak(t, "Open", b)
				t.Fatalf("Open succeeded: %q", b)
			}
			if info, err := r.Stat(name); err == nil {
				t.Fatalf("Stat succeeded: size %d mode %v", info.Size(), info.Mode())
			}
			for _, flag := range []int{
				os.O_RDONLY,
				os.O_WRONLY,
				os.O_WRONLY | os.O_TRUNC,
				os.O_RDWR | os.O_CREATE,
				os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
				os.O_WRONLY | os.O_APPEND,
			} {
				f, err := r.OpenFile(name, flag, 0o666)
				if err == nil {
					f.Write([]byte("pwned"))
					f.Close()
					t.Fatalf("OpenFile(flag %#x) succeeded", flag)
				}
				if f != nil {
					t.Fatalf("OpenFile returned a non-nil file with error %v", err)
				}
			}
			if f, err := r.Create(name); err == nil {
				f.Close()
				t.Fatal("Create succeeded")
			}
			if err := r.Chmod(name, 0o777); err == nil {
				t.Fatal("Chmod succeeded")
			}
			if err := r.Chtimes(name, now, now); err == nil {
				t.Fatal("Chtimes succeeded")
			}
			if err := r.Chown(name, os.Getuid(), os.Getgid()); err == nil {
				t.Fatal("Chown succeeded")
			}
			// Moving the outside file (reached through an escaping
			// directory link) into the root would reveal it. (Renaming a
			// link itself just moves the link: see "rename onto link".)
			if first, _, _ := strings.Cut(rel(name), "/"); first == "absdir" || first == "reldir" || first == "up" {
				if err := r.Rename(name, "stolen"); err == nil {
					t.Fatal("Rename of a file behind an escaping directory link succeeded")
				}
				if info, err := os.Lstat(filepath.Join(root, "stolen")); err == nil {
					t.Fatalf("Rename created %v in the root", info.Mode())
				}
			}
			s.check(t)
		})
	}

	for _, name := range dangling {
		t.Run("dangling "+name, func(t *testing.T) {
			for _, flag := range []int{os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_EXCL} {
				if f, err := r.OpenFile(name, flag, 0o666); err == nil {
					f.Close()
					t.Fatalf("OpenFile(flag %#x) succeeded", flag)
				}
			}
			if f, err := r.Create(name); err == nil {
				f.Close()
				t.Fatal("Create succeeded")
			}
			if err := r.Mkdir(name+"-dir", 0o755); err == nil && filepath.Dir(name) != "." {
				t.Fatal("Mkdir through an escaping link succeeded")
			}
			s.check(t)
		})
	}

	for _, name := range dirs {
		t.Run("dir "+name, func(t *testing.T) {
			if err := r.Mkdir(name+"/newdir", 0o755); err == nil {
				t.Fatal("Mkdir below an escaping link succeeded")
			}
			if err := r.MkdirAll(name+"/a/b", 0o755); err == nil {
				t.Fatal("MkdirAll below an escaping link succeeded")
			}
			if err := r.Rename("inside", name+"/moved"); err == nil {
				t.Fatal("Rename into an escaping link succeeded")
			}
			if _, err := os.Stat(filepath.Join(root, "inside")); err != nil {
				t.Fatalf("source of refused rename gone: %v", err)
			}
			if f, err := r.Open(name); err == nil {
				names, _ := f.Readdirnames(-1)
				f.Close()
				t.Fatalf("Open(dir link) succeeded, listing %v", names)
			}
			if err := r.Remove(name + "/secret"); err == nil {
				t.Fatal("Remove below an escaping link succeeded")
			}
			if err := r.RemoveAll(name + "/secret"); err == nil {
				t.Fatal("RemoveAll below an escaping link succeeded")
			}
			s.check(t)
		})
	}

	// Operations on the links themselves act on the links, never on what
	// they point to.
	t.Run("rename onto link", func(t *testing.T) {
		writeFile(t, filepath.Join(root, "victim"), []byte("victim"))
		if err := r.Rename("victim", "abs"); err == nil {
			info, err := os.Lstat(filepath.Join(root, "abs"))
			if err != nil || !info.Mode().IsRegular() {
				t.Fatalf("after Rename onto link: %v %v", info, err)
			}
			if got := readFile(t, filepath.Join(root, "abs")); string(got) != "victim" {
				t.Fatalf("abs = %q", got)
			}
		}
		writeFile(t, filepath.Join(root, "victim2"), []byte("victim2"))
		_ = r.Rename("victim2", "/../rel")
		writeFile(t, filepath.Join(root, "victim3"), []byte("victim3"))
		_ = r.Rename("victim3", "dangling-abs")
		s.check(t)
	})
	t.Run("remove links", func(t *testing.T) {
		for _, name := range []string{"rel", "sub/deep", "dangling-rel"} {
			if err := r.Remove(name); err != nil {
				t.Fatalf("Remove(%s): %v", name, err)
			}
			mustNotExist(t, filepath.Join(root, name))
		}
		for _, name := range []string{"absdir", "reldir", "up", "dangling-parts"} {
			if err := r.RemoveAll(name); err != nil {
				t.Fatalf("RemoveAll(%s): %v", name, err)
			}
			mustNotExist(t, filepath.Join(root, name))
		}
		s.check(t)
	})
	s.check(t)
}

// The same refusals seen through the driver FS and its transfer handles.
func TestFSSymlinksLeavingRootAreRefused(t *testing.T) {
	s := newSentinel(t)
	d, hooks, root := newRootDriver(t, false)
	files, _, dangling := escapeLinks(t, root, s)
	for _, name := range append(files, dangling...) {
		if h, err := d.OpenTransfer(name, os.O_RDONLY, 0); err == nil {
			h.Close()
			t.Fatalf("OpenTransfer(%s, RETR) succeeded", name)
		}
		for _, flag := range []int{os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_APPEND, os.O_WRONLY | os.O_CREATE} {
			if h, err := d.OpenTransfer(name, flag, 0); err == nil {
				h.Close()
				t.Fatalf("OpenTransfer(%s, %#x) succeeded", name, flag)
			}
		}
		s.check(t)
	}
	if n := len(hooks.doneCalls()); n != 0 {
		t.Fatalf("Done called %d times for handles never opened", n)
	}
}

func TestRootFsSymlinkInsideRootWorks(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	writeFile(t, filepath.Join(root, "sub", "file"), []byte("target"))
	for name, target := range map[string]string{
		"link":       "sub/file",
		"sub/same":   "file",
		"sub/up":     "../sub/file",
		"dirlink":    "sub",
		"sub/parent": "..",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"link", "/link", "sub/same", "sub/up", "dirlink/file", "sub/parent/sub/file", "../link"} {
		b, err := readAll(t, r, name)
		if err != nil || string(b) != "target" {
			t.Fatalf("Open(%s) = %q, %v", name, b, err)
		}
		info, err := r.Stat(name)
		if err != nil || info.Size() != 6 || !info.Mode().IsRegular() {
			t.Fatalf("Stat(%s) = %v, %v", name, info, err)
		}
	}
	// Writing through a link that stays inside writes the target.
	if err := afero.WriteFile(r, "dirlink/file", []byte("rewritten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "sub", "file")); string(got) != "rewritten" {
		t.Fatalf("target = %q", got)
	}
	if err := r.Mkdir("dirlink/newdir", 0o755); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(root, "sub", "newdir")); err != nil || !info.IsDir() {
		t.Fatalf("newdir: %v", err)
	}
}

func TestRootFsRemoveRootRefused(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	writeFile(t, filepath.Join(root, "keep", "file"), []byte("keep"))
	for _, name := range []string{"/", "", ".", "..", "/..", "../..", "/./", "a/.."} {
		if err := r.Remove(name); !errors.Is(err, os.ErrPermission) {
			t.Errorf("Remove(%q) = %v, want ErrPermission", name, err)
		}
		if err := r.RemoveAll(name); !errors.Is(err, os.ErrPermission) {
			t.Errorf("RemoveAll(%q) = %v, want ErrPermission", name, err)
		}
	}
	if err := r.Rename("/", "moved"); err == nil {
		t.Error("Rename(/, moved) succeeded")
	}
	if err := r.Rename("keep", "/"); err == nil {
		t.Error("Rename(keep, /) succeeded")
	}
	if got := readFile(t, filepath.Join(root, "keep", "file")); string(got) != "keep" {
		t.Fatalf("content changed: %q", got)
	}
	// The root can still be listed.
	f, err := r.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil || len(names) != 1 || names[0] != "keep" {
		t.Fatalf("listing = %v, %v", names, err)
	}
}

func TestRootFsOperations(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)

	f, err := r.Create("/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	f.Close()

	f, err = r.OpenFile("a.txt", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(" world"))
	f.Close()
	if got := readFile(t, filepath.Join(root, "a.txt")); string(got) != "hello world" {
		t.Fatalf("got %q", got)
	}

	if err := r.Mkdir("/dir", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := r.Mkdir("/dir", 0o750); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second Mkdir = %v", err)
	}
	if err := r.MkdirAll("/dir/x/y", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Rename("/a.txt", "/dir/x/b.txt"); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, "a.txt"))

	if err := r.Chmod("/dir/x/b.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := r.Chtimes("/dir/x/b.txt", mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := r.Chown("/dir/x/b.txt", os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	info, err := r.Stat("dir/x/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || !info.ModTime().Equal(mt) || info.Size() != 11 || info.Name() != "b.txt" {
		t.Fatalf("stat = %v %v %d %q", info.Mode(), info.ModTime(), info.Size(), info.Name())
	}

	if err := r.Remove("/dir"); err == nil {
		t.Fatal("Remove of a non-empty directory succeeded")
	}
	if err := r.Remove("/dir/x/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("/dir/x/b.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second Remove = %v", err)
	}
	if err := r.RemoveAll("/dir"); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, "dir"))

	// Errors come back as a nil interface, not a typed nil *os.File.
	f, err = r.Open("/missing")
	if err == nil || f != nil {
		t.Fatalf("Open(missing) = %v, %v", f, err)
	}
	f, err = r.OpenFile("/missing/x", os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil || f != nil {
		t.Fatalf("OpenFile(missing dir) = %v, %v", f, err)
	}
	f, err = r.Create("/missing/x")
	if err == nil || f != nil {
		t.Fatalf("Create(missing dir) = %v, %v", f, err)
	}
}

// RootFs hands out plain *os.File values: the precondition for sendfile
// and splice in the transfer path.
func TestRootFsReturnsOSFiles(t *testing.T) {
	root := t.TempDir()
	r := openRoot(t, root)
	writeFile(t, filepath.Join(root, "f"), []byte("x"))
	check := func(what string, f afero.File, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer f.Close()
		if _, ok := f.(*os.File); !ok {
			t.Fatalf("%s returned %T, want *os.File", what, f)
		}
	}
	f, err := r.Open("f")
	check("Open", f, err)
	f, err = r.OpenFile("f", os.O_WRONLY, 0)
	check("OpenFile", f, err)
	f, err = r.Create("g")
	check("Create", f, err)

	d, _, droot := newRootDriver(t, false)
	writeFile(t, filepath.Join(droot, "f"), []byte("x"))
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_CREATE | os.O_TRUNC} {
		h, err := d.OpenTransfer("f", flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h.file.(*os.File); !ok {
			t.Fatalf("handle file is %T, want *os.File", h.file)
		}
		if osf := h.file.(*os.File); flag != os.O_RDONLY {
			// Opened without O_APPEND, or splice is off.
			fl, err := fcntlFlags(osf)
			if err == nil && fl&os.O_APPEND != 0 {
				t.Fatal("upload opened with O_APPEND")
			}
		}
		h.Close()
	}
}
