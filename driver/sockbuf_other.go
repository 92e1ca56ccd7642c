//go:build !linux

package driver

// setSocketBuffer is a no-op outside Linux (see sockbuf_linux.go).
func setSocketBuffer(any, int, bool) {}
