package fxp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ftpd/ftpd/ftpclient"
)

// errNotPlain marks a listed name fxp refuses to use.
var errNotPlain = errors.New("not one plain path element")

// checkName is the one check every listed name passes before fxp builds a
// remote path from it (copy -r, mirror, mirror --delete, --dry-run). A
// name is refused unless it is one plain path element that every server
// stores as sent: not empty, "." or ".."; no "/" or "\"; no C0 or C1
// control (NUL, CR, LF, ESC, CSI...) or DEL; no 0xFF (Telnet IAC: a server
// that strips "IAC x" pairs, as ftpd does, would turn "..\xff\xf1" into
// ".."); valid UTF-8; no leading or trailing space (servers trim them).
func checkName(name string) error {
	why := ""
	switch {
	case name == "", name == ".", name == "..":
		why = "a relative path name"
	case strings.ContainsAny(name, `/\`):
		why = "a path separator"
	case strings.ContainsRune(name, 0xff) || strings.IndexByte(name, 0xff) >= 0:
		why = "a Telnet IAC byte (0xFF)"
	case !utf8.ValidString(name):
		why = "invalid UTF-8"
	case strings.TrimSpace(name) != name:
		why = "leading or trailing white space"
	default:
		for _, r := range name {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				why = "a control character"
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("%q: %w (%s): skipped", ftpclient.Printable(name), errNotPlain, why)
}
