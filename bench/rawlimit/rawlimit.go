// Package rawlimit measures what the kernel can do without an FTP server
// in the way, on loopback: the ceilings ftpd's benchmarks compare against.
package rawlimit

import (
	"io"
	"net"
	"os"
	"time"
)

// Copy times file -> sendfile -> TCP -> splice -> file: the ceiling for an
// FXP copy on one machine. The receiver listens on listenIP, the sender
// dials from dialIP ("" = the kernel's choice). dst is created (and
// overwritten).
func Copy(src, dst, listenIP, dialIP string) (time.Duration, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		f, err := os.Create(dst)
		if err != nil {
			done <- err
			return
		}
		_, err = f.ReadFrom(conn) // splice
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	conn, err := dialFrom(dialIP, l.Addr().String())
	if err != nil {
		return 0, err
	}
	f, err := os.Open(src)
	if err != nil {
		conn.Close()
		return 0, err
	}
	_, err = conn.(*net.TCPConn).ReadFrom(f) // sendfile
	f.Close()
	conn.Close()
	if err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Download times sendfile of path into a socket on listenIP, read by a
// client on dialIP with Drain: the ceiling for an FTP download.
func Download(path, listenIP, dialIP string) (time.Duration, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = conn.(*net.TCPConn).ReadFrom(f) // sendfile
	}()
	start := time.Now()
	conn, err := dialFrom(dialIP, l.Addr().String())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := Drain(conn); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Drain reads r to its end with a 256 KiB buffer, the way every contender
// of a download benchmark is read.
func Drain(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return d.Dial("tcp", addr)
}
