//go:build !linux

package dataplane

import (
	"errors"
	"net"
)

// socketProgress needs Linux's TCP_INFO byte counters; elsewhere data
// connections are not timed out (see idleWatch).
func socketProgress(*net.TCPConn) (uint64, error) {
	return 0, errors.New("data_timeout needs Linux (TCP_INFO)")
}
