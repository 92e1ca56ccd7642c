package integration

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkRateLimit measures how close downloads get to their limits:
// one 64 MiB download at per-user limits of 1, 8 and 64 MiB/s, then four
// concurrent downloads sharing a server-wide limit (fairness = slowest /
// fastest). Reported as achieved/target ratios; the goal is within ±5 %
// and fairness within ±10 %. FTPD_BENCH_SIZE changes the file size.
//
//	go test -run=^$ -bench=RateLimit -benchtime=1x ./integration/
func BenchmarkRateLimit(b *testing.B) {
	size := int64(64 << 20)
	if s := benchSize(b); s != 1<<30 {
		size = s
	}
	for _, mib := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("user-%dMiB", mib), func(b *testing.B) {
			cfg := strings.Replace(pairConfig("", ""), `root = "{{DIR}}/alice"`,
				fmt.Sprintf("root = \"{{DIR}}/alice\"\ndownload_rate = \"%dMiB\"", mib), 1)
			a := startServer(b, hostA, cfg)
			benchFile(b, filepath.Join(a.root("alice"), "f.bin"), size)
			c := a.benchDial(b, "alice")
			b.SetBytes(size)
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if n, err := c.Retr("f.bin", io.Discard); err != nil || n != size {
					b.Fatalf("%d %v", n, err)
				}
				total += time.Since(start)
			}
			achieved := float64(size) * float64(b.N) / total.Seconds()
			b.ReportMetric(achieved/float64(mib<<20), "achieved/target")
		})
	}
	b.Run("server-16MiB-4-downloads", func(b *testing.B) {
		const mib, n = 16, 4
		a := startServer(b, hostA, pairConfig(fmt.Sprintf("[limits]\ndownload_rate = \"%dMiB\"\n", mib), ""))
		benchFile(b, filepath.Join(a.root("alice"), "f.bin"), size)
		conns := make([]*instanceConn, n)
		for i := range conns {
			conns[i] = &instanceConn{c: a.benchDial(b, "alice")}
		}
		b.SetBytes(size * n)
		b.ResetTimer()
		var worstFair, worstRate = 1.0, 1.0
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			start := time.Now()
			durs := make([]time.Duration, n)
			for j, ic := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t0 := time.Now()
					if got, err := ic.c.Retr("f.bin", io.Discard); err != nil || got != size {
						b.Errorf("%d %v", got, err)
					}
					durs[j] = time.Since(t0)
				}()
			}
			wg.Wait()
			all := time.Since(start)
			rate := float64(size*n) / all.Seconds() / float64(mib<<20)
			fast, slow := durs[0], durs[0]
			for _, d := range durs {
				fast, slow = min(fast, d), max(slow, d)
			}
			fair := fast.Seconds() / slow.Seconds()
			worstFair = math.Min(worstFair, fair)
			if math.Abs(rate-1) > math.Abs(worstRate-1) {
				worstRate = rate
			}
		}
		b.ReportMetric(worstRate, "achieved/target")
		b.ReportMetric(worstFair, "fairness")
	})
}

type instanceConn struct {
	c interface {
		Retr(string, io.Writer) (int64, error)
	}
}
