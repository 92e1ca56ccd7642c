package driver

// Zero-copy checks. A transfer runs on a goroutine locked to its own OS
// thread, and that thread (only) gets a seccomp filter that makes the
// copying system calls fail with EPERM on the transfer's descriptors
// whenever they ask for more than one byte: read/pread on the file and
// write/send on the socket for RETR, write/pwrite on the file and
// read/recv on the socket for STOR/APPE. (One-byte calls stay allowed: an
// upload reads and writes its first byte itself before the bulk copy.)
// sendfile(2) and splice(2) are not filtered. So the transfer succeeds only
// if the bulk of the bytes went through sendfile (RETR) or splice (STOR,
// APPE); a userspace copy (32 KiB buffers) fails at once. Nothing depends
// on timing.
//
// The filter dies with the thread: the goroutine never unlocks it, so the
// runtime exits the thread when the goroutine ends, and the runtime creates
// new threads from a clean template thread, never from a locked one.

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

const (
	auditArchX8664   = 0xc000003e
	seccompRetAllow  = 0x7fff0000
	seccompRetErrno  = 0x00050000
	prSetNoNewPrivs  = 38
	prSetSeccomp     = 22
	seccompModeFiltr = 2
)

var (
	readCalls  = []uint32{syscall.SYS_READ, syscall.SYS_PREAD64, syscall.SYS_RECVFROM}
	writeCalls = []uint32{syscall.SYS_WRITE, syscall.SYS_PWRITE64, syscall.SYS_SENDTO}
)

// denyFilter returns a seccomp program that fails the listed system calls
// with EPERM when their first argument is fd and their third (the byte
// count) is more than maxCount, and allows everything else.
func denyFilter(fd int, nrs []uint32, maxCount uint32) []syscall.SockFilter {
	const (
		ldAbs = syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS
		jeqK  = syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K
		jgtK  = syscall.BPF_JMP | syscall.BPF_JGT | syscall.BPF_K
		retK  = syscall.BPF_RET | syscall.BPF_K
	)
	k := len(nrs)
	p := []syscall.SockFilter{
		{Code: ldAbs, K: 4}, // arch
		{Code: jeqK, K: auditArchX8664, Jt: 0, Jf: uint8(k + 1)},
		{Code: ldAbs, K: 0}, // syscall number
	}
	for i, nr := range nrs {
		p = append(p, syscall.SockFilter{Code: jeqK, K: nr, Jt: uint8(k - i), Jf: 0})
	}
	p = append(p,
		syscall.SockFilter{Code: retK, K: seccompRetAllow},
		syscall.SockFilter{Code: ldAbs, K: 16}, // args[0] (fd), low 32 bits
		syscall.SockFilter{Code: jeqK, K: uint32(fd), Jt: 0, Jf: 3},
		syscall.SockFilter{Code: ldAbs, K: 32}, // args[2] (count), low 32 bits
		syscall.SockFilter{Code: jgtK, K: maxCount, Jt: 0, Jf: 1},
		syscall.SockFilter{Code: retK, K: seccompRetErrno | uint32(syscall.EPERM)},
		syscall.SockFilter{Code: retK, K: seccompRetAllow},
	)
	return p
}

// installOnThisThread installs prog on the calling OS thread only.
func installOnThisThread(prog []syscall.SockFilter) error {
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); errno != 0 {
		return errno
	}
	fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetSeccomp, seccompModeFiltr, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return errno
	}
	return nil
}

type denial struct {
	fd  int
	nrs []uint32
}

var errNoSeccomp = errors.New("seccomp filter not available")

// runFiltered runs fn on a fresh locked thread with the denials installed.
// Before fn it checks that the filter really refuses (so a pass means
// something): probe is called on the filtered thread and must fail with
// EPERM.
func runFiltered(t *testing.T, denials []denial, probe func() error, fn func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread exits with this goroutine.
		for _, d := range denials {
			if err := installOnThisThread(denyFilter(d.fd, d.nrs, 1)); err != nil {
				ch <- errors.Join(errNoSeccomp, err)
				return
			}
		}
		if err := probe(); !errors.Is(err, syscall.EPERM) {
			ch <- errors.Join(errNoSeccomp, errors.New("probe not refused"), err)
			return
		}
		ch <- fn()
	}()
	err := <-ch
	if errors.Is(err, errNoSeccomp) {
		t.Skipf("cannot check zero-copy here: %v", err)
	}
	return err
}

