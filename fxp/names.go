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
	return refusedName{name: name, why: why}
}

// refusedName is checkName's error; its text is built only when shown.
type refusedName struct{ name, why string }

func (r refusedName) Error() string {
	return fmt.Sprintf("%q: %v (%s): skipped", ftpclient.Printable(r.name), errNotPlain, r.why)
}

func (r refusedName) Unwrap() error { return errNotPlain }

// maxRefusalsKept is how many refused names a walk reports one by one;
// the rest are counted, so that a listing of millions of hostile names
// costs no memory.
const maxRefusalsKept = 100

// listBudget is what one tree walk may take from a server's listings: at
// most max entries, and the refusals it reports.
type listBudget struct {
	entries, max int
	kept         []error
	refused      int
}

// refuse counts a refused name; the error is built (by mk) only for the
// ones reported one by one.
func (b *listBudget) refuse(mk func() error) {
	b.refused++
	if len(b.kept) < maxRefusalsKept {
		b.kept = append(b.kept, mk())
	}
}

// errs are the refusals to report: the first ones, then how many more.
func (b *listBudget) errs() []error {
	if b == nil {
		return nil
	}
	if more := b.refused - len(b.kept); more > 0 {
		return append(b.kept[:len(b.kept):len(b.kept)], fmt.Errorf("%d more names %w: skipped", more, errNotPlain))
	}
	return b.kept
}
