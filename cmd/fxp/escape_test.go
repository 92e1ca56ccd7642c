package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ftpd/ftpd/fxp"
)

// evilText drives a terminal if printed raw: ESC sequences (clear, title),
// a C1 CSI (U+009B), a bidi override and isolate, and invalid UTF-8.
const evilText = "no \x1b[2J\x1b]0;owned\x07 \u009b31m \u202etxt.exe \u2066x\u2069 \xff\xfe"

// evilServer logs anyone in and answers every other command with a 550
// carrying evilText.
func evilServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fmt.Fprintf(c, "220 %s\r\n", evilText)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch verb, _, _ := strings.Cut(strings.TrimSpace(line), " "); verb {
					case "USER":
						fmt.Fprint(c, "331 pass\r\n")
					case "PASS":
						fmt.Fprint(c, "230 in\r\n")
					case "TYPE":
						fmt.Fprint(c, "200 ok\r\n")
					default:
						fmt.Fprintf(c, "550-%s\r\n550 %s\r\n", evilText, evilText)
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// unsafeOutput names what in out could drive a terminal or disguise text.
func unsafeOutput(out string) string {
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u2066", "\u2069", "\xff", "\xfe"} {
		if strings.Contains(out, bad) {
			return fmt.Sprintf("%q", bad)
		}
	}
	return ""
}

// TestServerTextEscaped: what a hostile server says (in replies that end
// up in errors, events and the summary) reaches stdout and stderr escaped,
// as text and as JSON events that stay valid JSON.
func TestServerTextEscaped(t *testing.T) {
	addr := evilServer(t)
	for _, args := range [][]string{
		{"copy", "--timeout", "10s", "ftp://u:p@" + addr + "/f", "ftp://u:p@" + addr + "/g"},
		{"copy", "--json", "--timeout", "10s", "ftp://u:p@" + addr + "/f", "ftp://u:p@" + addr + "/g"},
		{"mirror", "--dry-run", "--timeout", "10s", "ftp://u:p@" + addr + "/f", "ftp://u:p@" + addr + "/g"},
		{"copy", "--debug", "--timeout", "10s", "ftp://u:p@" + addr + "/f", "ftp://u:p@" + addr + "/g"},
	} {
		e, out, errOut := testEnv(nil, t.TempDir())
		if code := run(context.Background(), args, e); code != exitFail {
			t.Errorf("%v: exit %d, want %d", args, code, exitFail)
		}
		if !strings.Contains(out.String()+errOut.String(), "\\x1b[2J") {
			t.Errorf("%v: the server's text is not shown escaped:\n%s%s", args, out, errOut)
		}
		for name, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
			if bad := unsafeOutput(s); bad != "" {
				t.Errorf("%v: %s carries %s:\n%q", args, name, bad, s)
			}
		}
		if args[1] == "--json" {
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if l != "" && !strings.HasPrefix(l, "fxp:") && !json.Valid([]byte(l)) {
					t.Errorf("invalid JSON line %q", l)
				}
			}
		}
	}
}

// TestJSONSummaryErrorEscaped: the "error" of the --json summary objects
// (fxp mirror --json, fxp run --json) is escaped like every other text
// fxp prints. encoding/json escapes C0 controls itself, but leaves C1
// (U+009B is CSI), bidi overrides and isolates raw in the JSON string, and
// a CopyError's text holds listed names (which may carry U+2066) and the
// server's reply text as they came.
func TestJSONSummaryErrorEscaped(t *testing.T) {
	err := fmt.Errorf("copy ftp://h/src/iso\u2066x failed: 550 %s", evilText)
	var out bytes.Buffer
	printMirrorSummary(&out, true, "", fxp.MirrorSummary{Failed: 1}, err)
	e, stdout, _ := testEnv(nil, t.TempDir())
	printCopyJobSummary(e, true, "j", fxp.Summary{Failed: 1}, 0, err)
	for name, s := range map[string]string{"mirror": out.String(), "run": stdout.String()} {
		if bad := unsafeOutput(s); bad != "" {
			t.Errorf("%s --json summary carries %s:\n%q", name, bad, s)
		}
		if !json.Valid(bytes.TrimSpace([]byte(s))) || !strings.Contains(s, `\\u2066`) {
			t.Errorf("%s --json summary: %q", name, s)
		}
	}
}
