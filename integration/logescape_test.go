package integration

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogsEscapeClientNames: a file name that carries a terminal escape
// (ESC [2J clears the screen), a bidi override (U+202E shows the rest of
// a line reversed) and a lone C1 byte (0x9B, a CSI on 8-bit terminals),
// uploaded, downloaded and deleted, reaches the text and the JSON log
// escaped: the log shows what was sent and no viewer is driven by it.
func TestLogsEscapeClientNames(t *testing.T) {
	const name = "evil\x1b[2J\u202etxt.exe\x9b\u2066x\x7f"
	formats := map[string]func(io.Writer, *slog.HandlerOptions) slog.Handler{
		"text": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) },
		"json": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) },
	}
	for format, newHandler := range formats {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			a := startServerLog(t, hostA, basicConfig("", ""), newHandler)
			c := a.dial(client1, "alice", testPass)
			if _, err := c.Stor(name, strings.NewReader("data")); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			if _, err := os.Stat(filepath.Join(a.root("alice"), name)); err != nil {
				t.Fatalf("the upload is not there under its name: %v", err)
			}
			var got strings.Builder
			if _, err := c.Retr(name, &got); err != nil || got.String() != "data" {
				t.Fatalf("RETR: %q %v", got.String(), err)
			}
			if _, err := c.Expect(250, "DELE %s", name); err != nil {
				t.Fatalf("DELE: %v", err)
			}
			_ = c.Quit()
			log := a.logs.waitFor(t, "RETR", "evil")
			all := []byte(a.logs.String())
			for _, bad := range []string{"\x1b", "\u202e", "\x9b", "\u2066", "\x7f", "\u009b"} {
				if i := bytes.Index(all, []byte(bad)); i >= 0 {
					t.Errorf("%s log carries %q raw at byte %d: %q", format, bad, i, all[max(0, i-60):min(len(all), i+20)])
				}
			}
			// What was sent is readable: each character as an escape.
			want := `evil\x1b[2J\u202etxt.exe\x9b\u2066x\x7f`
			if format == "json" {
				want = strings.ReplaceAll(want, `\`, `\\`)
			}
			if !strings.Contains(log, want) {
				t.Errorf("%s log line of the RETR does not show the name as %s:\n%s", format, want, log)
			}
			for _, verb := range []string{"STOR", "DELE"} {
				a.logs.waitFor(t, verb, want)
			}
		})
	}
}
