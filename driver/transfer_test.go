package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/time/rate"

	"github.com/ftpd/ftpd/acl"
)

var errRefused = errors.New("fxp refused: peer 127.0.0.10 is not allowed")

const (
	flagsRETR     = os.O_RDONLY
	flagsSTOR     = os.O_WRONLY | os.O_CREATE | os.O_TRUNC // what the library asks for a STOR without REST
	flagsSTORRest = os.O_WRONLY | os.O_CREATE              // STOR after REST
	flagsAPPE     = os.O_WRONLY | os.O_CREATE | os.O_APPEND
)

// retr runs a download the way ftpserverlib does: open the handle, seek to
// the REST offset if any, then io.Copy(dataConn, handle) and close the data
// connection. It returns what the client received and the copy's result.
// If the copy succeeded, the client must have read to a clean EOF.
func retr(t *testing.T, d *FS, name string, offset int64) (h *Handle, got []byte, n int64, err error) {
	t.Helper()
	h, got, n, err, recvErr := retrRaw(t, d, name, offset)
	if err == nil && recvErr != nil {
		t.Fatalf("client receive: %v", recvErr)
	}
	return h, got, n, err
}

// retrRaw is retr that also returns the client's receive error.
func retrRaw(t *testing.T, d *FS, name string, offset int64) (h *Handle, got []byte, n int64, err, recvErr error) {
	t.Helper()
	h, err = d.OpenTransfer(name, flagsRETR, offset)
	if err != nil {
		t.Fatalf("OpenTransfer(%s, RETR): %v", name, err)
	}
	if offset != 0 {
		if _, err := h.Seek(offset, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
	}
	server, client := tcpPair(t)
	ch := receiveAsync(client)
	n, err = io.Copy(server, h)
	server.Close()
	r := waitReceived(t, ch)
	return h, r.data, n, err, r.err
}

// stor runs an upload the way ftpserverlib does: open the handle with the
// given flags, seek to the REST offset if any, then io.Copy(handle,
// dataConn) with the client sending data. It returns the copy's result; the
// handle is not closed.
func stor(t *testing.T, d *FS, name string, flags int, offset int64, data []byte) (h *Handle, client *net.TCPConn, n int64, err error) {
	t.Helper()
	h, err = d.OpenTransfer(name, flags, offset)
	if err != nil {
		t.Fatalf("OpenTransfer(%s, %#x): %v", name, flags, err)
	}
	if offset != 0 {
		if _, err := h.Seek(offset, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
	}
	server, client := tcpPair(t)
	sent := sendAsync(client, data)
	n, err = io.Copy(h, server)
	if err == nil && n == 0 {
		// The library's zero-byte case.
		if _, werr := h.Write([]byte{}); werr != nil {
			t.Fatalf("Write(empty): %v", werr)
		}
	}
	server.Close()
	serr := waitErr(t, sent)
	if err == nil && serr != nil {
		t.Fatalf("client send: %v", serr)
	}
	return h, client, n, err
}

func checkAuth(t *testing.T, hooks *fakeHooks, client *net.TCPConn, cmd, path string, dir acl.Direction, offset int64) {
	t.Helper()
	a := hooks.oneAuth(t)
	want := addrPortOf(t, client.LocalAddr())
	if a.Peer != want {
		t.Errorf("Peer = %v, want %v", a.Peer, want)
	}
	if a.Peer.Addr() != netip.MustParseAddr(clientIP) {
		t.Errorf("Peer address = %v, want %s", a.Peer.Addr(), clientIP)
	}
	if a.Command != cmd || a.Path != path || a.Direction != dir || a.Offset != offset {
		t.Errorf("Authorize saw %s %s %v offset %d, want %s %s %v offset %d",
			a.Command, a.Path, a.Direction, a.Offset, cmd, path, dir, offset)
	}
	if !a.Started.Equal(fixedNow) {
		t.Errorf("Started = %v, want the injected clock %v", a.Started, fixedNow)
	}
}

func TestRETRSendsWholeFile(t *testing.T) {
	for _, size := range []int{0, 1, 70_001, chunk, chunk + 12_345} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			d, hooks, root := newRootDriver(t, false)
			data := randomBytes(size, uint64(size))
			writeFile(t, filepath.Join(root, "dir", "file.bin"), data)

			h, err := d.OpenTransfer("/dir/file.bin", flagsRETR, 0)
			if err != nil {
				t.Fatal(err)
			}
			server, client := tcpPair(t)
			ch := receiveAsync(client)

			// Watch the counter from another goroutine while bytes move.
			stop := make(chan struct{})
			var watched sync.WaitGroup
			watched.Go(func() {
				last := int64(0)
				for {
					select {
					case <-stop:
						return
					default:
					}
					b := h.Transfer().Bytes()
					if b < last {
						t.Errorf("Bytes went backwards: %d -> %d", last, b)
						return
					}
					last = b
					time.Sleep(100 * time.Microsecond)
				}
			})

			n, err := h.WriteTo(server)
			close(stop)
			watched.Wait()
			if err != nil {
				t.Fatalf("WriteTo: %v", err)
			}
			server.Close()
			r := waitReceived(t, ch)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if n != int64(size) || len(r.data) != size || sum(r.data) != sum(data) {
				t.Fatalf("sent n=%d, received %d bytes, sha match %v; want %d",
					n, len(r.data), sum(r.data) == sum(data), size)
			}
			if got := h.Transfer().Bytes(); got != int64(size) {
				t.Fatalf("Bytes() = %d, want %d", got, size)
			}
			checkAuth(t, hooks, client, "RETR", "/dir/file.bin", acl.DirectionSend, 0)
			if len(hooks.doneCalls()) != 0 {
				t.Fatal("Done called before Close")
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := hooks.oneDone(t); err != nil {
				t.Fatalf("Done(%v), want nil", err)
			}
			if hooks.doneCalls()[0].t != h.Transfer() {
				t.Fatal("Done got a different Transfer")
			}
			// Closing again reports nothing more.
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			hooks.oneDone(t)
			// The file is untouched.
			if got := readFile(t, filepath.Join(root, "dir", "file.bin")); sum(got) != sum(data) {
				t.Fatal("source file changed")
			}
		})
	}
}

