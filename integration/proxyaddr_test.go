package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// proxied opens a control connection from client1 (the trusted proxy)
// whose PROXY v1 header names claimed as the client, and returns it with
// the code of the server's first reply.
func proxied(t *testing.T, in *instance, claimed string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client1)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	host, port, _ := net.SplitHostPort(in.addr)
	fmt.Fprintf(conn, "PROXY TCP4 %s %s 40000 %s\r\n", claimed, host, port)
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang detector only
	r := bufio.NewReader(conn)
	return conn, r, readCode(t, r)
}

// readCode reads one reply (multi-line aware) and returns its code.
func readCode(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	var code int
	fmt.Sscanf(line, "%d", &code)
	if len(line) > 3 && line[3] == '-' {
		for !strings.HasPrefix(line, line[:3]+" ") {
			if line, err = r.ReadString('\n'); err != nil {
				t.Fatalf("multi-line reply cut: %v", err)
			}
		}
	}
	return code
}

func send(t *testing.T, conn net.Conn, r *bufio.Reader, cmd string) int {
	t.Helper()
	fmt.Fprintf(conn, "%s\r\n", cmd)
	return readCode(t, r)
}

// TestProxyAddressForBansAndCaps: behind a PROXY-protocol proxy every
// connection comes from the proxy's address, and the header's address is
// what max_connections_per_ip and the login-failure ban count: a client
// the header names is capped and banned, another client through the same
// proxy is not.
func TestProxyAddressForBansAndCaps(t *testing.T) {
	proxyOn := "proxy_protocol = true\ntrusted_proxies = [\"" + client1 + "/32\"]\n"
	t.Run("max_connections_per_ip", func(t *testing.T) {
		in := startServer(t, hostA, basicConfig(proxyOn, "[limits]\nmax_connections_per_ip = 1\n"))
		if _, _, code := proxied(t, in, "127.0.0.50"); code != 220 {
			t.Fatalf("first connection of 127.0.0.50: %d", code)
		}
		if _, _, code := proxied(t, in, "127.0.0.50"); code != 421 {
			t.Fatalf("second connection of 127.0.0.50 at max_connections_per_ip = 1: %d, want 421", code)
		}
		if _, _, code := proxied(t, in, "127.0.0.51"); code != 220 {
			t.Fatalf("127.0.0.51 through the same proxy: %d, want 220 (the cap is per client, not per proxy)", code)
		}
	})
	t.Run("ban", func(t *testing.T) {
		in := startServer(t, hostA, basicConfig(proxyOn, "[limits]\nmax_login_failures = 2\nban_duration = \"1h\"\n"))
		for i := range 2 {
			conn, r, code := proxied(t, in, "127.0.0.50")
			if code != 220 {
				t.Fatalf("connection %d of 127.0.0.50: %d", i, code)
			}
			send(t, conn, r, "USER bob")
			if code := send(t, conn, r, "PASS wrong"); code != 530 {
				t.Fatalf("wrong password: %d", code)
			}
			conn.Close()
		}
		eventually(t, 30*time.Second, "127.0.0.50 banned", func() bool {
			conn, _, code := proxied(t, in, "127.0.0.50")
			conn.Close()
			return code == 421
		})
		conn, r, code := proxied(t, in, "127.0.0.51")
		if code != 220 {
			t.Fatalf("127.0.0.51 through the proxy of a banned client: %d, want 220", code)
		}
		send(t, conn, r, "USER bob")
		if code := send(t, conn, r, "PASS "+testPass); code != 230 {
			t.Fatalf("127.0.0.51 login: %d, want 230", code)
		}
	})
}
