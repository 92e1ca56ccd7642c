package integration

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestInteropCurl uploads, downloads and lists with curl: EPSV (curl's
// default), PASV, active (EPRT/PORT), explicit FTPS (--ssl-reqd) and
// implicit FTPS (ftps://).
func TestInteropCurl(t *testing.T) {
	bin := interopNeed(t, "curl")
	for _, tc := range []struct {
		name   string
		tls    string   // ftpd's [server.tls] mode
		scheme string   // ftp or ftps
		flags  []string // extra curl flags
		log    string   // must appear in ftpd's "login ok" line
	}{
		{"epsv", "", "ftp", nil, `"tls":false`},
		{"pasv", "", "ftp", []string{"--disable-epsv"}, `"tls":false`},
		{"active-eprt", "", "ftp", []string{"--ftp-port", client1}, `"tls":false`},
		{"active-port", "", "ftp", []string{"--ftp-port", client1, "--disable-eprt"}, `"tls":false`},
		{"ftps-explicit", "explicit", "ftp", []string{"--ssl-reqd", "-k"}, `"tls":true`},
		{"ftps-explicit-pasv", "explicit", "ftp", []string{"--ssl-reqd", "-k", "--disable-epsv"}, `"tls":true`},
		{"ftps-implicit", "implicit", "ftps", []string{"-k"}, `"tls":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := ""
			if tc.tls != "" {
				extra = interopTLSTable(t, tc.tls)
			}
			a := startServer(t, hostA, basicConfig(extra, ""))
			_, port, _ := net.SplitHostPort(a.addr)
			// curl wants a host name or an IP; the URL carries the user.
			base := tc.scheme + "://alice:" + testPass + "@" + hostA + ":" + port + "/"
			curl := func(args ...string) string {
				t.Helper()
				all := append([]string{"-sS", "--fail", "--interface", client1, "--max-time", "30"}, tc.flags...)
				out, err := interopRun(t, interopTimeout, "", bin, append(all, args...)...)
				if err != nil {
					t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return out
			}
			local := t.TempDir()
			data := randomBytes(t, 2<<20+777)
			writeFile(t, filepath.Join(local, "up.bin"), data)

			curl("-T", filepath.Join(local, "up.bin"), base+"dir/up.bin", "--ftp-create-dirs")
			if got := fileSHA(t, filepath.Join(a.root("alice"), "dir", "up.bin")); got != sha(data) {
				t.Fatalf("upload sha256 %s, want %s", got, sha(data))
			}
			curl("-o", filepath.Join(local, "down.bin"), base+"dir/up.bin")
			if got := fileSHA(t, filepath.Join(local, "down.bin")); got != sha(data) {
				t.Fatalf("download sha256 %s, want %s", got, sha(data))
			}
			if out := curl(base + "dir/"); !strings.Contains(out, "up.bin") || !strings.Contains(out, "2097929") {
				t.Fatalf("LIST lacks up.bin with its size:\n%s", out)
			}
			if out := curl("--list-only", base+"dir/"); strings.TrimSpace(out) != "up.bin" {
				t.Fatalf("NLST: %q", out)
			}
			a.logs.waitFor(t, `"msg":"login ok"`, `"user":"alice"`, tc.log)
		})
	}
}
