package server

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/server/dataplane"
)

// screenData handles the commands that set up or end a data connection
// (see package dataplane for the whole path). It reports whether it took
// the line, and the line the library gets instead.
func (sess *session) screenData(verb, arg string) (string, bool) {
	switch verb {
	case "PORT", "EPRT", "PASV", "CPSV":
		if sess.epsvAll.Load() {
			sess.data.Clear()
			return sess.answer(503, verb+" refused after EPSV ALL: only EPSV sets up data connections now (RFC 2428)"), true
		}
	}
	switch verb {
	case "PORT", "EPRT":
		return sess.screenActive(verb, arg), true
	case "LPRT", "LPSV", "SPSV":
		sess.data.Clear()
		return sess.answer(502, verb+" not implemented: use PORT/EPRT or PASV/EPSV"), true
	case "PASV", "EPSV":
		if verb == "EPSV" && strings.EqualFold(strings.TrimSpace(arg), "ALL") {
			sess.epsvAll.Store(true)
			return sess.answer(200, "EPSV ALL ok: PORT, EPRT and PASV are refused from now on"), true
		}
		sess.data.Passive(verb)
		return verb, true
	case "ABOR", "QUIT", "REIN":
		sess.data.Abort()
	case "CPSV": // TLS and login checked in screenTLS
		sess.data.Passive(verb)
		return "PASV", true
	}
	return "", false
}

// screenTLS handles, before and after login, the commands about TLS that
// the library must never act on: PROT (it would wrap data connections
// itself) and SSCN; checks that CPSV comes under TLS and after login; and
// marks a FEAT reply for the SSCN/CPSV lines.
func (sess *session) screenTLS(verb, arg string) (string, bool) {
	switch verb {
	case "PROT", "SSCN":
		return sess.screenProtection(verb, strings.ToUpper(strings.TrimSpace(arg))), true
	case "PBSZ":
		if sess.conn.TLS() {
			sess.pbsz.Store(true) // the library answers it
		}
	case "CPSV":
		if !sess.conn.TLS() {
			return sess.answer(503, "CPSV needs a TLS control connection: send AUTH TLS first"), true
		}
		if sess.userName() == "" {
			return sess.answer(530, "Please login with USER and PASS"), true
		}
	case "FEAT":
		sess.featPending.Store(true)
	}
	return "", false
}

// screenProtection answers PROT (RFC 4217) and SSCN (the SSCN draft)
// itself: the library stays at PROT C and never wraps a data connection;
// the data plane runs the TLS in the role the session asks for.
func (sess *session) screenProtection(verb, arg string) string {
	if !sess.conn.TLS() {
		return sess.answer(503, verb+" needs a TLS control connection: send AUTH TLS first")
	}
	if verb == "PROT" {
		switch arg {
		case "P":
			if !sess.pbsz.Load() {
				return sess.answer(503, "PROT P needs PBSZ first (RFC 4217): send PBSZ 0")
			}
			sess.data.SetPrivate(true)
			return sess.answer(200, "PROT P: data connections are protected by TLS")
		case "C":
			sess.data.SetPrivate(false)
			return sess.answer(200, "PROT C: data connections are clear")
		case "S", "E":
			return sess.answer(536, "PROT "+arg+" not supported: use P or C")
		}
		return sess.answer(504, fmt.Sprintf("PROT %q: want P or C", arg))
	}
	switch arg {
	case "ON":
		sess.data.SetSSCN(true)
	case "OFF":
		sess.data.SetSSCN(false)
	case "":
	default:
		return sess.answer(501, fmt.Sprintf("SSCN %q: want ON or OFF", arg))
	}
	if sess.data.SSCN() {
		return sess.answer(200, "SSCN:CLIENT METHOD")
	}
	return sess.answer(200, "SSCN:SERVER METHOD")
}

// featExtras adds the protected-FXP features to the end of the library's
// FEAT reply when TLS is configured.
func (sess *session) featExtras(line string) string {
	if !strings.HasPrefix(line, "211 ") || !sess.featPending.CompareAndSwap(true, false) {
		return line
	}
	if sess.srv.tlsConfig() == nil {
		return line
	}
	return " SSCN\r\n CPSV\r\n" + line
}

