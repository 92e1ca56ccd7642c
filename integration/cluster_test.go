package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/storage/s3store/s3test"
)

// The cluster: two ftpd instances (127.0.0.2, 127.0.0.3) sharing one os
// root (and, in TestClusterOnS3, one S3 bucket) behind HAProxy on 127.0.0.6 (127.0.0.4 is the interop peers'),
// which sends a PROXY v2 header on every control and passive data
// connection. Clients come from 127.0.0.10+; a standalone ftpd for FXP
// runs on 127.0.0.5.
const (
	balancerHost   = "127.0.0.6"
	standaloneHost = "127.0.0.5"
)

type cluster struct {
	a, b     *instance
	ctrl     string // balancer's round-robin control address
	ctrlA    string // balancer's control address that forwards only to a
	ctrlB    string // ... only to b
	shared   string // the os root both instances serve
	haproxy  *exec.Cmd
	haCfg    string
	haproxyP string
}

// freeRange finds n consecutive ports free on every host given.
func freeRange(t *testing.T, n int, hosts ...string) int {
	t.Helper()
	for base := 31000 + int(time.Now().UnixNano()%400)*50; base < 60000; base += n {
		ok := true
		var held []net.Listener
		for p := base; p < base+n && ok; p++ {
			for _, h := range hosts {
				l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", h, p))
				if err != nil {
					ok = false
					break
				}
				held = append(held, l)
			}
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func clusterConfig(shared string, pasv int, extraUser string) string {
	return fmt.Sprintf(`
[server]
listen = "{{HOST}}:0"
public_host = %q
passive_ports = "%d-%d"
proxy_protocol = true
trusted_proxies = [%q]

[fxp]
enabled = true
peers = ["127.0.0.5/32"]

[[users]]
name = "alice"
password_hash = %q
root = %q
allowed_ips = ["127.0.0.10/32"]
%s
[[users]]
name = "bob"
password = %q
root = %q
`, balancerHost, pasv, pasv+9, balancerHost+"/32", testHash, shared, extraUser, testPass, shared)
}

// clusterS3Extra is what the S3 cluster adds to both instances' configs:
// the bucket, one token key and spent_store = "s3", and the S3 user
// "sam" (same key prefix on both, logins from client1 only).
func clusterS3Extra(endpoint, keyFile string) string {
	return `
[[users]]
name = "sam"
password = "` + testPass + `"
backend = "s3"
root = "sam/"
allowed_ips = ["127.0.0.10/32"]

[s3]
endpoint = "` + endpoint + `"
region = "us-east-1"
bucket = "ftp"
path_style = true
part_size = "5MiB"
upload_memory = "20MiB"

[tokens]
key_file = "` + keyFile + `"
spent_store = "s3"
`
}

// startCluster starts the two instances (with extra appended to both
// configs) and HAProxy in front of them.
func startCluster(t *testing.T, extra string) *cluster {
	t.Helper()
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr == nil {
			haproxy = "/usr/sbin/haproxy"
		} else {
			interopUnavailable(t, errors.New("haproxy not found"))
		}
	}
	shared := t.TempDir()
	ports := freeRange(t, 23, hostA, hostB, balancerHost)
	pa, pb := ports, ports+10
	cl := &cluster{shared: shared, haproxyP: haproxy}
	cl.a = startServer(t, hostA, clusterConfig(shared, pa, "")+extra)
	cl.b = startServer(t, hostB, clusterConfig(shared, pb, "")+extra)
	cl.ctrl = fmt.Sprintf("%s:%d", balancerHost, ports+20)
	cl.ctrlA = fmt.Sprintf("%s:%d", balancerHost, ports+21)
	cl.ctrlB = fmt.Sprintf("%s:%d", balancerHost, ports+22)
	cfg := fmt.Sprintf(`global
  maxconn 200
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
  # Connect to the instances from the balancer's own address (the
  # instances trust only it); on loopback the kernel would pick 127.0.0.1.
  source %s
frontend ctrl
  bind %s
  default_backend ctrl
backend ctrl
  balance roundrobin
  server a %s send-proxy-v2
  server b %s send-proxy-v2
frontend ctrl_a
  bind %s
  default_backend only_a
backend only_a
  server a %s send-proxy-v2
frontend ctrl_b
  bind %s
  default_backend only_b
backend only_b
  server b %s send-proxy-v2
frontend pasv_a
  bind %s:%d-%d
  default_backend pasv_a
backend pasv_a
  server a %s send-proxy-v2
frontend pasv_b
  bind %s:%d-%d
  default_backend pasv_b
backend pasv_b
  server b %s send-proxy-v2
`, balancerHost, cl.ctrl, cl.a.addr, cl.b.addr, cl.ctrlA, cl.a.addr, cl.ctrlB, cl.b.addr,
		balancerHost, pa, pa+9, hostA, balancerHost, pb, pb+9, hostB)
	cl.haCfg = filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cl.haCfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxy, "-db", "-f", cl.haCfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cl.haproxy = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	// Wait for the balancer's last frontend (bounded: a hang, not speed).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", cl.ctrlB, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not listening: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cl
}

func dialVia(t *testing.T, addr, clientIP, user, pass string) (*ftpclient.Conn, error) {
	t.Helper()
	c, err := ftpclient.Dial(context.Background(), addr, ftpclient.Options{
		LocalAddr: netip.MustParseAddr(clientIP), Timeout: 15 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	if user != "" {
		if err := c.Login(user, pass); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func mustDialVia(t *testing.T, addr, clientIP, user, pass string) *ftpclient.Conn {
	t.Helper()
	c, err := dialVia(t, addr, clientIP, user, pass)
	if err != nil {
		t.Fatalf("login %s via %s from %s: %v", user, addr, clientIP, err)
	}
	return c
}

// TestClusterBehindHAProxy: what the balancer and the PROXY header change
// (addresses, passive gate, FXP), on a shared os root. The storage cases
// are in TestClusterOnS3.
func TestClusterBehindHAProxy(t *testing.T) {
	cl := startCluster(t, "")

	t.Run("allowed_ips judged on the PROXY address", func(t *testing.T) {
		for _, addr := range []string{cl.ctrlA, cl.ctrlB} {
			mustDialVia(t, addr, client1, "alice", testPass)
			if _, err := dialVia(t, addr, client2, "alice", testPass); err == nil {
				t.Fatalf("alice logged in from %s via %s; allowed_ips names only 127.0.0.10", client2, addr)
			}
			// bob has no allowed_ips: 127.0.0.11 may log in.
			mustDialVia(t, addr, client2, "bob", testPass)
		}
	})

	t.Run("stranger on a passive port refused on its PROXY address", func(t *testing.T) {
		writeFile(t, filepath.Join(cl.shared, "loot.bin"), randomBytes(t, 1<<20))
		c := mustDialVia(t, cl.ctrlA, client1, "alice", testPass)
		addr, err := c.Pasv()
		if err != nil {
			t.Fatal(err)
		}
		if addr.Addr().String() != balancerHost {
			t.Fatalf("PASV announced %s, want the balancer %s", addr, balancerHost)
		}
		attacker := rawDial(t, client2, addr.String())
		stolen := drainCount(attacker)
		if err := c.Send("RETR loot.bin"); err != nil {
			t.Fatal(err)
		}
		if n := <-stolen; n != 0 {
			t.Fatalf("the stranger received %d bytes", n)
		}
		cl.a.logs.waitFor(t, `"msg":"passive connection from a stranger closed"`, `"peer":"127.0.0.11"`)
		real := rawDial(t, client1, addr.String())
		n, _ := io.Copy(io.Discard, real)
		if code, msg, err := finalReply(c); err != nil || code != 226 || n != 1<<20 {
			t.Fatalf("real client: %d bytes, reply %d %s %v", n, code, msg, err)
		}
	})

	t.Run("no header or untrusted source: closed without a reply", func(t *testing.T) {
		for _, tc := range []struct{ from, send string }{
			{balancerHost, "USER alice\r\n"}, // trusted address, no header
			{client1, ""},                    // not a trusted proxy
		} {
			for _, inst := range []*instance{cl.a, cl.b} {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", inst.addr)
				if err != nil {
					continue // reset before connect returned: closed, nothing said
				}
				if tc.send != "" {
					_, _ = c.Write([]byte(tc.send))
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang bound
				got, err := io.ReadAll(c)
				c.Close()
				var ne net.Error
				if len(got) > 0 || errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("from %s to %s: got %q, %v; want a close without a reply", tc.from, inst.addr, got, err)
				}
			}
		}
		cl.a.logs.waitFor(t, `"msg":"connection closed without a reply"`, `not from a trusted proxy`)
		cl.a.logs.waitFor(t, `"msg":"connection closed without a reply"`, `no PROXY header`)
	})

	t.Run("FXP between the cluster and a standalone ftpd", func(t *testing.T) {
		// The standalone's peers: the balancer (it dials the cluster's
		// announced passive ports) and every instance (active data from
		// the cluster leaves from the instance's own address).
		full := startServer(t, standaloneHost, basicConfig("", "[fxp]\nenabled = true\npeers = [\"127.0.0.2/32\", \"127.0.0.3/32\", \"127.0.0.6/32\"]\n"))
		data := randomBytes(t, 4<<20)
		writeFile(t, filepath.Join(cl.shared, "fxp.bin"), data)
		writeFile(t, filepath.Join(full.root("alice"), "fxp.bin"), data)
		for i, inst := range []string{cl.ctrlA, cl.ctrlB} {
			for _, passiveSrc := range []bool{true, false} {
				cc := mustDialVia(t, inst, client1, "alice", testPass)
				sc := full.dial(client1, "alice", testPass)
				name := fmt.Sprintf("via-%d-%v", i, passiveSrc)
				if r := fxpCopy(t, cc, sc, "fxp.bin", "to-"+name, passiveSrc, false); !r.ok() {
					t.Fatalf("cluster -> standalone (%s): %v", name, r)
				}
				if fileSHA(t, filepath.Join(full.root("alice"), "to-"+name)) != sha(data) {
					t.Fatal("standalone copy differs")
				}
				if r := fxpCopy(t, sc, cc, "fxp.bin", "from-"+name, passiveSrc, true); !r.ok() {
					t.Fatalf("standalone -> cluster (%s): %v", name, r)
				}
				if fileSHA(t, filepath.Join(cl.shared, "from-"+name)) != sha(data) {
					t.Fatal("cluster copy differs")
				}
			}
		}
		// A standalone that lists only the balancer refuses data that an
		// instance sends actively: it arrives from 127.0.0.2, not .6.
		only := startServer(t, standaloneHost, basicConfig("", "[fxp]\nenabled = true\npeers = [\"127.0.0.6/32\"]\n"))
		cc := mustDialVia(t, cl.ctrlA, client1, "alice", testPass)
		sc := only.dial(client1, "alice", testPass)
		if r := fxpCopy(t, cc, sc, "fxp.bin", "refused.bin", false, false); r.ok() {
			t.Fatal("standalone listing only the balancer accepted data from instance a")
		}
		only.logs.waitFor(t, `"peer":"127.0.0.2"`, `127.0.0.2 is not an allowed FXP peer`)
	})
}

// TestClusterOnS3: both instances keep files and token spends in one
// bucket (versitygw; skipped without it, failed under CI=true), behind
// HAProxy: a file uploaded through one is downloaded through the other,
// a download cut by its instance's death resumes (REST) through the
// other, and a one-use token raced on both logs in once.
func TestClusterOnS3(t *testing.T) {
	store := s3test.Start(t)
	store.Store(t, "ftp", 5<<20, 10<<20) // creates the bucket
	cl := startCluster(t, clusterS3Extra(store.Endpoint, filepath.Join(t.TempDir(), "token.key")))

	t.Run("upload through one instance, download through the other", func(t *testing.T) {
		data := randomBytes(t, 3<<20)
		up := mustDialVia(t, cl.ctrlA, client1, "sam", testPass)
		if _, err := up.Stor("shared.bin", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		down := mustDialVia(t, cl.ctrlB, client1, "sam", testPass)
		var buf bytes.Buffer
		if _, err := down.Retr("shared.bin", &buf); err != nil {
			t.Fatal(err)
		}
		if sha(buf.Bytes()) != sha(data) {
			t.Fatalf("downloaded %d bytes, not what was uploaded", buf.Len())
		}
		// The file is the bucket's object sam/shared.bin (versitygw's
		// posix root holds it as a file).
		if fileSHA(t, filepath.Join(store.Dir, "ftp", "sam", "shared.bin")) != sha(data) {
			t.Fatal("the bucket's sam/shared.bin is not the uploaded file")
		}
		// Each instance saw the client's address, not the balancer's.
		cl.a.logs.waitFor(t, `127.0.0.10`, `STOR`)
		cl.b.logs.waitFor(t, `127.0.0.10`, `RETR`)
	})

	t.Run("one-use token raced through the balancer on both instances", func(t *testing.T) {
		up := mustDialVia(t, cl.ctrl, client1, "sam", testPass)
		if _, err := up.Stor("tok.bin", bytes.NewReader([]byte("token"))); err != nil {
			t.Fatal(err)
		}
		for _, uses := range []int{1, 3} {
			u, err := url.Parse(mintToken(t, cl.a, "-user", "sam", "-path", "/tok.bin", "-fxp", "send", "-ttl", "1h", "-uses", fmt.Sprint(uses)))
			if err != nil {
				t.Fatal(err)
			}
			pass, _ := u.User.Password()
			// Half the racers through the frontend that reaches only a,
			// half through the one that reaches only b: every login
			// races on both instances at once.
			const racers = 8 // per instance
			ok := raceLogins(2*racers, func(i int) error {
				via := cl.ctrlA
				if i%2 == 1 {
					via = cl.ctrlB
				}
				_, err := dialVia(t, via, client1, u.User.Username(), pass)
				return err
			})
			if ok != uses {
				t.Fatalf("uses=%d: %d of %d racing logins through HAProxy succeeded, want exactly %d", uses, ok, 2*racers, uses)
			}
		}
		// Both instances refused spent uses: each asked the bucket, on
		// the client's address (the PROXY header's).
		cl.a.logs.waitFor(t, `"msg":"token refused"`, `"reason":"spent"`, `127.0.0.10`)
		cl.b.logs.waitFor(t, `"msg":"token refused"`, `"reason":"spent"`, `127.0.0.10`)
	})
	t.Run("instance killed mid-download, client resumes through the other", func(t *testing.T) {
		data := randomBytes(t, 32<<20)
		up := mustDialVia(t, cl.ctrlB, client1, "sam", testPass)
		if _, err := up.Stor("big.bin", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		c := mustDialVia(t, cl.ctrlA, client1, "sam", testPass)
		var got bytes.Buffer
		w := &killAfter{w: &got, at: 1 << 20, kill: func() {
			// The client stops reading while a dies: socket buffers
			// (a few MiB) cannot hold the rest of 32 MiB.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = cl.a.srv.Shutdown(ctx)
		}}
		if _, err := c.Retr("big.bin", w); err == nil {
			t.Fatal("download completed although its instance was stopped")
		}
		if got.Len() >= len(data) {
			t.Fatalf("got all %d bytes before the kill", got.Len())
		}
		// The round-robin frontend: a is down, HAProxy retries and
		// redispatches to b.
		c2 := mustDialVia(t, cl.ctrl, client1, "sam", testPass)
		if _, err := c2.Expect(350, "REST %d", got.Len()); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.Retr("big.bin", &got); err != nil {
			t.Fatal(err)
		}
		if sha(got.Bytes()) != sha(data) {
			t.Fatalf("resumed file: %d bytes, differs", got.Len())
		}
	})
	// After the kill a is down; ctrl reaches b.
	t.Run("store down: token logins refused and not spent, downloads fail; back up: the token works once", func(t *testing.T) {
		link, err := url.Parse(mintToken(t, cl.b, "-user", "sam", "-path", "/tok.bin", "-fxp", "send", "-ttl", "1h", "-uses", "1"))
		if err != nil {
			t.Fatal(err)
		}
		pass, _ := link.User.Password()
		c := mustDialVia(t, cl.ctrl, client1, "sam", testPass)
		store.Kill()
		if _, err := dialVia(t, cl.ctrl, client1, link.User.Username(), pass); err == nil {
			t.Fatal("token login granted while its spent store is down")
		}
		cl.b.logs.waitFor(t, `"msg":"token spent store"`)
		var buf bytes.Buffer
		if _, err := c.Retr("shared.bin", &buf); err == nil {
			t.Fatalf("RETR succeeded (%d bytes) while the store is down", buf.Len())
		} else if strings.Contains(err.Error(), store.Endpoint) {
			t.Fatalf("RETR's reply names the store: %v", err)
		}
		store.Restart(t)
		if _, err := dialVia(t, cl.ctrl, client1, link.User.Username(), pass); err != nil {
			t.Fatalf("token refused after the store came back (the refused attempt spent it?): %v", err)
		}
		if _, err := dialVia(t, cl.ctrl, client1, link.User.Username(), pass); err == nil {
			t.Fatal("the one-use token logged in twice")
		}
	})
}

// killAfter passes writes on and, once at bytes went through, calls kill
// (once) before taking more.
type killAfter struct {
	w    io.Writer
	at   int
	n    int
	kill func()
}

func (k *killAfter) Write(p []byte) (int, error) {
	n, err := k.w.Write(p)
	k.n += n
	if k.kill != nil && k.n >= k.at {
		k.kill()
		k.kill = nil
	}
	return n, err
}