func TestRETRWithRestSendsTail(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	data := randomBytes(300_000, 7)
	writeFile(t, filepath.Join(root, "f"), data)
	for _, off := range []int64{1, 123_456, 299_999, 300_000} {
		hooks.auths, hooks.dones = nil, nil
		h, got, n, err := retr(t, d, "f", off)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		want := data[off:]
		if !bytes.Equal(got, want) || n != int64(len(want)) || h.Transfer().Bytes() != int64(len(want)) {
			t.Fatalf("offset %d: got %d bytes (n=%d, Bytes=%d), want %d", off, len(got), n, h.Transfer().Bytes(), len(want))
		}
		if a := hooks.oneAuth(t); a.Offset != off || h.Transfer().Offset != off {
			t.Fatalf("Offset = %d / %d, want %d", a.Offset, h.Transfer().Offset, off)
		}
		h.Close()
		if err := hooks.oneDone(t); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRETRRefused(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("secret content"))
	hooks.refuse = errRefused
	h, got, n, err, recvErr := retrRaw(t, d, "f", 0)
	if !errors.Is(err, errRefused) {
		t.Fatalf("copy error = %v, want the refusal", err)
	}
	if len(got) != 0 || n != 0 || h.Transfer().Bytes() != 0 {
		t.Fatalf("refused transfer moved data: %q n=%d", got, n)
	}
	// The receiver sees a failure (a reset), not the clean end of an empty
	// file it could mistake for a complete copy.
	if !errors.Is(recvErr, syscall.ECONNRESET) {
		t.Fatalf("receiver got %v, want a connection reset", recvErr)
	}
	// A second attempt is not a second chance.
	server, _ := tcpPair(t)
	if _, err := h.WriteTo(server); err == nil {
		t.Fatal("second WriteTo on a refused handle succeeded")
	}
	if _, err := h.Read(make([]byte, 10)); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("Read after refusal = %v", err)
	}
	hooks.oneAuth(t)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hooks.oneDone(t); !errors.Is(err, errRefused) {
		t.Fatalf("Done(%v), want the refusal", err)
	}
	if got := readFile(t, filepath.Join(root, "f")); string(got) != "secret content" {
		t.Fatal("file changed")
	}
}

func TestHandleUsedTwice(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("abc"))
	h, _, _, err := retr(t, d, "f", 0)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := tcpPair(t)
	if _, err := h.WriteTo(server); err == nil {
		t.Fatal("second WriteTo succeeded")
	}
	if _, err := h.ReadFrom(server); err == nil {
		t.Fatal("ReadFrom after WriteTo succeeded")
	}
	hooks.oneAuth(t)
	h.Close()
	if err := hooks.oneDone(t); err != nil {
		t.Fatalf("Done(%v): the first, successful transfer should count", err)
	}
}

