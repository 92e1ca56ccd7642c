package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/driver"
)

// strangerGrace is how long a passive port keeps waiting for its real
// client after it has turned a stranger away. The real peer has normally
// connected already (it queues in the backlog); the bound keeps a refused
// FXP peer from waiting out the library's 30 s data timeout before the
// client hears why.
const strangerGrace = 5 * time.Second

// passiveGate stands in front of one passive port. It hands the FTP library
// only a connection from the session the port was announced to, or from a
// peer the FXP policy allows for that session's user and waiting command;
// anyone else is reset at once and the gate keeps waiting, so a stranger
// racing to the port neither gets data nor breaks the real transfer.
type passiveGate struct {
	net.Listener
	srv  *Server
	port int
}

// Accept implements net.Listener.
func (g *passiveGate) Accept() (net.Conn, error) {
	var refused []string
	for {
		conn, err := g.Listener.Accept()
		if err != nil {
			var ne net.Error
			if len(refused) > 0 && errors.As(err, &ne) && ne.Timeout() {
				return nil, fmt.Errorf("no data connection from the client; refused %s", strings.Join(refused, "; "))
			}
			return nil, err
		}
		if reason, ok := g.judge(conn); !ok {
			resetClose(conn)
			refused = append(refused, reason)
			if dl, ok := g.Listener.(interface{ SetDeadline(time.Time) error }); ok && len(refused) == 1 {
				_ = dl.SetDeadline(g.srv.now().Add(strangerGrace))
			}
			continue
		}
		return conn, nil
	}
}

// judge decides about one connection to the port and logs a refusal. It
// applies the whole FXP decision for the session's user and the waiting
// command, so only the one peer that may take part gets the port.
func (g *passiveGate) judge(conn net.Conn) (string, bool) {
	peer := driver.PeerOf(conn)
	owner := g.srv.passiveOwner(g.port)
	if owner == nil {
		g.srv.metrics.refused(acl.ReasonPortTheft.String())
		g.srv.log.Warn("passive connection to an unannounced port closed",
			"port", g.port, "peer", peer.String(), "reason", acl.ReasonPortTheft.String())
		return peer.Addr().String() + ": port not announced", false
	}
	st := g.srv.state.Load()
	command := owner.cc.GetLastCommand()
	dir := directionOf(command)
	why := "the session's user no longer exists"
	if a := owner.account(st); a != nil {
		v := st.policy.Decide(&a.fxp, acl.DataRequest{Direction: dir, Client: owner.clientIP, Peer: peer})
		if v.Allowed() {
			return "", true
		}
		why = v.Message
	}
	g.srv.metrics.refused(acl.ReasonPortTheft.String())
	owner.log.Warn("passive connection from a stranger closed",
		"command", command, "direction", dir.String(),
		"peer", peer.Addr().String(), "port", peer.Port(), "passive_port", g.port,
		"reason", acl.ReasonPortTheft.String(), "detail", why)
	return peer.Addr().String() + ": " + why, false
}

// resetClose closes with a TCP reset, so a refused sender fails at once
// instead of writing into a connection nobody reads.
func resetClose(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// directionOf maps the command waiting for a data connection to a direction;
// anything else (a listing, or nothing known) gets DirectionListing, which
// admits only the session's own address.
func directionOf(command string) acl.Direction {
	switch strings.ToUpper(command) {
	case "RETR":
		return acl.DirectionSend
	case "STOR", "APPE", "STOU":
		return acl.DirectionReceive
	default:
		return acl.DirectionListing
	}
}
