package logsafe

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.txt":       "plain name.txt",
		"é ü 日本":               "é ü 日本",
		"a\x1b[2Jb":            `a\x1b[2Jb`,
		"\u202eexe.txt":        `\u202eexe.txt`,
		"\u2066\u2069":         `\u2066\u2069`,
		"c1 \u009b raw \x9b":   `c1 \u009b raw \x9b`,
		"del\x7f nul\x00 cr\r": `del\x7f nul\x00 cr\x0d`,
		`back\slash`:           `back\\slash`,
		"\xff\xfe":             `\xff\xfe`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHandlerEscapesEverything: message, keys, groups, string values,
// errors and attributes added with With all come out escaped, in both
// formats.
func TestHandlerEscapesEverything(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&buf, nil)
		if format == "json" {
			h = slog.NewJSONHandler(&buf, nil)
		}
		log := slog.New(Wrap(Wrap(h))).With("user", "u\x1b").WithGroup("g\u202e")
		log.Info("msg \x9b", "path", "p\u202e", "err", errors.New("open \x1b[2J: no"),
			slog.Group("grp", "k\x1b", "v\u2066"), "n", 5)
		out := buf.String()
		for _, bad := range []string{"\x1b", "\u202e", "\x9b", "\u2066"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: %q raw in %s", format, bad, out)
			}
		}
		if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, "5") {
			t.Errorf("%s: unexpected output %s", format, out)
		}
	}
}
