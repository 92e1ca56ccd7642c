package listing

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRelativeTo(t *testing.T) {
	for _, c := range []struct{ dir, target, want string }{
		{"/", "/", ""},
		{"/", "/a", "a"},
		{"/a", "/a", ""},
		{"/a", "/a/b/c", "b/c"},
		{"/a/b", "/a", "../"},
		{"/a/b", "/a/c", "../c"},
		{"/a/b", "/a/bc", "../bc"},
		{"/a/b/c", "/", "../../../"},
		{"/a/b/c", "/x/y", "../../../x/y"},
	} {
		if got := RelativeTo(c.dir, c.target); got != c.want {
			t.Errorf("RelativeTo(%q, %q) = %q, want %q", c.dir, c.target, got, c.want)
		}
	}
}

type fi struct {
	name string
	dir  bool
}

func (f fi) Name() string       { return f.name }
func (f fi) Size() int64        { return 7 }
func (f fi) Mode() os.FileMode  { return 0o644 }
func (f fi) ModTime() time.Time { return time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC) }
func (f fi) IsDir() bool        { return f.dir }
func (f fi) Sys() any           { return nil }

// pages is a Dir of fixed pages, then err (io.EOF when nil).
type pages struct {
	p   [][]os.FileInfo
	err error
}

func (d *pages) Readdir(int) ([]os.FileInfo, error) {
	if len(d.p) == 0 {
		if d.err != nil {
			return nil, d.err
		}
		return nil, io.EOF
	}
	p := d.p[0]
	d.p = d.p[1:]
	return p, nil
}

func (d *pages) Close() error { return nil }

// TestStreamReadError: a storage error after the first page is a
// *ReadError, with the first page written.
func TestStreamReadError(t *testing.T) {
	store := errors.New("store down")
	l := &Listing{Verb: "NLST", Parent: "d", Dir: &pages{p: [][]os.FileInfo{{fi{name: "a"}, fi{name: "b"}}}, err: store}}
	var out bytes.Buffer
	n, err := l.Stream(&out)
	var re *ReadError
	if n != 2 || !errors.As(err, &re) || !errors.Is(err, store) || out.String() != "d/a\r\nd/b\r\n" {
		t.Fatalf("Stream: %d entries, %v, %q", n, err, out.String())
	}
}

// TestConnPassesOtherWrites: a non-empty write (the library listing a
// file path itself) goes through untouched and drops the listing; an
// empty write streams it.
func TestConnPassesOtherWrites(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	got := make(chan string, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- string(all)
	}()
	done := 0
	l := &Listing{Verb: "MLSD", Dir: &pages{p: [][]os.FileInfo{{fi{name: "x", dir: true}}}}}
	c := NewConn(a, l, func(*Listing, int, error) { done++ })
	if _, err := c.Write([]byte("file line\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(nil); err != nil { // the listing was dropped: nothing more
		t.Fatal(err)
	}
	c.Close()
	if s := <-got; s != "file line\r\n" || done != 0 {
		t.Fatalf("passed %q, done %d", s, done)
	}

	a, b = net.Pipe()
	go func() {
		all, _ := io.ReadAll(b)
		got <- string(all)
	}()
	l = &Listing{Verb: "MLSD", Dir: &pages{p: [][]os.FileInfo{{fi{name: "x", dir: true}}}}}
	c = NewConn(a, l, func(*Listing, int, error) { done++ })
	if _, err := c.Write(nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s := <-got; !strings.HasPrefix(s, "Type=dir;Size=7;Modify=20200102030405; x\r\n") || done != 1 {
		t.Fatalf("streamed %q, done %d", s, done)
	}
}