func TestSTORExistingNotTruncatedAtOpenAndRefusalKeepsIt(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	path := filepath.Join(root, "keep.bin")
	old := randomBytes(200_000, 1)
	writeFile(t, path, old)
	mt := time.Date(2019, 9, 9, 9, 9, 9, 0, time.UTC)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
	for _, flags := range []int{flagsSTOR, flagsAPPE, flagsSTORRest} {
		hooks.auths, hooks.dones = nil, nil
		h, err := d.OpenTransfer("keep.bin", flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Opening with O_TRUNC in the flags did not truncate.
		if got := readFile(t, path); sum(got) != sum(old) {
			t.Fatalf("flags %#x: file changed at open (%d bytes)", flags, len(got))
		}
		hooks.refuse = errRefused
		server, client := tcpPair(t)
		sent := sendAsync(client, []byte("new content that must never land"))
		n, err := io.Copy(h, server)
		if !errors.Is(err, errRefused) || n != 0 {
			t.Fatalf("flags %#x: ReadFrom = %d, %v; want 0 and the refusal", flags, n, err)
		}
		server.Close()
		<-sent
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if err := hooks.oneDone(t); !errors.Is(err, errRefused) {
			t.Fatalf("Done(%v), want the refusal", err)
		}
		checkAuth(t, hooks, client, map[int]string{flagsSTOR: "STOR", flagsAPPE: "APPE", flagsSTORRest: "STOR"}[flags], "keep.bin", acl.DirectionReceive, 0)
		got := readFile(t, path)
		if sum(got) != sum(old) {
			t.Fatalf("flags %#x: refused upload changed the file (%d bytes)", flags, len(got))
		}
		info, err := os.Stat(path)
		if err != nil || !info.ModTime().Equal(mt) {
			t.Fatalf("flags %#x: refused upload touched the file: %v", flags, err)
		}
		hooks.refuse = nil
	}
}

func TestSTORRefusedNewFileIsRemoved(t *testing.T) {
	for _, flags := range []int{flagsSTOR, flagsAPPE, flagsSTORRest} {
		d, hooks, root := newRootDriver(t, false)
		hooks.refuse = errRefused
		h, _, _, err := stor(t, d, "/sub/../new.bin", flags, 0, []byte("data"))
		if !errors.Is(err, errRefused) {
			t.Fatalf("ReadFrom = %v, want the refusal", err)
		}
		if err := h.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		mustNotExist(t, filepath.Join(root, "new.bin"))
		if err := hooks.oneDone(t); !errors.Is(err, errRefused) {
			t.Fatalf("Done(%v)", err)
		}
		entries, _ := os.ReadDir(root)
		if len(entries) != 0 {
			t.Fatalf("root not empty after refused upload: %d entries", len(entries))
		}
	}
}

func TestSTORReplacesContentExactly(t *testing.T) {
	cases := []struct {
		name     string
		old, new []byte
	}{
		{"shorter", randomBytes(100_000, 2), []byte("short")},
		{"empty", randomBytes(5000, 3), nil},
		{"longer, several chunks", []byte("old"), randomBytes(chunk+99_999, 4)},
		{"new file", nil, randomBytes(65_536, 5)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, hooks, root := newRootDriver(t, false)
			path := filepath.Join(root, "f")
			if c.old != nil {
				writeFile(t, path, c.old)
			}
			h, client, n, err := stor(t, d, "f", flagsSTOR, 0, c.new)
			if err != nil {
				t.Fatalf("ReadFrom: %v", err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, path)
			if len(got) != len(c.new) || sum(got) != sum(c.new) {
				t.Fatalf("file has %d bytes, want exactly the %d uploaded", len(got), len(c.new))
			}
			if n != int64(len(c.new)) || h.Transfer().Bytes() != int64(len(c.new)) {
				t.Fatalf("n=%d Bytes=%d, want %d", n, h.Transfer().Bytes(), len(c.new))
			}
			checkAuth(t, hooks, client, "STOR", "f", acl.DirectionReceive, 0)
			if err := hooks.oneDone(t); err != nil {
				t.Fatalf("Done(%v)", err)
			}
		})
	}
}

func TestSTORWithRestTruncatesAtOffset(t *testing.T) {
	cases := []struct {
		old    string
		offset int64
		send   string
		want   string
	}{
		{"0123456789", 4, "abc", "0123abc"},
		{"0123456789", 4, "abcdefghijkl", "0123abcdefghijkl"},
		{"0123456789", 10, "abc", "0123456789abc"},
		{"0123456789", 9, "", "012345678"},
	}
	for _, c := range cases {
		d, hooks, root := newRootDriver(t, false)
		path := filepath.Join(root, "f")
		writeFile(t, path, []byte(c.old))
		h, client, _, err := stor(t, d, "f", flagsSTORRest, c.offset, []byte(c.send))
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
		if got := string(readFile(t, path)); got != c.want {
			t.Errorf("old %q, REST %d, send %q: got %q, want %q", c.old, c.offset, c.send, got, c.want)
		}
		checkAuth(t, hooks, client, "STOR", "f", acl.DirectionReceive, c.offset)
		if err := hooks.oneDone(t); err != nil {
			t.Fatal(err)
		}
	}

	// A large tail after a large prefix.
	d, _, root := newRootDriver(t, false)
	path := filepath.Join(root, "big")
	old := randomBytes(3_000_000, 8)
	writeFile(t, path, old)
	tail := randomBytes(chunk+5, 9)
	h, _, _, err := stor(t, d, "big", flagsSTORRest, 1_000_000, tail)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	want := append(append([]byte{}, old[:1_000_000]...), tail...)
	if got := readFile(t, path); sum(got) != sum(want) {
		t.Fatalf("resumed upload: %d bytes, want %d", len(got), len(want))
	}
}

func TestAPPEAppends(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	path := filepath.Join(root, "log")
	writeFile(t, path, []byte("hello "))
	h, client, _, err := stor(t, d, "log", flagsAPPE, 0, []byte("world"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := string(readFile(t, path)); got != "hello world" {
		t.Fatalf("got %q", got)
	}
	checkAuth(t, hooks, client, "APPE", "log", acl.DirectionReceive, 0)
	if err := hooks.oneDone(t); err != nil {
		t.Fatal(err)
	}

	// A large append, and APPE onto a missing file creates it.
	big := randomBytes(chunk+1, 10)
	h, _, _, err = stor(t, d, "log", flagsAPPE, 0, big)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := readFile(t, path); !bytes.Equal(got, append([]byte("hello world"), big...)) {
		t.Fatalf("after big append: %d bytes", len(got))
	}
	h, _, _, err = stor(t, d, "fresh", flagsAPPE, 0, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := string(readFile(t, filepath.Join(root, "fresh"))); got != "x" {
		t.Fatalf("fresh = %q", got)
	}
}

func TestHandleNeverUsed(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "existing"), []byte("existing content"))

	check := func(name string, flags int) {
		t.Helper()
		hooks.auths, hooks.dones = nil, nil
		h, err := d.OpenTransfer(name, flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := hooks.oneDone(t); err == nil {
			t.Fatalf("%s %#x: Done(nil) for a transfer that never started", name, flags)
		}
		if len(hooks.authCalls()) != 0 {
			t.Fatal("Authorize called without a data connection")
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		hooks.oneDone(t)
	}
	check("existing", flagsRETR)
	check("existing", flagsSTOR)
	check("existing", flagsAPPE)
	if got := string(readFile(t, filepath.Join(root, "existing"))); got != "existing content" {
		t.Fatalf("existing file changed: %q", got)
	}
	check("created", flagsSTOR)
	mustNotExist(t, filepath.Join(root, "created"))
	check("created2", flagsAPPE)
	mustNotExist(t, filepath.Join(root, "created2"))

	// The library reports a failed data connection through TransferError
	// before closing: Done carries that error.
	hooks.auths, hooks.dones = nil, nil
	h, err := d.OpenTransfer("created3", flagsSTOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	errConn := errors.New("425 can't open data connection")
	h.TransferError(errConn)
	h.TransferError(errors.New("second"))
	h.Close()
	if err := hooks.oneDone(t); !errors.Is(err, errConn) {
		t.Fatalf("Done(%v), want %v", err, errConn)
	}
	mustNotExist(t, filepath.Join(root, "created3"))
}

func TestTransferErrorAfterAuthorizedTransfer(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	h, _, _, err := stor(t, d, "part", flagsSTOR, 0, []byte("partial"))
	if err != nil {
		t.Fatal(err)
	}
	errReset := errors.New("connection reset by peer")
	h.TransferError(errReset)
	h.TransferError(errors.New("later"))
	h.Close()
	if err := hooks.oneDone(t); !errors.Is(err, errReset) {
		t.Fatalf("Done(%v), want %v", err, errReset)
	}
	// An atomic STOR that failed leaves nothing: no target, no partial file.
	mustNotExist(t, filepath.Join(root, "part"))
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	// An upload in place (APPE) keeps what arrived, for a later REST.
	hooks.dones = nil
	h, _, _, err = stor(t, d, "part", flagsAPPE, 0, []byte("partial"))
	if err != nil {
		t.Fatal(err)
	}
	h.TransferError(errReset)
	h.Close()
	if err := hooks.oneDone(t); !errors.Is(err, errReset) {
		t.Fatalf("Done(%v), want %v", err, errReset)
	}
	if got := string(readFile(t, filepath.Join(root, "part"))); got != "partial" {
		t.Fatalf("part = %q", got)
	}
}

func TestReadWriteUnauthorized(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("content"))
	for _, flags := range []int{flagsRETR, flagsSTOR, flagsAPPE} {
		h, err := d.OpenTransfer("f", flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		if n, err := h.Read(buf); n != 0 || !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("%#x: Read = %d, %v", flags, n, err)
		}
		if n, err := h.Write([]byte("x")); n != 0 || !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("%#x: Write = %d, %v", flags, n, err)
		}
		if n, err := h.Write([]byte{}); n != 0 || err != nil {
			t.Errorf("%#x: Write(empty) = %d, %v", flags, n, err)
		}
		if n, err := h.Write(nil); n != 0 || err != nil {
			t.Errorf("%#x: Write(nil) = %d, %v", flags, n, err)
		}
		// The hash commands (HASH, XSHA256, ...) read a handle directly:
		// without a data connection there is no verdict, so they fail.
		if _, err := io.CopyN(io.Discard, h, 3); !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("%#x: CopyN = %v", flags, err)
		}
		if h.Transfer().Bytes() != 0 {
			t.Errorf("Bytes = %d", h.Transfer().Bytes())
		}
		h.Close()
	}
	if got := string(readFile(t, filepath.Join(root, "f"))); got != "content" {
		t.Fatalf("file changed: %q", got)
	}

	// After a refusal, still refused.
	hooks.refuse = errRefused
	h, _, _, err := stor(t, d, "f", flagsSTOR, 0, []byte("zzz"))
	if !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	if _, err := h.Write([]byte("x")); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("Write after refusal = %v", err)
	}
	h.Close()
	if got := string(readFile(t, filepath.Join(root, "f"))); got != "content" {
		t.Fatalf("file changed: %q", got)
	}
}

func TestReadWriteAfterAuthorization(t *testing.T) {
	d, _, root := newRootDriver(t, false)
	h, _, _, err := stor(t, d, "f", flagsSTOR, 0, []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Write([]byte("def")); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if h.Transfer().Bytes() != 6 {
		t.Fatalf("Bytes = %d", h.Transfer().Bytes())
	}
	h.Close()
	if got := string(readFile(t, filepath.Join(root, "f"))); got != "abcdef" {
		t.Fatalf("got %q", got)
	}

	// A RETR that was authorized (zero bytes left after REST) may be read.
	h, _, _, err = retr(t, d, "f", 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if n, err := io.ReadFull(h, buf); n != 6 || err != nil || string(buf) != "abcdef" {
		t.Fatalf("Read = %d, %v, %q", n, err, buf)
	}
	h.Close()
}

func TestRateLimitedTransfers(t *testing.T) {
	const burst = 64 << 10
	limit := func() []*rate.Limiter {
		return []*rate.Limiter{rate.NewLimiter(rate.Limit(64<<20), burst)}
	}
	for _, size := range []int{0, burst - 1, burst, 3 * burst, 1_000_003} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			d, hooks, root := newRootDriver(t, false)
			hooks.limiters = limit
			data := randomBytes(size, uint64(size)+100)
			writeFile(t, filepath.Join(root, "down"), data)

			h, got, n, err := retr(t, d, "down", 0)
			if err != nil {
				t.Fatal(err)
			}
			if cs := h.chunkSize(); cs > burst || cs <= 0 {
				t.Fatalf("chunkSize = %d with burst %d", cs, burst)
			}
			if sum(got) != sum(data) || n != int64(size) || h.Transfer().Bytes() != int64(size) {
				t.Fatalf("RETR: received %d bytes, n=%d, want %d", len(got), n, size)
			}
			h.Close()

			h, _, n, err = stor(t, d, "up", flagsSTOR, 0, data)
			if err != nil {
				t.Fatal(err)
			}
			if cs := h.chunkSize(); cs > burst || cs <= 0 {
				t.Fatalf("chunkSize = %d with burst %d", cs, burst)
			}
			h.Close()
			if got := readFile(t, filepath.Join(root, "up")); sum(got) != sum(data) || n != int64(size) {
				t.Fatalf("STOR: stored %d bytes, n=%d, want %d", len(got), n, size)
			}
			for _, dc := range hooks.doneCalls() {
				if dc.err != nil {
					t.Fatalf("Done(%v)", dc.err)
				}
			}
		})
	}
}

