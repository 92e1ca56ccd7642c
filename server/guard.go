package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ftpd/ftpd/token"
)

// The command guard: what every command of a logged-in session passes
// before anything else in Screen. It re-checks the account against the
// configuration in force now (a reload reaches open sessions at their next
// command), refuses a second login inside a session, keeps read-only
// accounts from writing, lets SITE CHMOD through with permission bits only
// and SITE CHOWN only when the config allows it, and keeps the RNFR/RNTO
// pair strict (RNTO must come right after a successful RNFR).

// Revocation reasons, as logged.
const (
	revokedUserRemoved = "user_removed"
	revokedAllowedIPs  = "allowed_ips"
)

// writeVerbs change storage; a read-only account gets 550 for them.
var writeVerbs = map[string]bool{
	"STOR": true, "STOU": true, "APPE": true, "DELE": true, "RNFR": true, "RNTO": true,
	"MKD": true, "XMKD": true, "RMD": true, "XRMD": true, "RMDA": true,
	"MFMT": true, "MFF": true, "MFCT": true,
}

// siteWrites are the SITE subcommands of the library that change storage.
var siteWrites = map[string]bool{"CHMOD": true, "CHOWN": true, "SYMLINK": true, "MKDIR": true, "RMDIR": true}

// renameState follows RNFR/RNTO: armed only between a successful RNFR and
// the command right after it.
type renameState struct {
	mu      sync.Mutex
	pending bool // RNFR sent, reply not seen yet
	armed   bool // RNFR answered 350
}

// guard judges one command line of a logged-in session. done means the
// command was answered (or the session closed) and out is the line the
// library gets instead.
func (sess *session) guard(verb, arg string) (out string, done bool) {
	name := sess.userName()
	if name == "" {
		return "", false
	}
	st := sess.srv.state.Load()
	if reason := sess.revocation(st); reason != "" {
		sess.revoke(reason)
		return "", true
	}
	if out, done := sess.rename.screen(sess, verb); done {
		return out, true
	}
	a := st.accounts[name]
	switch verb {
	case "USER", "PASS":
		return sess.answer(503, "Already logged in: one login per connection (open a new connection for another user)"), true
	case "SITE":
		return sess.guardSite(st, a, arg)
	}
	if c := sess.tokenClaims(); c != nil {
		if msg := tokenRefusal(c, verb, arg); msg != "" {
			return sess.answer(550, msg), true
		}
	}
	if a.readOnly && writeVerbs[verb] {
		return sess.answer(550, "Permission denied: this account is read-only"), true
	}
	return "", false
}

// guardSite screens SITE CHMOD and SITE CHOWN, and SITE writes of a
// read-only account.
func (sess *session) guardSite(st *state, a *account, arg string) (string, bool) {
	sub, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	sub = strings.ToUpper(sub)
	switch {
	case sub == "CHOWN" && !st.cfg.Server.AllowSiteChown:
		return sess.answer(502, "SITE CHOWN is not offered on this server"), true
	case a.readOnly && siteWrites[sub]:
		return sess.answer(550, "Permission denied: this account is read-only"), true
	case sub == "CHMOD":
		mode, path, err := parseChmod(rest)
		if err != nil {
			return sess.answer(501, "SITE CHMOD: "+err.Error()), true
		}
		// Hand the library only what was parsed, written canonically.
		return fmt.Sprintf("SITE CHMOD %o %s", mode, path), true
	}
	return "", false
}

// parseChmod parses "MODE PATH" where MODE is octal permission bits
// 0-0777: no setuid, setgid or sticky bit, no file type bits.
func parseChmod(arg string) (uint32, string, error) {
	modeText, path, _ := strings.Cut(strings.TrimLeft(arg, " "), " ")
	if modeText == "" || strings.TrimSpace(path) == "" {
		return 0, "", fmt.Errorf("usage: SITE CHMOD <mode> <path>")
	}
	if len(modeText) > 4 || strings.Trim(modeText, "01234567") != "" {
		return 0, "", fmt.Errorf("mode %q: want octal permission bits 0-0777", modeText)
	}
	mode, err := strconv.ParseUint(modeText, 8, 32)
	if err != nil || mode > 0o777 {
		return 0, "", fmt.Errorf("mode %q: only permission bits 0-0777 may be set", modeText)
	}
	return uint32(mode), path, nil
}

