package driver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpCloseWait is Linux's TCP_CLOSE_WAIT (include/net/tcp_states.h): the
// peer's FIN has arrived, our side is still open.
const tcpCloseWait = 8

// peerEnded reports whether conn's peer has ended its side cleanly: its
// FIN has arrived, so every byte it sent is in the socket already. A
// connection that is not a TCP socket, or whose state cannot be read,
// reports false.
func peerEnded(conn any) bool {
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		conn = nc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ended := false
	_ = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		ended = err == nil && info.State == tcpCloseWait
	})
	return ended
}