func fdOf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(p uintptr) { fd = int(p) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestZeroCopyRETRUsesSendfile(t *testing.T) {
	d, hooks, root := newRootDriver(t, false)
	data := randomBytes(chunk+1_234_567, 21)
	writeFile(t, filepath.Join(root, "f"), data)

	for _, off := range []int64{0, 777} {
		h, err := d.OpenTransfer("f", flagsRETR, off)
		if err != nil {
			t.Fatal(err)
		}
		if off != 0 {
			h.Seek(off, io.SeekStart)
		}
		server, client := tcpPair(t)
		ffd := fdOf(t, h.file.(*os.File))
		sfd := fdOf(t, server)
		ch := receiveAsync(client)
		err = runFiltered(t,
			[]denial{{ffd, readCalls}, {sfd, writeCalls}},
			func() error { _, err := syscall.Read(ffd, make([]byte, 2)); return err },
			func() error {
				// A userspace copy of the same file on this thread fails...
				if _, err := io.Copy(server, struct{ io.Reader }{h.file}); !errors.Is(err, syscall.EPERM) {
					return errors.Join(errors.New("control copy was not refused"), err)
				}
				// ...while the driver's transfer goes through.
				_, err := io.Copy(server, h)
				return err
			})
		if err != nil {
			t.Fatalf("offset %d: transfer with read/write forbidden failed (no sendfile?): %v", off, err)
		}
		server.Close()
		r := waitReceived(t, ch)
		if sum(r.data) != sum(data[off:]) {
			t.Fatalf("offset %d: received %d bytes, want %d", off, len(r.data), len(data)-int(off))
		}
		h.Close()
	}
	for _, dc := range hooks.doneCalls() {
		if dc.err != nil {
			t.Fatal(dc.err)
		}
	}
}

func TestZeroCopySTORUsesSplice(t *testing.T) {
	cases := []struct {
		name   string
		flags  int
		offset int64
		old    []byte
	}{
		{"STOR new", flagsSTOR, 0, nil},
		{"STOR over existing", flagsSTOR, 0, randomBytes(100, 1)},
		{"STOR REST", flagsSTORRest, 50, randomBytes(100, 2)},
		{"APPE", flagsAPPE, 0, randomBytes(100, 3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, hooks, root := newRootDriver(t, false)
			path := filepath.Join(root, "f")
			if c.old != nil {
				writeFile(t, path, c.old)
			}
			data := randomBytes(chunk+654_321, 22)
			h, err := d.OpenTransfer("f", c.flags, c.offset)
			if err != nil {
				t.Fatal(err)
			}
			if c.offset != 0 {
				h.Seek(c.offset, io.SeekStart)
			}
			server, client := tcpPair(t)
			ffd := fdOf(t, h.file.(*os.File))
			sfd := fdOf(t, server)
			sent := sendAsync(client, data)
			err = runFiltered(t,
				[]denial{{ffd, writeCalls}, {sfd, readCalls}},
				func() error { _, err := syscall.Write(ffd, []byte("zz")); return err },
				func() error {
					_, err := io.Copy(h, server)
					return err
				})
			if err != nil {
				t.Fatalf("transfer with read/write forbidden failed (no splice?): %v", err)
			}
			if err := waitErr(t, sent); err != nil {
				t.Fatal(err)
			}
			h.Close()
			var want []byte
			switch {
			case c.flags == flagsAPPE:
				want = append(append(want, c.old...), data...)
			case c.offset != 0:
				want = append(append(want, c.old[:c.offset]...), data...)
			default:
				want = data
			}
			if got := readFile(t, path); sum(got) != sum(want) {
				t.Fatalf("file has %d bytes, want %d", len(got), len(want))
			}
			if err := hooks.oneDone(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}
