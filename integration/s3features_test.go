package integration

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// TestS3FeaturesUnchanged: on an S3 user, secure FXP (PROT P, SSCN) works
// in both directions, the user's download_rate holds the transfer down,
// SITE XFERS shows it while it runs, and the metrics count it, as for an
// os user.
func TestS3FeaturesUnchanged(t *testing.T) {
	store := s3test.Start(t)
	st := store.Store(t, "ftp", 5<<20, 10<<20)
	certDir := t.TempDir()
	clientTLS := writeTestCert(t, certDir)
	tlsTable := "[server.tls]\nmode = \"explicit\"\ncert_file = \"" + certDir + "/cert.pem\"\nkey_file = \"" + certDir + "/key.pem\"\n"
	s3Table := "[s3]\nendpoint = \"" + store.Endpoint + "\"\nbucket = \"ftp\"\npath_style = true\npart_size = \"5MiB\"\nupload_memory = \"20MiB\"\n" +
		"[metrics]\nlisten = \"{{HOST}}:0\"\n"
	const rate = 8 << 20
	cfgA := pairConfig(fxpOn+"\n"+tlsTable+s3Table, `download_rate = "8MiB"`)
	cfgA = replaceOnce(t, `root = "{{DIR}}/alice"`, "root = \"alice/\"\nbackend = \"s3\"")(cfgA)
	a := startServer(t, hostA, cfgA)
	b := startServer(t, hostB, pairConfig(fxpOn+"\n"+tlsTable, ""))
	const size = 24<<20 + 5 // 3 s at download_rate; more than one part
	data := randomBytes(t, size)
	s3test.Put(t, st, "alice/src", data)
	ca := dialTLS(t, a, clientTLS, false, false)
	cb := dialTLS(t, b, clientTLS, false, false)
	watcher := a.dial(client2, "alice", testPass)
	before := scrape(t, a)

	// S3 -> os, A passive and the TLS client (SSCN ON).
	sscn(t, ca, true)
	done := make(chan fxpResult, 1)
	go func() { done <- fxpCopyWith(t, ca, cb, "src", "copy", true, "PASV") }()
	seen := 0
	var r fxpResult
watch:
	for {
		select {
		case r = <-done:
			break watch
		case <-time.After(200 * time.Millisecond):
		}
		msg, err := watcher.Expect(200, "SITE XFERS")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(msg, "\n")
		if len(lines) != 3 || lines[0] != "1 transfer(s) in progress" {
			continue
		}
		m := xferLine.FindStringSubmatch(lines[1])
		if m == nil || m[2] != "RETR" || m[9] != "yes" || m[10] != "/src" || m[5] != strconv.Itoa(size) {
			t.Fatalf("SITE XFERS during the S3 FXP: %q", lines[1])
		}
		seen++
		// The limiter pays before bytes move, so whatever the load, the
		// bytes sent so far stay within rate × elapsed plus one burst
		// (20 ms of rate) and a chunk of slack.
		sent, _ := strconv.ParseInt(m[4], 10, 64)
		elapsed, _ := strconv.ParseFloat(m[7], 64)
		if limit := float64(rate)*elapsed + 1<<20; float64(sent) > limit {
			t.Errorf("%d bytes sent after %.3f s: above download_rate (at most %.0f)", sent, elapsed, limit)
		}
	}
	if !r.ok() {
		t.Fatalf("secure FXP S3 -> os: %v", r)
	}
	if seen == 0 {
		t.Error("SITE XFERS never showed the S3 transfer")
	}
	if fileSHA(t, b.root("alice")+"/copy") != sha(data) {
		t.Fatal("secure FXP S3 -> os: copy differs")
	}

	// os -> S3, A active and the TLS client (SSCN ON on the PORT side).
	if r := fxpCopyWith(t, cb, ca, "copy", "back", true, "PASV"); !r.ok() {
		t.Fatalf("secure FXP os -> S3: %v", r)
	}
	got, err := s3test.Get(t, st, "alice/back")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("secure FXP os -> S3: object differs (%d bytes, %v)", len(got), err)
	}

	after := scrape(t, a)
	for _, c := range []struct {
		key  string
		want float64
	}{
		{`ftpd_transfers_total{command="RETR",fxp="true",result="ok"}`, 1},
		{`ftpd_transfers_total{command="STOR",fxp="true",result="ok"}`, 1},
		{`ftpd_transfer_bytes_total{direction="send",fxp="true"}`, size},
		{`ftpd_transfer_bytes_total{direction="receive",fxp="true"}`, size},
	} {
		if d := delta(before, after, c.key); d != c.want {
			t.Errorf("%s grew by %v, want %v", c.key, d, c.want)
		}
	}
}
