package integration

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// TestS3UploadMemoryPerClient: slow senders from one address hold at most
// their share of upload_memory (upload_memory_per_client, by default a
// quarter, at least one part), so another client's upload still gets a
// buffer. upload_memory is two parts here, so the share is one part: the
// first slow upload of client1 holds a buffer, its second waits, and
// client2's upload takes the buffer left.
func TestS3UploadMemoryPerClient(t *testing.T) {
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, 10<<20)
	cfg := s3Config(store.Endpoint, "[metrics]\nlisten = \"{{HOST}}:0\"\n")
	cfg = replaceOnce(t, `upload_memory = "20MiB"`, `upload_memory = "10MiB"`)(cfg)
	// data_timeout: a waiting upload reads nothing, so without a buffer
	// it fails after this long; the slow senders trickle a byte a second
	// to stay alive. 10 s is far beyond what the uploads that do get a
	// buffer need even on a loaded machine (1 KiB and one PutObject).
	cfg = replaceOnce(t, "listen = \"{{HOST}}:0\"\n", "listen = \"{{HOST}}:0\"\ndata_timeout = \"10s\"\n")(cfg)
	in := startServer(t, hostA, cfg)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for i := range 2 {
		c := in.dial(client1, "sam", testPass)
		conn := openStor(t, c, client1, "STOR", "slow"+string(rune('a'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				if _, err := conn.Write([]byte{'x'}); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	// Both slow uploads have asked for a buffer (held or waiting).
	eventually(t, 30*time.Second, "both slow uploads ask for a buffer", func() bool {
		m := scrape(t, in)
		return m["ftpd_s3_upload_buffers"]+m["ftpd_s3_uploads_waiting"] == 2
	})
	if m := scrape(t, in); m["ftpd_s3_upload_buffers"] != 1 || m["ftpd_s3_uploads_waiting"] != 1 {
		t.Errorf("client1's two slow uploads: %v buffers held, %v waiting; want 1 and 1 (its share is one part)",
			m["ftpd_s3_upload_buffers"], m["ftpd_s3_uploads_waiting"])
	}
	c2 := in.dial(client2, "sam", testPass)
	body := bytes.Repeat([]byte("y"), 1024)
	if _, err := c2.Stor("fast", bytes.NewReader(body)); err != nil {
		t.Fatalf("client2's upload while client1's slow uploads hold memory: %v", err)
	}
	if !s3test.Exists(t, st, "sam/fast") {
		t.Fatal("client2's upload was answered but no object appeared")
	}
}
