package driver

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setSocketBuffer sets conn's send (send = true) or receive buffer to n
// bytes when n > 0: the FORCE variant first (above net.core.*mem_max,
// needs CAP_NET_ADMIN), else the plain one (capped by the kernel). A
// connection that is not a socket (a test pipe) is left alone; this is
// tuning, so errors are ignored.
//
// ftpd sets only send buffers (downloads, FXP sources). A receive buffer
// set on an established connection was measured to cripple the receiving
// splice path over a 50 ms link (1.7 MB/s at 11 CPU s/GB instead of
// 100 MB/s), while receive autotuning already grows to
// net.ipv4.tcp_rmem's maximum.
func setSocketBuffer(conn any, n int, send bool) {
	if n <= 0 {
		return
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	force, plain := unix.SO_RCVBUFFORCE, unix.SO_RCVBUF
	if send {
		force, plain = unix.SO_SNDBUFFORCE, unix.SO_SNDBUF
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, force, n) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, plain, n)
		}
	})
}