func TestChunkSize(t *testing.T) {
	h := &Handle{t: &Transfer{}}
	if got := h.chunkSize(); got != chunk {
		t.Fatalf("unlimited chunkSize = %d, want %d", got, chunk)
	}
	h.t.Limiters = []*rate.Limiter{
		rate.NewLimiter(rate.Limit(1e6), 500_000),
		rate.NewLimiter(rate.Limit(1e6), 70_000),
		rate.NewLimiter(rate.Inf, 0),
		rate.NewLimiter(rate.Limit(1e9), 2*chunk),
	}
	if got := h.chunkSize(); got != 70_000 {
		t.Fatalf("chunkSize = %d, want the smallest burst 70000", got)
	}
	h.t.Limiters = []*rate.Limiter{rate.NewLimiter(rate.Limit(1e9), 2*chunk)}
	if got := h.chunkSize(); got != chunk {
		t.Fatalf("chunkSize = %d, want at most %d", got, chunk)
	}
}

func TestRateLimitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	rfs := openRoot(t, dir)
	hooks := &fakeHooks{limiters: func() []*rate.Limiter {
		return []*rate.Limiter{rate.NewLimiter(rate.Limit(1), 1024)}
	}}
	d, err := New(rfs, Options{Hooks: hooks, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "f"), randomBytes(10_000, 11))
	h, got, _, err := retr(t, d, "f", 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteTo with a cancelled session = %v, want context.Canceled", err)
	}
	if len(got) >= 10_000 {
		t.Fatalf("sent the whole file (%d bytes) despite the cancelled session", len(got))
	}
	h.TransferError(err) // as the library does
	h.Close()
	if err := hooks.oneDone(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Done(%v)", err)
	}
}

