package integration

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkUpload: a STOR of FTPD_BENCH_SIZE bytes (default 1 GiB) over an
// existing file, with fsync_uploads off and on; reports MB/s.
//
//	go test -run=^$ -bench=Upload -benchtime=3x ./integration/
func BenchmarkUpload(b *testing.B) {
	size := benchSize(b)
	for _, fsync := range []bool{false, true} {
		name := "fsync=off"
		extra := ""
		if fsync {
			name, extra = "fsync=on", "fsync_uploads = true"
		}
		b.Run(name, func(b *testing.B) {
			a := startServer(b, hostA, basicConfig(extra, ""))
			src := filepath.Join(b.TempDir(), "src.bin")
			benchFile(b, src, size)
			benchFile(b, filepath.Join(a.root("alice"), "up.bin"), size)
			c := a.benchDial(b, "alice")
			var total time.Duration
			for b.Loop() {
				addr, err := c.Pasv()
				if err != nil {
					b.Fatal(err)
				}
				conn := rawDial(b, client1, addr.String())
				f, err := os.Open(src)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if _, err := c.Expect(150, "STOR up.bin"); err != nil {
					b.Fatal(err)
				}
				if _, err := conn.(*net.TCPConn).ReadFrom(f); err != nil { // sendfile
					b.Fatal(err)
				}
				conn.Close()
				f.Close()
				if code, msg, err := c.ReadReply(); err != nil || code != 226 {
					b.Fatalf("%d %s %v", code, msg, err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(mbps(size*int64(b.N), total), "MB/s")
		})
	}
}
