package fxp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ftpd/ftpd/ftpclient"
)

// fxpSwitches names the setting that allows foreign data addresses in
// each server we know.
const fxpSwitches = "ftpd: [fxp] enabled; ProFTPD: AllowForeignAddress on; Pure-FTPd: -w; vsftpd: pasv_promiscuous/port_promiscuous"

// CopyError is a file copy that failed: before any attempt (Err), or on
// every PASV side tried (Attempts, with the servers' replies verbatim).
type CopyError struct {
	Src, Dst Endpoint
	Err      error
	Attempts []Attempt
	// Partial is the temporary file on the destination that holds the
	// bytes copied so far, when there may be some ("" otherwise).
	Partial string
}

func (e *CopyError) Unwrap() error { return e.Err }

func (e *CopyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "copy %s -> %s failed", e.Src, e.Dst)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	for _, a := range e.Attempts {
		b.WriteString("\n  " + a.describe())
	}
	for _, c := range Explain(e.Attempts) {
		b.WriteString("\n  likely cause: " + c)
	}
	if e.Partial != "" {
		b.WriteString("\n  the bytes so far are in " + e.Partial + " on the destination: --resume continues it")
	}
	return b.String()
}

// describe tells what happened in one attempt, with the replies.
func (a *Attempt) describe() string {
	head := "PASV on " + a.Passive
	if a.PasvAddr.IsValid() {
		head += " (" + a.PasvAddr.String() + ")"
	}
	if a.Err != nil {
		return fmt.Sprintf("%s: %s failed: %v", head, a.Stage, a.Err)
	}
	return fmt.Sprintf("%s: source RETR -> %s; destination %s -> %s", head, a.Src, a.Store, a.Dst)
}

// Explain gives the likely cause of each distinct failure in attempts,
// read from the servers' replies.
func Explain(attempts []Attempt) []string {
	var out []string
	seen := map[string]bool{}
	for i := range attempts {
		for _, c := range explainAttempt(&attempts[i]) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// replyOf extracts a server reply from an error.
func replyOf(err error) (int, string) {
	var re *ftpclient.ReplyError
	if errors.As(err, &re) {
		return re.Code, re.Msg
	}
	return 0, ""
}

func explainAttempt(a *Attempt) []string {
	peer := a.PasvAddr.Addr().String()
	switch a.Stage {
	case stagePASV:
		code, msg := replyOf(a.Err)
		if code == 0 {
			return []string{fmt.Sprintf("the %s did not answer PASV/EPSV: %v", a.Passive, a.Err)}
		}
		return []string{fmt.Sprintf("the %s refused passive mode: %d %s", a.Passive, code, oneLine(msg))}
	case stagePORT:
		code, msg := replyOf(a.Err)
		if code == 0 {
			return []string{fmt.Sprintf("the %s did not answer PORT: %v", a.portRole(), a.Err)}
		}
		if c := ftpdCause(a.portRole(), peer, msg); c != "" {
			return []string{c}
		}
		if strings.Contains(msg, "1024") {
			return []string{fmt.Sprintf("%s refused PORT to %s: it does not connect to ports below 1024", a.portRole(), a.PasvAddr)}
		}
		return []string{fmt.Sprintf("%s refused PORT to %s: foreign addresses are disabled there — %s", a.portRole(), peer, fxpSwitches)}
	case stageREST:
		code, msg := replyOf(a.Err)
		return []string{fmt.Sprintf("the source cannot resume (REST): %d %s", code, oneLine(msg))}
	}
	return explainTransfer(a, peer)
}

// explainTransfer reads the final replies of a transfer that failed.
func explainTransfer(a *Attempt, peer string) []string {
	if a.Err != nil {
		return []string{a.Err.Error()}
	}
	var out []string
	for _, side := range []struct {
		role string
		r    Reply
	}{{roleDst, a.Dst}, {roleSrc, a.Src}} {
		if c := ftpdCause(side.role, "", side.r.Msg); c != "" {
			out = append(out, c)
		}
	}
	if len(out) > 0 {
		return out
	}
	pasv, port := a.Dst, a.Src
	if a.Passive == roleSrc {
		pasv, port = a.Src, a.Dst
	}
	switch {
	case strings.Contains(pasv.Msg, "Bad IP connecting") || strings.Contains(pasv.Msg, "Unable to build data connection"):
		return []string{fmt.Sprintf("the %s refused the data connection from the %s: foreign addresses are disabled there — %s", a.Passive, a.portRole(), fxpSwitches)}
	case !pasv.ok() && (pasv.Code == 0 || pasv.Aborted) && dataFailure(port):
		return []string{fmt.Sprintf("the %s closed the data connection from the %s without a reply (%d %s): foreign addresses are probably disabled there (Pure-FTPd does this without -w) — %s",
			a.Passive, a.portRole(), port.Code, oneLine(port.Msg), fxpSwitches)}
	case !port.ok() && port.Code == 425:
		return []string{fmt.Sprintf("the %s could not connect to %s (the %s's data port): %s", a.portRole(), a.PasvAddr, a.Passive, port)}
	}
	for _, side := range []struct {
		role, cmd string
		r         Reply
	}{{roleSrc, "RETR", a.Src}, {roleDst, a.Store, a.Dst}} {
		if !side.r.ok() && !side.r.Aborted {
			out = append(out, fmt.Sprintf("the %s refused %s: %s", side.role, side.cmd, side.r))
		}
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("no final reply in time; aborted (source: %s; destination: %s)", a.Src, a.Dst))
	}
	return out
}

// ftpdCause recognises ftpd's own refusals (acl messages); "" otherwise.
// peer is the data address refused, if known.
func ftpdCause(role, peer, msg string) string {
	one := oneLine(msg)
	switch {
	case strings.Contains(msg, "FXP is disabled"):
		if peer != "" {
			return fmt.Sprintf("%s refused PORT to %s: foreign addresses are disabled there — %s", role, peer, fxpSwitches)
		}
		return fmt.Sprintf("%s refused the foreign data connection: foreign addresses are disabled there (%q) — %s", role, one, fxpSwitches)
	case strings.Contains(msg, "not an allowed FXP peer"):
		return fmt.Sprintf("%s does not accept the other server as an FXP peer (%q) — ftpd: [fxp] peers and users[].fxp_peers; on one machine active data connections leave from 127.0.0.1", role, one)
	case strings.Contains(msg, "may not start FXP"):
		return fmt.Sprintf("%s does not let this client start FXP (%q) — ftpd: [fxp] clients", role, one)
	case strings.Contains(msg, "FXP send not allowed"), strings.Contains(msg, "FXP receive not allowed"), strings.Contains(msg, "FXP is not allowed for"):
		return fmt.Sprintf("%s does not allow this user that FXP direction (%q) — ftpd: users[].fxp = send, receive or both", role, one)
	}
	return ""
}

// dataFailure reports whether r is a failure of the data connection itself
// (not, say, a missing file).
func dataFailure(r Reply) bool {
	if r.ok() || r.Code == 0 {
		return false
	}
	if r.Code == 425 || r.Code == 426 {
		return true
	}
	msg := strings.ToLower(r.Msg)
	for _, s := range []string{"broken pipe", "connection reset", "network error", "data connection", "transfer connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
