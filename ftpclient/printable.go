package ftpclient

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Printable returns s with everything that could drive a terminal or
// disguise text made visible: C0 and C1 control characters (ESC, CSI
// 0x9B...), DEL, bidi overrides and isolates (U+202A–U+202E,
// U+2066–U+2069, and the marks U+200E, U+200F, U+061C) and the line and
// paragraph separators U+2028, U+2029 become \xNN or
// \uNNNN, and each byte of invalid UTF-8 becomes \xNN. A backslash is kept
// as it is, so that Printable is idempotent: text escaped once (an error
// that wraps another) is not escaped again at the place it is printed.
// Printable text is returned unchanged (no copy). fxp prints every name and every piece of
// server text through it.
func Printable(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// unsafeRune: C1 controls and the bidi formatting characters.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028, r == 0x2029:
		return true // line and paragraph separators: a line break to some viewers
	}
	return false
}
