package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var xferLine = regexp.MustCompile(`^ id=(\d+) cmd=(\S+) dir=(\S+) bytes=(\d+) size=(-?\d+) rate=(\d+) elapsed=(\d+\.\d{3}) peer=(\S+) fxp=(yes|no) path=(.*)$`)

func TestSiteXfers(t *testing.T) {
	a := startServer(t, hostA, strings.Replace(basicConfig("", ""), `root = "{{DIR}}/alice"`,
		`root = "{{DIR}}/alice"`+"\ndownload_rate = \"8MiB\"", 1))
	size := 32 << 20
	writeFile(t, filepath.Join(a.root("alice"), "slow file.bin"), randomBytes(t, size))
	c := a.dial(client1, "alice", testPass)
	watcher := a.dial(client2, "alice", testPass)

	msg, err := watcher.Expect(200, "SITE XFERS")
	if err != nil || !strings.HasPrefix(msg, "0 transfer(s) in progress") {
		t.Fatalf("idle report: %q %v", msg, err)
	}
	done := make(chan error, 1)
	go func() {
		n, err := c.Retr("slow file.bin", io.Discard)
		if err == nil && n != int64(size) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	var seen []int64
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		msg, err := watcher.Expect(200, "SITE XFERS")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(msg, "\n")
		if lines[len(lines)-1] != "End" {
			t.Fatalf("report does not end with End: %q", msg)
		}
		if len(lines) != 3 || lines[0] != "1 transfer(s) in progress" {
			continue
		}
		m := xferLine.FindStringSubmatch(lines[1])
		if m == nil {
			t.Fatalf("unparseable line %q", lines[1])
		}
		if m[2] != "RETR" || m[3] != "send" || m[5] != strconv.Itoa(size) || m[9] != "no" || m[10] != "/slow file.bin" || !strings.HasPrefix(m[8], "127.0.0.10:") {
			t.Fatalf("wrong fields: %q", lines[1])
		}
		n, _ := strconv.ParseInt(m[4], 10, 64)
		if len(seen) > 0 && n <= seen[len(seen)-1] {
			t.Fatalf("byte count did not grow: %v then %d", seen, n)
		}
		seen = append(seen, n)
	}
	if len(seen) < 3 {
		t.Fatalf("saw the transfer only %d times", len(seen))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msg, err = watcher.Expect(200, "SITE XFERS")
	if err != nil || !strings.HasPrefix(msg, "0 transfer(s) in progress") {
		t.Fatalf("report after 226: %q %v", msg, err)
	}
	// Another user does not see alice's transfers.
	bob := a.dial(client2, "bob", testPass)
	if msg, err := bob.Expect(200, "SITE XFERS"); err != nil || !strings.HasPrefix(msg, "0 ") {
		t.Fatalf("bob's report: %q %v", msg, err)
	}
}

// scrape returns the metrics of a server as name{labels} -> value.
func scrape(t *testing.T, in *instance) map[string]float64 {
	t.Helper()
	addr := in.srv.MetricsAddr()
	if addr == nil {
		t.Fatal("metrics are off")
	}
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client1)}}).DialContext,
	}}
	resp, err := client.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func delta(before, after map[string]float64, key string) float64 { return after[key] - before[key] }

