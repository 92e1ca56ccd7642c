package integration

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/rawlimit"
	"github.com/ftpd/ftpd/ftpclient"
)

// Benchmarks compare ftpd with the raw kernel limit measured in the same
// run, alternating the two so that machine noise hits both alike. Each
// reports MB/s for both and their ratio. The file size defaults to 1 GiB;
// FTPD_BENCH_SIZE (bytes) changes it.
//
//	go test -run=^$ -bench=. -benchtime=3x ./integration/

func benchSize(b *testing.B) int64 {
	if s := os.Getenv("FTPD_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1 << 30
}

// benchFile writes size random-ish bytes (a repeated random block; the
// path is zero-copy, content does not matter) and reads it once so it is
// in the page cache for both contenders.
func benchFile(b *testing.B, path string, size int64) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 4<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>9)
	}
	for written := int64(0); written < size; {
		n := min(int64(len(block)), size-written)
		if _, err := f.Write(block[:n]); err != nil {
			b.Fatal(err)
		}
		written += n
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	rf, _ := os.Open(path)
	_, _ = io.Copy(io.Discard, rf)
	rf.Close()
}

// rawDownload: the ceiling for an FTP download (see rawlimit.Download).
func rawDownload(b *testing.B, path string) time.Duration {
	d, err := rawlimit.Download(path, hostA, client1)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func ftpdDownload(b *testing.B, c *ftpclient.Conn, name string, size int64) time.Duration {
	start := time.Now()
	addr, err := c.Pasv()
	if err != nil {
		b.Fatal(err)
	}
	conn := rawDial(b, client1, addr.String())
	if _, err := c.Expect(150, "RETR %s", name); err != nil {
		b.Fatal(err)
	}
	n, err := rawlimit.Drain(conn)
	conn.Close()
	if err != nil || n != size {
		b.Fatalf("got %d bytes: %v", n, err)
	}
	if code, msg, err := c.ReadReply(); err != nil || code != 226 {
		b.Fatalf("%d %s %v", code, msg, err)
	}
	return time.Since(start)
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

func BenchmarkDownload(b *testing.B) {
	size := benchSize(b)
	a := startBenchServer(b, hostA, "")
	path := filepath.Join(a.root("alice"), "big.bin")
	benchFile(b, path, size)
	c := a.benchDial(b, "alice")
	var raw, ftpd time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw += rawDownload(b, path)
		ftpd += ftpdDownload(b, c, "big.bin", size)
	}
	b.StopTimer()
	n := int64(b.N)
	b.ReportMetric(mbps(size*n, raw), "raw-MB/s")
	b.ReportMetric(mbps(size*n, ftpd), "ftpd-MB/s")
	b.ReportMetric(raw.Seconds()/ftpd.Seconds(), "ratio")
}

// rawCopy: the ceiling for an FXP copy on one machine (see rawlimit.Copy).
func rawCopy(b *testing.B, src, dst string) time.Duration {
	d, err := rawlimit.Copy(src, dst, hostB, "")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkFXP(b *testing.B) {
	size := benchSize(b)
	a := startBenchServer(b, hostA, fxpOn)
	bb := startBenchServer(b, hostB, fxpOn)
	src := filepath.Join(a.root("alice"), "big.bin")
	benchFile(b, src, size)
	ca := a.benchDial(b, "alice")
	cb := bb.benchDial(b, "alice")
	dst := filepath.Join(bb.root("alice"), "copy.bin")
	rawDst := filepath.Join(bb.root("alice"), "raw.bin")
	var raw, ftpd time.Duration
	var bySide [2]time.Duration // PASV on the source, PASV on the destination
	var nSide [2]int64
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each copy starts with no destination and no dirty pages from
		// the previous one, so writeback of one does not slow the other;
		// the order alternates too.
		settle(b, rawDst, dst)
		if i%2 == 1 {
			raw += rawCopy(b, src, rawDst)
			settle(b, rawDst, dst)
		}
		start := time.Now()
		side := (i / 2) % 2
		r := fxpCopyB(b, ca, cb, "big.bin", "copy.bin", side == 0)
		took := time.Since(start)
		ftpd += took
		bySide[side] += took
		nSide[side]++
		if !r.ok() {
			b.Fatal(r)
		}
		if st, err := os.Stat(dst); err != nil || st.Size() != size {
			b.Fatalf("copy: %v", err)
		}
		if i%2 == 0 {
			settle(b, rawDst, dst)
			raw += rawCopy(b, src, rawDst)
		}
	}
	b.StopTimer()
	n := int64(b.N)
	b.ReportMetric(mbps(size*n, raw), "raw-MB/s")
	b.ReportMetric(mbps(size*n, ftpd), "ftpd-MB/s")
	b.ReportMetric(raw.Seconds()/ftpd.Seconds(), "ratio")
	for side, name := range []string{"pasv-src-MB/s", "pasv-dst-MB/s"} {
		if nSide[side] > 0 {
			b.ReportMetric(mbps(size*nSide[side], bySide[side]), name)
		}
	}
}

// settle removes the destination files and flushes dirty pages, outside
// the timed regions.
func settle(b *testing.B, paths ...string) {
	b.StopTimer()
	for _, p := range paths {
		_ = os.Remove(p)
	}
	syscall.Sync()
	b.StartTimer()
}

// --- benchmark plumbing (testing.B flavours of the test harness) ---

func startBenchServer(b *testing.B, host, extra string) *instance {
	b.Helper()
	return startServer(b, host, pairConfig(extra, ""))
}

func (in *instance) benchDial(b *testing.B, user string) *ftpclient.Conn {
	c, err := ftpclient.Dial(context.Background(), in.addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(client1), Timeout: 5 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Login(user, testPass); err != nil {
		b.Fatal(err)
	}
	return c
}

func fxpCopyB(b *testing.B, src, dst *ftpclient.Conn, srcPath, dstPath string, passiveSrc bool) fxpResult {
	return fxpCopy(b, src, dst, srcPath, dstPath, passiveSrc, false)
}
