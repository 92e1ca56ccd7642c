package dataplane

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// socketProgress is the number of bytes the peer has acknowledged plus
// the number received from it: it moves exactly when data moves.
func socketProgress(tc *net.TCPConn) (uint64, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		info *unix.TCPInfo
		ierr error
	)
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return 0, err
	}
	if ierr != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", ierr)
	}
	return info.Bytes_acked + info.Bytes_received, nil
}
