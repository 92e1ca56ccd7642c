package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// holdParts is an HTTP transport that keeps every UploadPart request of
// part 1 waiting until release is closed, and tells started when one
// arrives.
type holdParts struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *holdParts) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.URL.Query().Get("partNumber") == "1" {
		h.once.Do(func() { close(h.started) })
		select {
		case <-h.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// writeWhileHeld writes p to w, which must send part 1 on the way, and
// fails unless the write returns while part 1 is held at the store.
func (h *holdParts) writeWhileHeld(t *testing.T, w io.Writer, p []byte) {
	t.Helper()
	wrote := make(chan error, 1)
	go func() { _, err := w.Write(p); wrote <- err }()
	select {
	case <-h.started:
	case <-time.After(waitLong):
		t.Fatal("part 1 was never sent")
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		close(h.release)
		t.Fatal("the write waited for part 1 to be sent: the next part did not fill meanwhile")
	}
}

// storeVia connects a Store through transport rt to srv's bucket "ftp"
// (made by srv.Store first).
func storeVia(t *testing.T, srv *s3test.Server, rt http.RoundTripper, partSize, memory int64) *s3store.Store {
	t.Helper()
	srv.Store(t, "ftp", partSize, memory)
	// The SDK refuses a custom client when a CA bundle is configured
	// (it cannot add the bundle to it); the store is plain HTTP.
	t.Setenv("AWS_CA_BUNDLE", "")
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "ftp", PathStyle: true,
		PartSize: partSize, UploadMemory: memory, HTTPClient: &http.Client{Transport: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitLong bounds a wait that only a bug makes long (a loaded machine
// finishes these in well under a second).
const waitLong = 30 * time.Second

// While part 1 is sent, part 2 fills: with a spare buffer in the budget,
// an upload receives a whole further part while part 1 is held at the
// store, and the object is whole at Commit.
func TestUploadFillsNextPartWhileSending(t *testing.T) {
	srv := s3test.Start(t)
	hold := &holdParts{started: make(chan struct{}), release: make(chan struct{})}
	st := storeVia(t, srv, hold, 5*mib, 10*mib) // two part buffers
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 11*mib/16) // parts of 5, 5 and 1 MiB
	f, err := fs.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	up := f.(*s3store.Upload)
	defer up.Close()
	// Part 1 full, one byte more (part 1 goes), then the rest of part 2.
	hold.writeWhileHeld(t, up, data[:10*mib])
	close(hold.release)
	if _, err := up.Write(data[10*mib:]); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := s3test.Get(t, st, "u/f")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object: %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	if ups := s3test.Uploads(t, st); len(ups) != 0 {
		t.Fatalf("multipart uploads left: %v", ups)
	}
}

// An upload never waits for a second buffer: with a budget of one part
// per upload, two uploads of three parts each, at once, both finish (each
// sends its parts one after another). An upload that waited for a second
// buffer while holding one would wait here forever.
func TestUploadWithoutSpareBufferSendsInTurn(t *testing.T) {
	srv := s3test.Start(t)
	st := srv.Store(t, "ftp", 5*mib, 10*mib)
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("fedcba9876543210"), 12*mib/16)
	// Both uploads take their first buffer before either sends a part.
	ups := make([]*s3store.Upload, 2)
	for i := range ups {
		f, err := fs.Create(fmt.Sprintf("f%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ups[i] = f.(*s3store.Upload)
		defer ups[i].Close()
		if _, err := ups[i].Write(data[:1]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, len(ups))
	for _, up := range ups {
		go func() {
			_, err := up.ReadFrom(bytes.NewReader(data[1:]))
			if err == nil {
				err = up.Commit()
			}
			errs <- err
		}()
	}
	for range ups {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLong):
			t.Fatal("uploads holding one buffer each did not finish")
		}
	}
	for i := range ups {
		got, err := s3test.Get(t, st, fmt.Sprintf("u/f%d", i))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("object %d: %d bytes (%v), want %d", i, len(got), err, len(data))
		}
	}
}

// Close without Commit while a part is in flight: the part ends first,
// then the multipart upload is aborted; nothing is left and the old object
// stays.
func TestUploadAbortWithPartInFlight(t *testing.T) {
	srv := s3test.Start(t)
	hold := &holdParts{started: make(chan struct{}), release: make(chan struct{})}
	st := storeVia(t, srv, hold, 5*mib, 10*mib)
	fs, err := st.Fs(context.Background(), "u/")
	if err != nil {
		t.Fatal(err)
	}
	s3test.Put(t, st, "u/f", []byte("old"))
	f, err := fs.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	hold.writeWhileHeld(t, f, make([]byte, 5*mib+1))
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	close(hold.release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("Close did not return")
	}
	if ups := s3test.Uploads(t, st); len(ups) != 0 {
		t.Fatalf("multipart uploads left: %v", ups)
	}
	got, err := s3test.Get(t, st, "u/f")
	if err != nil || string(got) != "old" {
		t.Fatalf("old object: %q, %v", got, err)
	}
	// Both buffers are back: two uploads can each take one now.
	for i := range 2 {
		g, err := fs.Create(fmt.Sprintf("g%d", i))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := g.Write([]byte("x")); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLong):
			t.Fatalf("upload %d found no buffer: one was not given back", i)
		}
		defer g.Close()
	}
}