func TestOpenTransferDirectoryAndMissing(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(fmt.Sprint("mem=", mem), func(t *testing.T) {
			var d *FS
			var hooks *fakeHooks
			var fs afero.Fs
			if mem {
				d, hooks, fs = newMemDriver(t)
			} else {
				d, hooks, _ = newRootDriver(t, false)
				fs = d.Fs
			}
			if err := fs.MkdirAll("/dir/sub", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(fs, "/dir/sub/f", []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			names := []string{"/dir", "/dir/", "/", "/dir/sub/.."}
			if !mem {
				// RootFs cleans names itself; afero's MemMapFs keys
				// "dir" and "/dir" apart (the library always passes
				// absolute paths).
				names = append(names, "dir/", "dir", "../dir")
			}
			for _, name := range names {
				for _, flags := range []int{flagsRETR, flagsSTOR, flagsSTORRest, flagsAPPE, os.O_RDWR} {
					h, err := d.OpenTransfer(name, flags, 0)
					if err == nil {
						h.Close()
						t.Fatalf("OpenTransfer(%q, %#x) on a directory succeeded", name, flags)
					}
					if h != nil {
						t.Fatal("non-nil handle with an error")
					}
				}
			}
			if b, err := afero.ReadFile(fs, "/dir/sub/f"); err != nil || string(b) != "x" {
				t.Fatalf("directory content changed: %q %v", b, err)
			}
			if h, err := d.OpenTransfer("/missing", flagsRETR, 0); !errors.Is(err, os.ErrNotExist) {
				if h != nil {
					h.Close()
				}
				t.Fatalf("RETR of a missing file = %v", err)
			}
			if h, err := d.OpenTransfer("/nodir/new", flagsSTOR, 0); err == nil {
				h.Close()
				if !mem { // afero's MemMapFs creates files in missing directories
					t.Fatal("STOR into a missing directory succeeded")
				}
			}
			if n := len(hooks.doneCalls()) + len(hooks.authCalls()); n != 0 && !mem {
				t.Fatalf("hooks called %d times for failed opens", n)
			}
		})
	}
}

func TestMemoryBackend(t *testing.T) {
	d, hooks, mem := newMemDriver(t)
	data := randomBytes(chunk+4321, 12)

	h, client, n, err := stor(t, d, "/up/file.bin", flagsSTOR, 0, data)
	if err != nil {
		t.Fatal(err)
	}
	checkAuth(t, hooks, client, "STOR", "/up/file.bin", acl.DirectionReceive, 0)
	h.Close()
	if got := memRead(t, mem, "/up/file.bin"); sum(got) != sum(data) || n != int64(len(data)) {
		t.Fatalf("stored %d bytes, n=%d, want %d", len(got), n, len(data))
	}

	hooks.auths, hooks.dones = nil, nil
	h, got, n, err := retr(t, d, "/up/file.bin", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum(got) != sum(data) || n != int64(len(data)) || h.Transfer().Bytes() != n {
		t.Fatalf("RETR: %d bytes, want %d", len(got), len(data))
	}
	h.Close()
	if err := hooks.oneDone(t); err != nil {
		t.Fatal(err)
	}

	// REST on RETR.
	h, got, _, err = retr(t, d, "/up/file.bin", 1000)
	if err != nil || !bytes.Equal(got, data[1000:]) {
		t.Fatalf("RETR with REST: %d bytes, %v", len(got), err)
	}
	h.Close()

	// Shorter content replaces exactly.
	h, _, _, err = stor(t, d, "/up/file.bin", flagsSTOR, 0, []byte("tiny"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := string(memRead(t, mem, "/up/file.bin")); got != "tiny" {
		t.Fatalf("got %q", got)
	}

	// REST on STOR, then APPE.
	h, _, _, err = stor(t, d, "/up/file.bin", flagsSTORRest, 2, []byte("XY"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	h, _, _, err = stor(t, d, "/up/file.bin", flagsAPPE, 0, []byte("!"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := string(memRead(t, mem, "/up/file.bin")); got != "tiXY!" {
		t.Fatalf("got %q", got)
	}

	// Refusals: an existing file is kept, a new one removed.
	hooks.refuse = errRefused
	h, _, _, err = stor(t, d, "/up/file.bin", flagsSTOR, 0, []byte("nope"))
	if !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	h.Close()
	if got := string(memRead(t, mem, "/up/file.bin")); got != "tiXY!" {
		t.Fatalf("refused STOR changed the file: %q", got)
	}
	h, _, _, err = stor(t, d, "/up/new.bin", flagsSTOR, 0, []byte("nope"))
	if !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	h.Close()
	if _, err := mem.Stat("/up/new.bin"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused new file exists: %v", err)
	}
	// Never used.
	hooks.refuse = nil
	h, err = d.OpenTransfer("/up/never.bin", flagsSTOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := mem.Stat("/up/never.bin"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("never-used new file exists: %v", err)
	}
}

type remoteAddrer struct{ addr net.Addr }

func (r remoteAddrer) RemoteAddr() net.Addr { return r.addr }

// like net's tcpConnWithoutWriteTo: a wrapper that still exposes RemoteAddr.
type wrappedConn struct {
	*net.TCPConn
}

func TestPeerOf(t *testing.T) {
	zero := netip.AddrPort{}
	p1, p2 := net.Pipe()
	t.Cleanup(func() { p1.Close(); p2.Close() })
	server, client := tcpPair(t)
	want := addrPortOf(t, client.LocalAddr())

	cases := []struct {
		name string
		conn any
		want netip.AddrPort
	}{
		{"nil", nil, zero},
		{"no RemoteAddr", struct{}{}, zero},
		{"bytes.Buffer", &bytes.Buffer{}, zero},
		{"pipe a", p1, zero},
		{"pipe b", p2, zero},
		{"typed nil TCPAddr", remoteAddrer{(*net.TCPAddr)(nil)}, zero},
		{"nil Addr", remoteAddrer{nil}, zero},
		{"UDP", remoteAddrer{&net.UDPAddr{IP: net.ParseIP(clientIP), Port: 5}}, zero},
		{"unix", remoteAddrer{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}}, zero},
		{"tcp server side", server, want},
		{"tcp as net.Conn", net.Conn(server), want},
		{"wrapped", wrappedConn{TCPConn: server}, want},
		{"client side", client, addrPortOf(t, server.LocalAddr())},
		{"v4-mapped", remoteAddrer{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.10"), Port: 2121}}, netip.MustParseAddrPort("127.0.0.10:2121")},
		{"v6", remoteAddrer{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 21}}, netip.MustParseAddrPort("[::1]:21")},
	}
	for _, c := range cases {
		if got := PeerOf(c.conn); got != c.want {
			t.Errorf("%s: PeerOf = %v, want %v", c.name, got, c.want)
		}
	}
	if want.Addr() != netip.MustParseAddr(clientIP) || want.Port() == 0 {
		t.Fatalf("client address %v", want)
	}
}

// A data connection whose peer cannot be told reaches Authorize with a
// zero Peer (which the policy refuses).
func TestAuthorizeSeesZeroPeerForPipe(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("x"))
	hooks.refuse = errRefused
	p1, p2 := net.Pipe()
	t.Cleanup(func() { p1.Close(); p2.Close() })
	h, err := d.OpenTransfer("f", flagsRETR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteTo(p1); !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	h.Close()
	if a := hooks.oneAuth(t); a.Peer.IsValid() {
		t.Fatalf("Peer = %v, want zero", a.Peer)
	}

	// Copying handle to handle (the library's COMB) has no peer either.
	hooks.auths = nil
	src, err := d.OpenTransfer("f", flagsRETR, 0)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := d.OpenTransfer("g", flagsSTOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err == nil {
		t.Fatal("handle-to-handle copy succeeded")
	}
	src.Close()
	dst.Close()
	if a := hooks.oneAuth(t); a.Peer.IsValid() {
		t.Fatalf("Peer = %v, want zero", a.Peer)
	}
	mustNotExist(t, filepath.Join(root, "g"))
}

// Concurrent transfers on one FS share nothing but the hooks.
func TestConcurrentTransfers(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	const n = 6
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = randomBytes(200_000+i, uint64(i)+50)
		writeFile(t, filepath.Join(root, fmt.Sprintf("src%d", i)), datas[i])
	}
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range n {
		server, client := tcpPair(t)
		wg.Go(func() {
			h, err := d.OpenTransfer(fmt.Sprintf("src%d", i), flagsRETR, 0)
			if err != nil {
				failures.Add(1)
				return
			}
			defer h.Close()
			ch := receiveAsync(client)
			if _, err := io.Copy(server, h); err != nil {
				failures.Add(1)
			}
			server.Close()
			r := <-ch
			if sum(r.data) != sum(datas[i]) {
				failures.Add(1)
			}
		})
		server2, client2 := tcpPair(t)
		wg.Go(func() {
			h, err := d.OpenTransfer(fmt.Sprintf("dst%d", i), flagsSTOR, 0)
			if err != nil {
				failures.Add(1)
				return
			}
			defer h.Close()
			sent := sendAsync(client2, datas[i])
			if _, err := io.Copy(h, server2); err != nil {
				failures.Add(1)
			}
			if err := <-sent; err != nil {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d failures", f)
	}
	for i := range n {
		if got := readFile(t, filepath.Join(root, fmt.Sprintf("dst%d", i))); sum(got) != sum(datas[i]) {
			t.Fatalf("dst%d differs", i)
		}
	}
	if len(hooks.doneCalls()) != 2*n || len(hooks.authCalls()) != 2*n {
		t.Fatalf("Done %d, Authorize %d, want %d each", len(hooks.doneCalls()), len(hooks.authCalls()), 2*n)
	}
	for _, dc := range hooks.doneCalls() {
		if dc.err != nil {
			t.Fatalf("Done(%v)", dc.err)
		}
	}
	ports := map[uint16]bool{}
	for _, a := range hooks.authCalls() {
		if a.Peer.Addr().String() != clientIP || ports[a.Peer.Port()] {
			t.Fatalf("peer %v (duplicate or wrong address)", a.Peer)
		}
		ports[a.Peer.Port()] = true
	}
}

// Regression: every chunk used to be is charged a full chunk of tokens
// before it moves, so a short transfer costs a whole burst and a shared
// limiter starved the next transfer.
func TestRateLimitChargesOnlyBytesMoved(t *testing.T) {
	const burst = 1 << 20
	shared := rate.NewLimiter(rate.Limit(1), burst) // 1 byte/s: no refill to speak of
	d, hooks, root := newRootDriver(t, false)
	hooks.limiters = func() []*rate.Limiter { return []*rate.Limiter{shared} }
	writeFile(t, filepath.Join(root, "small"), []byte(strings.Repeat("x", 10)))
	h, got, _, err := retr(t, d, "small", 0)
	if err != nil || len(got) != 10 {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	h.Close()
	if tokens := shared.Tokens(); tokens < burst-1000 {
		t.Fatalf("a 10-byte transfer left %.0f of %d tokens", tokens, burst)
	}
}

// Regression: a handle that created a new file and was
// never authorized removes the path on Close, even if another transfer has
// since written a complete file there.
func TestNeverUsedHandleDoesNotRemoveAnotherUpload(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	a, err := d.OpenTransfer("shared.bin", flagsSTOR, 0) // creates the file
	if err != nil {
		t.Fatal(err)
	}
	b, _, _, err := stor(t, d, "shared.bin", flagsSTOR, 0, []byte("complete upload from session B"))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	a.Close() // A's data connection never came
	if len(hooks.doneCalls()) != 2 {
		t.Fatal("want two Done calls")
	}
	if got, err := os.ReadFile(filepath.Join(root, "shared.bin")); err != nil || string(got) != "complete upload from session B" {
		t.Fatalf("B's finished upload is gone: %q, %v", got, err)
	}
}

// Regression: a refused STOR onto a dangling symlink that
// stays inside the root creates the link's target and then removes the
// link, not what it created.
func TestRefusedUploadThroughDanglingLink(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	if err := os.Symlink("target", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	hooks.refuse = errRefused
	// Refusing to open through a dangling link is a fine outcome too.
	if h, err := d.OpenTransfer("link", flagsSTOR, 0); err == nil {
		server, _ := tcpPair(t)
		if _, err := io.Copy(h, server); !errors.Is(err, errRefused) {
			t.Fatal(err)
		}
		h.Close()
	}
	if _, err := os.Lstat(filepath.Join(root, "link")); err != nil {
		t.Errorf("the user's symlink was removed: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "target")); err == nil {
		t.Errorf("a refused upload left a file at the link's target")
	}
}

// A refused upload resets the data connection too: the sender's writes
// fail instead of vanishing into a connection that was never read.
func TestSTORRefusedResetsSender(t *testing.T) {
	d, hooks, _ := newRootDriver(t, false)
	hooks.refuse = errRefused
	h, err := d.OpenTransfer("f", flagsSTOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	server, client := tcpPair(t)
	if _, err := io.Copy(h, server); !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	server.Close()
	h.Close()
	// Reading shows the reset at once (the server sent nothing, so nothing
	// hides it).
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("sender reads %v, want a connection reset", err)
	}
}

// resetBeforeSending makes the client end abort: it closes with a TCP reset
// without sending a byte (what an ftpd FXP source does when it refuses).
func resetBeforeSending(t *testing.T, client *net.TCPConn) {
	t.Helper()
	if err := client.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	client.Close()
}

// An authorized upload whose sender resets before the first byte leaves an
// existing file as it was.
func TestSTORSenderResetKeepsExistingFile(t *testing.T) {
	for _, flags := range []int{flagsSTOR, flagsAPPE} {
		d, hooks, root := newRootDriver(t, false)
		path := filepath.Join(root, "f")
		old := randomBytes(50_000, 31)
		writeFile(t, path, old)
		h, err := d.OpenTransfer("f", flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		server, client := tcpPair(t)
		resetBeforeSending(t, client)
		n, err := io.Copy(h, server)
		if err == nil || n != 0 {
			t.Fatalf("%#x: ReadFrom = %d, %v; want an error", flags, n, err)
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%#x: ReadFrom error %v does not wrap ECONNRESET", flags, err)
		}
		h.TransferError(err) // as the library does
		h.Close()
		if got := readFile(t, path); sum(got) != sum(old) {
			t.Fatalf("%#x: file changed by a sender that never sent (%d bytes)", flags, len(got))
		}
		if err := hooks.oneDone(t); err == nil {
			t.Fatal("Done(nil) for a failed upload")
		}
		hooks.oneAuth(t)
	}
}

// Regression: the same reset on a NEW file leaves an empty
// file behind, because the handle was authorized.
func TestSTORSenderResetLeavesNoNewFile(t *testing.T) {
	d, _, root := newRootDriver(t, false)
	h, err := d.OpenTransfer("new", flagsSTOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	server, client := tcpPair(t)
	resetBeforeSending(t, client)
	if _, err := io.Copy(h, server); err == nil {
		t.Fatal("ReadFrom succeeded")
	} else {
		h.TransferError(err)
	}
	h.Close()
	mustNotExist(t, filepath.Join(root, "new"))
}

// One byte, then EOF: the first-byte path alone.
func TestSTOROneByte(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("previous content"))
	for _, c := range []struct {
		flags int
		want  string
	}{{flagsSTOR, "Z"}, {flagsAPPE, "ZY"}} {
		data := c.want[len(c.want)-1:]
		h, _, n, err := stor(t, d, "f", c.flags, 0, []byte(data))
		if err != nil || n != 1 || h.Transfer().Bytes() != 1 {
			t.Fatalf("ReadFrom = %d, %v (Bytes %d)", n, err, h.Transfer().Bytes())
		}
		h.Close()
		if got := string(readFile(t, filepath.Join(root, "f"))); got != c.want {
			t.Fatalf("got %q, want %q", got, c.want)
		}
	}
	for _, dc := range hooks.doneCalls() {
		if dc.err != nil {
			t.Fatal(dc.err)
		}
	}
}

// TestRESTBeyondEndRefused: an offset past the end of the file is refused
// at open for RETR and for STOR (no hole, no sparse file), and a STOR
// offset on a file that does not exist creates nothing.
func TestRESTBeyondEndRefused(t *testing.T) {
	d, _, root := newRootDriver(t, false)
	writeFile(t, filepath.Join(root, "f"), []byte("01"))
	for _, c := range []struct {
		name   string
		flags  int
		offset int64
	}{
		{"f", flagsRETR, 3},
		{"f", flagsSTORRest, 4},
		{"f", flagsSTORRest, -1},
		{"new", flagsSTORRest, 1 << 40},
	} {
		h, err := d.OpenTransfer(c.name, c.flags, c.offset)
		var re *RestError
		if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), RestErrorPrefix) {
			if h != nil {
				h.Close()
			}
			t.Errorf("OpenTransfer(%s, %#x, %d): %v, want a RestError", c.name, c.flags, c.offset, err)
		}
	}
	if got := string(readFile(t, filepath.Join(root, "f"))); got != "01" {
		t.Errorf("refused REST changed f: %q", got)
	}
	mustNotExist(t, filepath.Join(root, "new"))
}

// Regression (found by the reload-under-load integrity test once its
// transfers paused until the reloads came): a reload that shrinks a
// shared limiter's burst between pay reading the burst and waiting made
// WaitN fail ("rate: Wait(n=...) would exceed context deadline") and the
// transfer end with 550. Shrinking the burst must only make a wait longer.
func TestRateLimitBurstShrinksDuringPay(t *testing.T) {
	const big, small = 1 << 20, 1 << 10
	l := rate.NewLimiter(rate.Limit(1e12), big) // fast: waits are ~0, only the burst matters
	h := &Handle{t: &Transfer{Limiters: []*rate.Limiter{l}}, fs: &FS{opts: Options{Context: context.Background()}}}
	stop := make(chan struct{})
	var flipper sync.WaitGroup
	flipper.Add(1)
	go func() { // a reload every moment, flipping the burst
		defer flipper.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.SetBurst([]int{big, small}[i%2])
		}
	}()
	failed := 0
	var first error
	for i := 0; i < 20000; i++ {
		if err := h.pay(big); err != nil {
			if failed == 0 {
				first = err
			}
			failed++
		}
	}
	close(stop)
	flipper.Wait()
	if failed > 0 {
		t.Fatalf("%d of 20000 payments failed while the burst changed; first: %v", failed, first)
	}
}

// writeCounter is a data connection that records the size of every write
// (it hides *net.TCPConn's ReadFrom, as a TLS connection does).
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, len(p))
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// A download from storage without a zero-copy path (memory here, S3 in
// production) moves through a buffer of copyBufSize, not io.Copy's
// 32 KiB: each write is a system call and a wake-up of the receiver, which
// were most of ftpd's CPU in an S3 RETR.
func TestRETRWithoutZeroCopyWritesLargeBlocks(t *testing.T) {
	d, _, mem := newMemDriver(t)
	const size = 8 << 20
	data := randomBytes(size, 5)
	if err := afero.WriteFile(mem, "/big.bin", data, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := d.OpenTransfer("/big.bin", flagsRETR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	server, client := tcpPair(t)
	ch := receiveAsync(client)
	w := &writeCounter{Conn: server}
	if n, err := h.WriteTo(w); err != nil || n != size {
		t.Fatalf("WriteTo = %d, %v; want %d", n, err, size)
	}
	server.Close()
	if r := waitReceived(t, ch); r.err != nil || sum(r.data) != sum(data) {
		t.Fatalf("received %d bytes (%v), want the file", len(r.data), r.err)
	}
	// The memory file fills every read: exactly size/1 MiB writes.
	if len(w.writes) != size/(1<<20) {
		t.Fatalf("%d writes (largest %d bytes), want %d of 1 MiB", len(w.writes), slices.Max(w.writes), size/(1<<20))
	}
}
