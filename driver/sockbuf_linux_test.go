package driver

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sockBuf(t *testing.T, c *net.TCPConn, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// DataSocketBuffer reaches a download's data connection as its send
// buffer; an upload keeps receive autotuning. 3 MiB is below this
// machine's net.core limits, so no privilege is needed; the kernel
// reports twice the value set (its bookkeeping share), which autotuning
// alone never reaches on a short transfer.
func TestDataSocketBufferIsSet(t *testing.T) {
	const want = 3 << 20
	for _, tc := range []struct {
		name  string
		opt   int
		flags int
		set   bool
	}{{"RETR sets SO_SNDBUF", unix.SO_SNDBUF, flagsRETR, true}, {"STOR leaves SO_RCVBUF", unix.SO_RCVBUF, flagsSTOR, false}} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, dir := newRootDriver(t, false)
			d.opts.DataSocketBuffer = want
			writeFile(t, dir+"/f.bin", randomBytes(64<<10, 3))
			h, err := d.OpenTransfer("f.bin", tc.flags, 0)
			if err != nil {
				t.Fatal(err)
			}
			server, client := tcpPair(t)
			if before := sockBuf(t, server, tc.opt); before >= 2*want {
				t.Skipf("the default buffer (%d) is already that large here", before)
			}
			done := make(chan error, 1)
			go func() {
				var err error
				if tc.flags == flagsRETR {
					_, err = h.WriteTo(server)
				} else {
					_, err = h.ReadFrom(server)
				}
				done <- err
			}()
			if tc.flags == flagsRETR {
				_, _ = io.Copy(io.Discard, io.LimitReader(client, 64<<10))
			} else {
				_, _ = client.Write(randomBytes(64<<10, 4))
				_ = client.CloseWrite()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("transfer: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("transfer did not end")
			}
			_ = h.Close()
			got := sockBuf(t, server, tc.opt)
			if tc.set && got < 2*want {
				t.Errorf("buffer = %d, want %d (2 × %d)", got, 2*want, want)
			}
			if !tc.set && got == 2*want {
				t.Errorf("receive buffer set to %d: uploads must keep autotuning", got)
			}
		})
	}
}