// screenActive parses PORT/EPRT strictly and judges the target as far as
// it can be judged before the transfer command is known. The library never
// sees the argument: an allowed target becomes an EPSV for it.
func (sess *session) screenActive(verb, arg string) string {
	target, err := dataplane.Parse(verb, arg)
	if err != nil {
		sess.data.Clear()
		sess.log.Warn("data address rejected", "command", verb, "detail", err.Error())
		return sess.answer(501, fmt.Sprintf("%s refused: cannot parse %q: %v", verb, strings.TrimSpace(arg), err))
	}
	req := dataplane.Request{Command: verb, Direction: acl.DirectionAny, Peer: target, Active: true}
	if v := sess.judge(req); !v.Allowed() {
		sess.data.Clear()
		sess.logRefusal(req, v)
		return sess.answer(501, verb+" refused: "+v.Message)
	}
	line, err := sess.data.Active(verb, target)
	if err != nil {
		return sess.answer(501, verb+" refused: "+err.Error())
	}
	return line
}

// judge is the one place a data connection meets the FXP policy.
func (sess *session) judge(r dataplane.Request) acl.Verdict {
	st := sess.srv.state.Load()
	a := sess.account(st)
	if a == nil {
		return acl.Verdict{Reason: acl.ReasonUnknownAddress, Message: "the session's account no longer exists"}
	}
	return st.policy.Decide(&a.fxp, acl.DataRequest{
		Direction: r.Direction, Client: sess.clientIP, Peer: r.Peer, Active: r.Active,
	})
}

// logRefusal logs and counts a refused data connection (or PORT/EPRT).
func (sess *session) logRefusal(r dataplane.Request, v acl.Verdict) {
	m := sess.srv.metrics
	if r.Stranger {
		m.refused(acl.ReasonPortTheft.String())
		sess.log.Warn("passive connection from a stranger closed",
			"command", r.Command, "direction", r.Direction.String(),
			"peer", r.Peer.Addr().String(), "port", r.Peer.Port(), "passive_port", r.PassivePort,
			"reason", acl.ReasonPortTheft.String(), "detail", v.Message)
		return
	}
	m.refused(v.Reason.String())
	if r.Direction != acl.DirectionAny {
		m.transfers.WithLabelValues(r.Command, "refused", fxpLabel(v.Foreign)).Inc()
	}
	sess.log.Warn("data connection refused",
		"command", r.Command, "direction", r.Direction.String(),
		"peer", r.Peer.Addr().String(), "port", r.Peer.Port(),
		"foreign", v.Foreign, "reason", v.Reason.String(), "detail", v.Message)
}

// dataOwner is the session as the data plane sees it.
type dataOwner struct{ sess *session }

var _ dataplane.Session = dataOwner{}

func (o dataOwner) ControlLocal() netip.Addr { return addrOf(o.sess.conn.LocalAddr()) }

func (o dataOwner) WaitingCommand() string { return o.sess.cc.GetLastCommand() }

func (o dataOwner) Judge(r dataplane.Request) acl.Verdict { return o.sess.judge(r) }

func (o dataOwner) Refused(r dataplane.Request, v acl.Verdict) { o.sess.logRefusal(r, v) }

func (o dataOwner) DataTLS() *dataplane.TLS { return o.sess.srv.state.Load().dataTLS }

func (o dataOwner) ClientBlock() netip.Prefix {
	return acl.ClientBlock(o.sess.clientIP, o.sess.srv.state.Load().cfg.Limits.BanIPv6Prefix)
}

// Warn logs a data plane event and counts it as a refusal under its
// "reason" attribute.
func (o dataOwner) Warn(msg string, args ...any) {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "reason" {
			if r, ok := args[i+1].(string); ok {
				o.sess.srv.metrics.refused(r)
			}
		}
	}
	o.sess.log.Warn(msg, args...)
}

func (o dataOwner) ResumesControlSession(ss *tls.SessionState) bool {
	return o.sess.conn.ResumesThisSession(ss)
}

func (o dataOwner) WrapTicket(base *tls.Config, cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	return o.sess.conn.WrapTicket(base, cs, ss)
}