func TestMetrics(t *testing.T) {
	// Narrow peers (the other server only): the thief on 127.0.0.11 is
	// then a stranger.
	on := fxpOn + "[metrics]\nlisten = \"{{HOST}}:0\"\n"
	a := startServer(t, hostA, pairConfig(on, ""))
	b := startServer(t, hostB, pairConfig(on, ""))
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), randomBytes(t, 1<<20))
	ca := a.dial(client1, "alice", testPass)
	cb := b.dial(client1, "alice", testPass)

	beforeA, beforeB := scrape(t, a), scrape(t, b)
	if r := fxpCopy(t, ca, cb, "src.bin", "dst.bin", true, false); !r.ok() {
		t.Fatal(r)
	}
	afterA, afterB := scrape(t, a), scrape(t, b)
	checks := []struct {
		before, after map[string]float64
		key           string
		want          float64
	}{
		{beforeA, afterA, `ftpd_transfers_total{command="RETR",fxp="true",result="ok"}`, 1},
		{beforeB, afterB, `ftpd_transfers_total{command="STOR",fxp="true",result="ok"}`, 1},
		{beforeA, afterA, `ftpd_transfer_bytes_total{direction="send",fxp="true"}`, 1 << 20},
		{beforeB, afterB, `ftpd_transfer_bytes_total{direction="receive",fxp="true"}`, 1 << 20},
		{beforeB, afterB, `ftpd_transfer_duration_seconds_count{command="STOR",fxp="true"}`, 1},
		{beforeA, afterA, `ftpd_refusals_total{reason="privileged_port"}`, 0},
	}
	for _, c := range checks {
		if d := delta(c.before, c.after, c.key); d != c.want {
			t.Errorf("%s moved by %v, want %v", c.key, d, c.want)
		}
	}
	if afterA["ftpd_sessions"] != 1 || afterA["ftpd_connections"] != 1 {
		t.Errorf("gauges: sessions %v connections %v", afterA["ftpd_sessions"], afterA["ftpd_connections"])
	}

	// A refused PORT to port 21: exactly one privileged_port refusal.
	before := scrape(t, a)
	if _, err := ca.Expect(501, "PORT 127,0,0,10,0,21"); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, a)
	if d := delta(before, after, `ftpd_refusals_total{reason="privileged_port"}`); d != 1 {
		t.Errorf("privileged_port refusals moved by %v, want 1", d)
	}

	// A port-theft attempt: exactly one port_theft refusal, and the real
	// download still completes.
	before = scrape(t, a)
	addr, err := ca.Pasv()
	if err != nil {
		t.Fatal(err)
	}
	thief := rawDial(t, client2, addr.String())
	if err := ca.Send("RETR src.bin"); err != nil {
		t.Fatal(err)
	}
	_ = thief.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := io.Copy(io.Discard, thief); n != 0 {
		t.Fatalf("thief got %d bytes", n)
	}
	real := rawDial(t, client1, addr.String())
	if n, _ := io.Copy(io.Discard, real); n != 1<<20 {
		t.Fatalf("client got %d bytes", n)
	}
	for {
		code, _, err := ca.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		if code != 150 {
			break
		}
	}
	after = scrape(t, a)
	if d := delta(before, after, `ftpd_refusals_total{reason="port_theft"}`); d != 1 {
		t.Errorf("port_theft refusals moved by %v, want 1", d)
	}
	if d := delta(before, after, `ftpd_transfers_total{command="RETR",fxp="false",result="ok"}`); d != 1 {
		t.Errorf("RETR ok moved by %v, want 1", d)
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", ""))
	if addr := a.srv.MetricsAddr(); addr != nil {
		t.Fatalf("metrics listening on %s without [metrics] listen", addr)
	}
}

func TestJSONLogKeys(t *testing.T) {
	a := startServer(t, hostA, basicConfig("", fxpOn))
	c := a.dial(client1, "alice", testPass)
	if _, err := c.Expect(501, "PORT 127,0,0,10,0,25"); err != nil {
		t.Fatal(err)
	}
	line := a.logs.waitFor(t, `"msg":"data connection refused"`)
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("not JSON: %q", line)
	}
	for _, k := range []string{"time", "level", "msg", "user", "client_ip", "peer", "port", "direction", "command", "reason"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("refusal log lacks %q: %s", k, line)
		}
	}
	if rec["level"] != "WARN" || rec["reason"] != "privileged_port" || rec["port"] != float64(25) || rec["command"] != "PORT" {
		t.Errorf("refusal log values: %s", line)
	}
}
