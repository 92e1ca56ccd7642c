package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// rateConfig is basicConfig with server-wide rate limits of rate each way.
func rateConfig(rate string) string {
	return basicConfig("", fmt.Sprintf("[limits]\nmax_connections = 200\nmax_connections_per_ip = 100\ndownload_rate = %q\nupload_rate = %q\n", rate, rate))
}

// TestReloadUnderLoadIntegrity runs 40 concurrent rate-limited transfers
// (20 RETR, 20 STOR) while reloads flip the limits between 16 and 12 MiB/s.
// Every 226 must carry the whole file; nothing may be truncated.
func TestReloadUnderLoadIntegrity(t *testing.T) {
	a := startServer(t, hostA, rateConfig("16MiB"))
	const n, size = 20, 1 << 20
	data := randomBytes(t, size)
	for i := range n {
		writeFile(t, filepath.Join(a.root("alice"), fmt.Sprintf("down%d.bin", i)), data)
	}
	conns := make([]*ftpclient.Conn, 2*n)
	for i := range conns {
		conns[i] = a.dial(client1, "alice", testPass)
	}

	// Every transfer stops halfway (its client stops reading or sending)
	// until five reloads have happened, so the reloads fall in the middle
	// of the transfers however fast or loaded the machine is. (Counting
	// the reloads that happened to fit in the transfers' time failed on a
	// loaded machine, where each reload is slower.)
	const minReloads = 5
	enough := make(chan struct{})
	halfway := func() error {
		select {
		case <-enough:
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("fewer than %d reloads in a minute", minReloads)
		}
	}
	stop := make(chan struct{})
	reloads := make(chan int)
	go func() {
		count := 0
		defer func() { reloads <- count }()
		rates := []string{"12MiB", "16MiB"}
		for {
			select {
			case <-stop:
				return
			case <-time.After(70 * time.Millisecond):
			}
			if err := os.WriteFile(a.config, []byte(strings.ReplaceAll(strings.ReplaceAll(
				rateConfig(rates[count%2]), "{{DIR}}", a.dir), "{{HOST}}", hostA)), 0o600); err != nil {
				t.Error(err)
				return
			}
			a.reload(t)
			count++
			if count == minReloads {
				close(enough)
			}
		}
	}()

	type result struct {
		what string
		err  error
		ok   bool
	}
	results := make([]result, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			_, err := conns[i].Retr(fmt.Sprintf("down%d.bin", i), writerFunc(func(p []byte) (int, error) {
				if buf.Len() < size/2 && buf.Len()+len(p) >= size/2 {
					if err := halfway(); err != nil {
						return 0, err
					}
				}
				return buf.Write(p)
			}))
			results[i] = result{what: fmt.Sprintf("RETR down%d.bin (%d bytes)", i, buf.Len()), err: err,
				ok: sha(buf.Bytes()) == sha(data)}
		}()
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("up%d.bin", i)
			_, err := conns[n+i].Stor(name, io.MultiReader(bytes.NewReader(data[:size/2]),
				readerFunc(func([]byte) (int, error) {
					if err := halfway(); err != nil {
						return 0, err
					}
					return 0, io.EOF // on to the second half
				}), bytes.NewReader(data[size/2:])))
			b, _ := os.ReadFile(filepath.Join(a.root("alice"), name))
			results[n+i] = result{what: fmt.Sprintf("STOR %s (%d bytes on disk)", name, len(b)), err: err,
				ok: sha(b) == sha(data)}
		}()
	}
	wg.Wait()
	close(stop)
	if r := <-reloads; r < minReloads {
		t.Fatalf("only %d reloads happened during the transfers", r)
	}
	intact := 0
	for _, r := range results {
		var re *ftpclient.ReplyError
		switch {
		case r.ok && r.err == nil:
			intact++
		case r.err == nil:
			t.Errorf("%s: answered 226 but the file is not whole", r.what)
		case errors.As(r.err, &re) && (re.Code == 451 || re.Code == 426):
			t.Errorf("%s: failed honestly (%d %s) but should not have failed", r.what, re.Code, re.Msg)
		default:
			t.Errorf("%s: %v", r.what, r.err)
		}
	}
	if intact != 2*n {
		t.Fatalf("%d of %d transfers intact", intact, 2*n)
	}
}

// readerFunc is an io.Reader from a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
