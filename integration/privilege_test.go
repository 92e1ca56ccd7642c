package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Issue 13, item 1: started as root with run_as, ftpd binds its listener
// (a port below 1024) as root, then runs as the run_as account: the
// process's ids are that account's, uploads are owned by it and created
// with the configured umask.
func TestBinaryRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts ftpd as root to see it drop to run_as (CI runs as root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	port := privilegedFreePort(t, hostA)

	dir := t.TempDir()
	// The dropped process must reach its roots: open up the test's
	// directories and give it the parent of the roots.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := filepath.Join(dir, "srv")
	if err := os.Mkdir(srv, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(srv, uid, gid); err != nil {
		t.Fatal(err)
	}
	path := binWriteConfig(t, dir, fmt.Sprintf(`
[server]
listen = "%s:%d"
run_as = "nobody"
umask = "027"

[[users]]
name = "bob"
password = "%s"
root = "{{DIR}}/srv/bob"
`, hostA, port, testPass))
	p := binStart(t, dir, "-config", path)
	addr := p.listening()
	if addr != fmt.Sprintf("%s:%d", hostA, port) {
		t.Fatalf("listening on %s", addr)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]int{"Uid": uid, "Gid": gid, "Groups": gid} {
		re := regexp.MustCompile(`(?m)^` + field + `:\s*(.*)$`)
		m := re.FindSubmatch(status)
		if m == nil {
			t.Fatalf("no %s in /proc status:\n%s", field, status)
		}
		for _, id := range strings.Fields(string(m[1])) {
			if id != strconv.Itoa(want) {
				t.Fatalf("%s: %s, want every id %d", field, m[1], want)
			}
		}
	}
	if strings.Contains(p.stderr.String(), "running as root without server.run_as") {
		t.Error("warned about root although run_as is set")
	}

	c := binDial(t, addr, client1, "bob", testPass)
	if _, err := c.Stor("up.bin", bytes.NewReader([]byte("payload"))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(257, "MKD sub"); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"up.bin": 0o640, "sub": os.ModeDir | 0o750} {
		info, err := os.Stat(filepath.Join(srv, "bob", name))
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
		}
		if info.Mode() != mode {
			t.Errorf("%s has mode %v, want %v (umask 027)", name, info.Mode(), mode)
		}
	}
}

// privilegedFreePort finds a port below 1024 that is free on ip.
func privilegedFreePort(t *testing.T, ip string) int {
	t.Helper()
	for port := 990; port > 900; port-- {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Skip("no free port below 1024")
	return 0
}

// Issue 13, items 1 and 8: -check-config warns about root without run_as,
// and fails on what a start would fail on: a certificate that does not
// load, a root that cannot be opened or created, an unknown run_as.
func TestBinaryCheckConfigLikeStart(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	writeFile(t, blocker, []byte("not a directory"))
	base := `
[server]
listen = "127.0.0.2:2121"
%s
[[users]]
name = "alice"
password_hash = "` + testHash + `"
root = "%s"
`
	cases := []struct {
		name, server, root, want string
	}{
		{"missing certificate", "[server.tls]\nmode = \"explicit\"\ncert_file = \"{{DIR}}/nope.pem\"\nkey_file = \"{{DIR}}/nope.key\"\n",
			"{{DIR}}/alice", "nope.pem"},
		{"root under a file", "", "{{DIR}}/file/alice", "users[0].root"},
		{"root is a file", "", "{{DIR}}/file", "users[0].root"},
		{"unknown run_as", "run_as = \"no-such-user-here\"\n", "{{DIR}}/alice", "server.run_as"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := binWriteConfig(t, dir, fmt.Sprintf(base, tc.server, tc.root))
			stdout, stderr, code := binRun(t, "", "", "-check-config", "-config", path)
			if code != 2 || strings.Contains(stdout, "valid") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 naming %q", code, stdout, stderr, tc.want)
			}
		})
	}
	t.Run("root warning", func(t *testing.T) {
		path := binWriteConfig(t, dir, fmt.Sprintf(base, "", "{{DIR}}/alice"))
		stdout, stderr, code := binRun(t, "", "", "-check-config", "-config", path)
		if code != 0 || !strings.Contains(stdout, "configuration is valid") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		warned := strings.Contains(stderr, "running as root without server.run_as")
		if warned != (os.Geteuid() == 0) {
			t.Fatalf("root warning %v as uid %d: %q", warned, os.Geteuid(), stderr)
		}
	})
}

// The systemd unit in contrib/ runs ftpd unprivileged with the hardening
// the README lists, and systemd accepts it.
func TestSystemdUnit(t *testing.T) {
	bin := binBuild(t)
	unit, err := os.ReadFile(filepath.Join(binModDir, "contrib", "ftpd.service"))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = v
		}
	}
	for k, want := range map[string]string{
		"User": "ftp", "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges": "true", "ProtectSystem": "strict", "ReadWritePaths": "/srv/ftp", "PrivateTmp": "true",
		"RestrictSUIDSGID": "true",
	} {
		if settings[k] != want {
			t.Errorf("%s=%q, want %q", k, settings[k], want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed: unit syntax not verified")
		return
	}
	path := filepath.Join(t.TempDir(), "ftpd.service")
	text := strings.Replace(string(unit), "/usr/local/bin/ftpd", bin, 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ftpd.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
