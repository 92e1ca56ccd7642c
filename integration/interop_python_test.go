package integration

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

const ftplibScript = "testdata/interop/ftplib_client.py"

// interopPython runs the ftplib script and decodes its JSON report.
func interopPython(t *testing.T, args ...string) (map[string]any, string, error) {
	t.Helper()
	bin := interopNeed(t, "python3")
	out, err := interopRun(t, interopTimeout, "", bin, append([]string{ftplibScript}, args...)...)
	var report map[string]any
	if jerr := json.Unmarshal([]byte(out), &report); jerr != nil && err == nil {
		err = jerr
	}
	return report, out, err
}

func interopHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestInteropPythonFtplib: login, STOR, RETR, MLSD, SIZE, NLST, DELE with
// Python's ftplib.
func TestInteropPythonFtplib(t *testing.T) {
	interopNeed(t, "python3")
	a := startServer(t, hostA, basicConfig("", ""))
	local := filepath.Join(t.TempDir(), "up.bin")
	data := randomBytes(t, 1<<20+3)
	writeFile(t, local, data)
	h, p := interopHostPort(t, a.addr)
	report, out, err := interopPython(t, "basic", h, p, "alice", testPass, client1, local)
	if err != nil {
		t.Fatalf("ftplib: %v\n%s", err, out)
	}
	if report["retr_sha256"] != sha(data) {
		t.Fatalf("ftplib report: %s", out)
	}
	if s, _ := report["opts_mlst"].(string); !strings.HasPrefix(s, "200") {
		// ftpserverlib has no OPTS MLST: ftplib's mlsd(facts=[...])
		// raises on it. Logged, not failed, until ftpd answers it.
		t.Logf("known gap: OPTS MLST answered %q", s)
	}
}

// TestInteropPythonFXP: an FXP copy between two ftpd instances driven by
// ftplib (PASV on either side), both transfer replies read concurrently.
func TestInteropPythonFXP(t *testing.T) {
	interopNeed(t, "python3")
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 4<<20)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	ha, pa := interopHostPort(t, a.addr)
	hb, pb := interopHostPort(t, b.addr)
	for _, side := range []string{"source", "destination"} {
		t.Run("pasv-on-"+side, func(t *testing.T) {
			dst := "dst-" + side + ".bin"
			_, out, err := interopPython(t, "fxp", ha, pa, hb, pb, "alice", testPass, client1, "src.bin", dst, side)
			if err != nil {
				t.Fatalf("ftplib FXP: %v\n%s", err, out)
			}
			if got := fileSHA(t, filepath.Join(b.root("alice"), dst)); got != sha(data) {
				t.Fatalf("destination sha256 %s, want %s\n%s", got, sha(data), out)
			}
			b.logs.waitFor(t, `"msg":"transfer"`, `"path":"/`+dst+`"`, `"foreign":true`)
		})
	}
	// Refused: B may not receive. The refusal must reach the client even
	// though A (the source) may be left waiting.
	t.Run("refused", func(t *testing.T) {
		c, d := fxpPair(t, fxpOn, fxpOn, "", `fxp = "send"`)
		writeFile(t, filepath.Join(c.root("alice"), "src.bin"), data)
		hc, pc := interopHostPort(t, c.addr)
		hd, pd := interopHostPort(t, d.addr)
		report, out, err := interopPython(t, "fxp", hc, pc, hd, pd, "alice", testPass, client1, "src.bin", "dst.bin", "source")
		if err == nil {
			t.Fatalf("refused FXP reported success:\n%s", out)
		}
		dstReplies, _ := report["dst"].([]any)
		if len(dstReplies) == 0 {
			t.Fatalf("no destination reply:\n%s", out)
		}
		last, _ := dstReplies[len(dstReplies)-1].(string)
		// 425 before any connection: the destination refuses to make
		// the data connection for a receive alice may not do.
		if !strings.HasPrefix(last, "425 STOR refused: FXP receive not allowed for alice") {
			t.Fatalf("destination's last reply %q, want 425 with the reason\n%s", last, out)
		}
		d.logs.waitFor(t, `"reason":"direction"`, `"direction":"receive"`)
	})
}
