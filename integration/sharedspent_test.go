package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// TestTokenSpentInS3AcrossInstances: two instances share one key file and
// keep token spends in one S3 bucket ([tokens] spent_store = "s3"); a
// token allowing n logins, raced on both instances at once, logs in
// exactly n times in all (each use is a conditional create that only one
// request wins).
func TestTokenSpentInS3AcrossInstances(t *testing.T) {
	store := s3test.Start(t)
	store.Store(t, "ftp", 5<<20, 10<<20) // creates the bucket
	keyDir := t.TempDir()
	s3Table := `
[s3]
endpoint = "` + store.Endpoint + `"
region = "us-east-1"
bucket = "ftp"
path_style = true
`
	cfg := strings.Replace(tokenConfig(keyDir, s3Table), "[tokens]\n", "[tokens]\nspent_store = \"s3\"\n", 1)
	a := startServer(t, hostA, cfg)
	b := startServer(t, hostB, cfg)
	if filepath.Dir(a.cfg.Tokens.KeyFile) != keyDir || a.cfg.Tokens.KeyFile != b.cfg.Tokens.KeyFile {
		t.Fatalf("the instances do not share the key: %q %q", a.cfg.Tokens.KeyFile, b.cfg.Tokens.KeyFile)
	}
	for _, uses := range []int{1, 3} {
		t.Run(fmt.Sprintf("uses=%d", uses), func(t *testing.T) {
			link := mintToken(t, a, "-user", "alice", "-path", "/x.bin", "-fxp", "send", "-ttl", "1h", "-uses", fmt.Sprint(uses))
			const racers = 8 // per instance
			ok := raceLogins(2*racers, func(i int) error {
				in := a
				if i%2 == 1 {
					in = b
				}
				c, err := tokenLogin(t, in, link)
				c.Close()
				return err
			})
			if ok != uses {
				t.Fatalf("%d of %d racing logins on two instances succeeded, want exactly %d", ok, 2*racers, uses)
			}
		})
	}
}

// raceLogins runs login(0..n-1) at once and counts those that succeeded.
func raceLogins(n int, login func(i int) error) int {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if login(i) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok
}