// screen keeps RNFR state: any command but RNTO disarms it, and an RNTO
// without an armed RNFR is answered 503 here, so a stale RNFR kept by the
// library can never be used.
func (r *renameState) screen(sess *session, verb string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	armed := r.armed
	r.armed, r.pending = false, verb == "RNFR"
	if verb == "RNTO" && !armed {
		return sess.answer(503, "RNFR is expected right before RNTO"), true
	}
	return "", false
}

// reply arms the RNFR state on the reply to RNFR.
func (r *renameState) reply(line string) {
	if len(line) < 4 || line[3] == '-' {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending {
		r.armed = strings.HasPrefix(line, "350")
		r.pending = false
	}
}

// revocation says why the session may not go on under the config in force
// (st), or "" if it may.
func (sess *session) revocation(st *state) string {
	name := sess.userName()
	if name == "" {
		return ""
	}
	a := st.accounts[name]
	switch {
	case a == nil:
		return revokedUserRemoved
	case !a.allowsIP(sess.clientIP):
		return revokedAllowedIPs
	}
	return ""
}

// revoke ends a session that the config no longer allows: 421, then close.
func (sess *session) revoke(reason string) {
	if !sess.revoked.CompareAndSwap(false, true) {
		return
	}
	sess.log.Warn("session revoked", "reason", reason)
	sess.srv.metrics.refused(reason)
	sess.conn.Hangup(421, "Your account's access has been changed; closing the session")
}

// revokeSessions closes, at once, the sessions that the config st no longer
// allows (a reload removed the user or its address).
func (s *Server) revokeSessions(st *state) {
	for _, sess := range s.allSessions() {
		if reason := sess.revocation(st); reason != "" {
			sess.revoke(reason)
		}
	}
}

// tokenDeleteVerbs rename or delete: no token allows them.
var tokenDeleteVerbs = map[string]bool{"RNFR": true, "RNTO": true, "DELE": true, "RMD": true, "XRMD": true, "RMDA": true}

// tokenReadVerbs read a file, a listing or a file's facts: a token that
// cannot send (receive only) reads nothing. STAT reads only with a path.
var tokenReadVerbs = map[string]bool{
	"SIZE": true, "DSIZ": true, "MDTM": true, "MLST": true, "MLSD": true, "LIST": true, "NLST": true, "RETR": true,
	"HASH": true, "XCRC": true, "MD5": true, "XMD5": true, "XSHA": true, "XSHA1": true, "XSHA256": true, "XSHA512": true,
}

// tokenRefusal is why a token login may not run verb (a 550), or "": no
// token renames or deletes, a send token writes nothing, and a receive
// token reads nothing, not even the size or date of the file it receives
// (so it cannot resume: REST other than 0).
func tokenRefusal(c *token.Claims, verb, arg string) string {
	switch {
	case tokenDeleteVerbs[verb]:
		return "Permission denied: a token login cannot rename or delete"
	case c.Dir&token.Receive == 0 && writeVerbs[verb]:
		return "Permission denied: a send token writes nothing"
	case c.Dir&token.Send == 0 && (tokenReadVerbs[verb] || verb == "STAT" && strings.TrimSpace(arg) != ""):
		return "Permission denied: a receive token reads nothing"
	case c.Dir&token.Send == 0 && verb == "REST" && strings.TrimSpace(arg) != "0":
		// Which offsets STOR accepts would tell the file's size.
		return "Permission denied: a receive token cannot resume (it reads nothing, not even a size)"
	}
	return ""
}
