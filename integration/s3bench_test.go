package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// TestS3Bench measures, when FTPD_S3_BENCH=1, RETR and STOR through ftpd
// against the same SDK's direct GET and PUT to the same versitygw (as
// ratios, best of 3), and the Go heap's peak during 16 parallel uploads
// against upload_memory. Not a pass/fail test of speed: it fails only if
// the heap peak exceeds upload_memory + 64 MiB.
func TestS3Bench(t *testing.T) {
	if os.Getenv("FTPD_S3_BENCH") != "1" {
		t.Skip("set FTPD_S3_BENCH=1 to measure S3 throughput and memory")
	}
	const size = 256 << 20
	const memory = 80 << 20 // 16 parts of 5 MiB
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, memory)
	in := startServer(t, hostA, s3Config(store.Endpoint, "")) // upload_memory 20MiB there
	_ = in
	cfg := s3Config(store.Endpoint, "")
	cfg = replaceOnce(t, `upload_memory = "20MiB"`, `upload_memory = "80MiB"`)(cfg)
	in = startServer(t, hostB, cfg)
	data := randomBytes(t, size)
	ctx := context.Background()
	c := in.dial(client1, "sam", testPass)
	best := func(f func()) time.Duration {
		b := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			f()
			b = min(b, time.Since(start))
		}
		return b
	}
	putDirect := best(func() {
		if _, err := st.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ftp"), Key: aws.String("sam/direct"), Body: bytes.NewReader(data), ContentLength: aws.Int64(size)}); err != nil {
			t.Fatal(err)
		}
	})
	stor := best(func() {
		if _, err := c.Stor("viaftp", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	})
	getDirect := best(func() {
		out, err := st.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ftp"), Key: aws.String("sam/direct")})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	})
	retr := best(func() {
		if _, err := c.Retr("direct", io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	t.Logf("RETR %.0f MB/s vs direct GET %.0f MB/s: ratio %.2f", mbs(retr), mbs(getDirect), getDirect.Seconds()/retr.Seconds())
	t.Logf("STOR %.0f MB/s vs direct PUT %.0f MB/s: ratio %.2f", mbs(stor), mbs(putDirect), putDirect.Seconds()/stor.Seconds())

	// 16 parallel uploads of 64 MiB, heap sampled every 10 ms.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := in.dial(client1, "sam", testPass)
			if _, err := cc.Stor(fmt.Sprintf("par%d", i), bytes.NewReader(data[:64<<20])); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	grow := int64(peak.Load()) - int64(base)
	t.Logf("16 parallel 64 MiB uploads, upload_memory 80 MiB: Go heap peak %d MiB above the idle %d MiB", grow>>20, base>>20)
	if grow > memory+64<<20 {
		t.Errorf("heap grew %d MiB: above upload_memory + 64 MiB", grow>>20)
	}
}
