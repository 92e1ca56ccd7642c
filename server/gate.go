package server

import (
	"net"
	"strings"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/driver"
)

// passiveGate stands in front of one passive port. It hands the FTP library
// only a connection from the session the port was announced to, or from an
// allowed FXP peer for a file transfer; anyone else is closed at once and
// the gate keeps waiting, so a stranger racing to the port neither gets
// data nor breaks the real transfer.
type passiveGate struct {
	net.Listener
	srv  *Server
	port int
}

// Accept implements net.Listener.
func (g *passiveGate) Accept() (net.Conn, error) {
	for {
		conn, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := driver.PeerOf(conn)
		owner := g.srv.passiveOwner(g.port)
		if owner == nil {
			g.srv.log.Warn("passive connection to an unannounced port closed",
				"port", g.port, "peer", peer.String(), "reason", acl.ReasonPortTheft.String())
			conn.Close()
			continue
		}
		st := g.srv.state.Load()
		dir := directionOf(owner.cc.GetLastCommand())
		if st.policy.MayAcceptPassive(owner.clientIP, peer.Addr(), dir) {
			return conn, nil
		}
		owner.log.Warn("passive connection from a stranger closed",
			"command", owner.cc.GetLastCommand(), "direction", dir.String(),
			"peer", peer.Addr().String(), "port", peer.Port(), "passive_port", g.port,
			"reason", acl.ReasonPortTheft.String())
		conn.Close()
	}
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
