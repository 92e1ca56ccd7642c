package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lftpBase is the preamble of every lftp run: no retries, bounded waits,
// the client address, and no TLS unless the test turns it on.
const lftpBase = "set net:max-retries 1; set net:reconnect-interval-base 1; set net:timeout 10; " +
	"set net:socket-bind-ipv4 " + client1 + "; set cmd:fail-exit yes; "

// interopLftp runs lftp -c script and fails the test with its output on error.
func interopLftp(t *testing.T, script string) string {
	t.Helper()
	bin := interopNeed(t, "lftp")
	out, err := interopRun(t, interopTimeout, "", bin, "-c", lftpBase+script)
	if err != nil {
		t.Fatalf("lftp: %v\nscript: %s\noutput:\n%s", err, script, out)
	}
	return out
}

func interopURL(in *instance, user, pass string) string {
	return fmt.Sprintf("ftp://%s:%s@%s", user, pass, in.addr)
}

// TestInteropLftpFXP copies between two ftpd instances with lftp as the FXP
// client, with the PASV side on the source and on the destination.
func TestInteropLftpFXP(t *testing.T) {
	interopNeed(t, "lftp")
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 4<<20)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	for _, tc := range []struct {
		name          string
		passiveSource string
	}{{"pasv-on-source", "yes"}, {"pasv-on-destination", "no"}} {
		t.Run(tc.name, func(t *testing.T) {
			dst := "dst-" + tc.name + ".bin"
			interopLftp(t, "set ftp:ssl-allow no; set ftp:use-fxp yes; set ftp:fxp-force yes; "+
				"set ftp:fxp-passive-source "+tc.passiveSource+"; "+
				"get "+interopURL(a, "alice", testPass)+"/src.bin -o "+interopURL(b, "alice", testPass)+"/"+dst)
			if got := fileSHA(t, filepath.Join(b.root("alice"), dst)); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s", got, sha(data))
			}
			// The data went server to server: B received from a foreign
			// address (not the client's).
			b.logs.waitFor(t, `"msg":"transfer"`, `"command":"STOR"`, `"path":"/`+dst+`"`, `"foreign":true`)
			a.logs.waitFor(t, `"msg":"transfer"`, `"command":"RETR"`, `"foreign":true`)
		})
	}
}

// TestInteropLftpTransfers uploads, lists and downloads with lftp, in clear
// and over explicit FTPS (AUTH TLS, PROT P, self-signed certificate).
func TestInteropLftpTransfers(t *testing.T) {
	interopNeed(t, "lftp")
	for _, tc := range []struct {
		name   string
		tls    string // ftpd's [server.tls] mode
		preset string // lftp settings
	}{
		{"plain", "", "set ftp:ssl-allow no; "},
		{"ftps-explicit", "explicit", "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ftp:ssl-protect-list yes; set ssl:verify-certificate no; "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := ""
			if tc.tls != "" {
				extra = interopTLSTable(t, tc.tls) + "required = true\n"
			}
			a := startServer(t, hostA, basicConfig(extra, ""))
			local := t.TempDir()
			data := randomBytes(t, 3<<20+12345)
			writeFile(t, filepath.Join(local, "up.bin"), data)
			out := interopLftp(t, tc.preset+"open "+interopURL(a, "alice", testPass)+"; "+
				"lcd "+local+"; put up.bin -o remote.bin; cls -l; get remote.bin -o down.bin; "+
				"mkdir sub; mv remote.bin sub/moved.bin; cls sub/; rm sub/moved.bin; rmdir sub")
			if got := fileSHA(t, filepath.Join(local, "down.bin")); got != sha(data) {
				t.Fatalf("download sha256 %s, want %s", got, sha(data))
			}
			if !strings.Contains(out, "remote.bin") || !strings.Contains(out, "moved.bin") {
				t.Fatalf("listing lacks the files:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(a.root("alice"), "sub")); !os.IsNotExist(err) {
				t.Fatalf("rmdir sub: %v", err)
			}
			if tc.tls != "" {
				a.logs.waitFor(t, `"msg":"login ok"`, `"user":"alice"`, `"tls":true`)
			}
		})
	}
}

// TestInteropLftpRefusal: with FXP off on the destination, lftp's FXP copy
// fails (it may fall back through other modes; it must not hang past the
// timeout) and the destination file is unchanged.
func TestInteropLftpRefusal(t *testing.T) {
	bin := interopNeed(t, "lftp")
	a, b := fxpPair(t, fxpOn, "", "", "")
	data := randomBytes(t, 1<<20)
	old := []byte("must survive")
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	writeFile(t, filepath.Join(b.root("alice"), "dst.bin"), old)
	out, err := interopRun(t, interopTimeout, "", bin, "-c", lftpBase+"set net:timeout 2; debug 5; set ftp:ssl-allow no; set ftp:use-fxp yes; set ftp:fxp-force yes; "+
		"set ftp:fxp-passive-source yes; set xfer:clobber yes; "+
		"get "+interopURL(a, "alice", testPass)+"/src.bin -o "+interopURL(b, "alice", testPass)+"/dst.bin")
	if err == nil {
		t.Fatalf("lftp FXP to a server with FXP off succeeded:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(b.root("alice"), "dst.bin")); !bytes.Equal(got, old) {
		t.Fatalf("refused FXP changed the destination to %q\nlftp: %s", got, out)
	}
	b.logs.waitFor(t, `"reason":"fxp_disabled"`)
}

// TestInteropLftpSecureFXP: lftp's protected FXP (ftp:ssl-protect-fxp)
// between two ftpd, PASV on either side. lftp negotiates the TLS client
// role itself (CPSV first, else SSCN); the data between the servers is TLS.
func TestInteropLftpSecureFXP(t *testing.T) {
	interopNeed(t, "lftp")
	tlsTable := interopTLSTable(t, "explicit")
	a := startServer(t, hostA, pairConfig(fxpOn+"\n"+tlsTable, ""))
	b := startServer(t, hostB, pairConfig(fxpOn+"\n"+tlsTable, ""))
	data := randomBytes(t, 4<<20)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	for _, passiveSource := range []string{"yes", "no"} {
		t.Run("fxp-passive-source="+passiveSource, func(t *testing.T) {
			dst := "secure-" + passiveSource + ".bin"
			logFile := filepath.Join(t.TempDir(), "lftp.log")
			out := interopLftp(t, "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ftp:ssl-protect-fxp yes; "+
				"set ssl:verify-certificate no; set ftp:use-fxp yes; set ftp:fxp-force yes; set ftp:fxp-passive-source "+passiveSource+"; "+
				"debug -o "+logFile+" 5; "+
				"get "+interopURL(a, "alice", testPass)+"/src.bin -o "+interopURL(b, "alice", testPass)+"/"+dst)
			if got := fileSHA(t, filepath.Join(b.root("alice"), dst)); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s\n%s", got, sha(data), out)
			}
			// lftp asked for protected data and for one server to be the
			// TLS client (it tries CPSV first, then SSCN).
			dbg, _ := os.ReadFile(logFile)
			if !strings.Contains(string(dbg), "PROT P") || !(strings.Contains(string(dbg), "---> CPSV") || strings.Contains(string(dbg), "---> SSCN ON")) {
				t.Fatalf("lftp did not negotiate protected FXP:\n%s", dbg)
			}
			b.logs.waitFor(t, `"msg":"transfer"`, `"command":"STOR"`, `"path":"/`+dst+`"`, `"foreign":true`)
		})
	}
}
