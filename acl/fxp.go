package acl

import (
	"fmt"
	"net/netip"
)

// Direction is which way file data flows, seen from this server.
type Direction uint8

// Directions. DirectionAny is used when the direction is not known yet (at
// PORT time): the question is then "could any transfer be allowed".
const (
	DirectionAny     Direction = iota
	DirectionSend              // RETR: this server sends file data
	DirectionReceive           // STOR, APPE, STOU: this server receives it
	DirectionListing           // LIST, NLST, MLSD: this server sends a listing
)

func (d Direction) String() string {
	switch d {
	case DirectionSend:
		return "send"
	case DirectionReceive:
		return "receive"
	case DirectionListing:
		return "listing"
	default:
		return "any"
	}
}

// Reason says why a data connection was refused. ReasonNone means allowed.
type Reason uint8

// Refusal reasons; their String values are stable (logs and metrics use them).
const (
	ReasonNone            Reason = iota
	ReasonUnknownAddress         // the peer or client address could not be determined
	ReasonPrivilegedPort         // an active connection to a port below 1024
	ReasonFXPDisabled            // a foreign address while [fxp] enabled = false
	ReasonListing                // a listing to or from a foreign address
	ReasonAnonymous              // anonymous FXP while allow_anonymous = false
	ReasonDirection              // the user's fxp setting forbids this direction
	ReasonClients                // the control client is outside [fxp].clients
	ReasonPeers                  // the peer is outside [fxp].peers
	ReasonUserPeers              // the peer is outside the user's fxp_peers
	ReasonPortTheft              // a stranger connected to a passive port
	ReasonPeerCertificate        // an FXP peer's TLS certificate did not verify
	ReasonTLSHandshake           // a protected data connection's TLS handshake failed
)

var reasonNames = [...]string{
	ReasonNone:            "none",
	ReasonUnknownAddress:  "unknown_address",
	ReasonPrivilegedPort:  "privileged_port",
	ReasonFXPDisabled:     "fxp_disabled",
	ReasonListing:         "foreign_listing",
	ReasonAnonymous:       "anonymous",
	ReasonDirection:       "direction",
	ReasonClients:         "clients_list",
	ReasonPeers:           "peers_list",
	ReasonUserPeers:       "user_peers_list",
	ReasonPortTheft:       "port_theft",
	ReasonPeerCertificate: "peer_certificate",
	ReasonTLSHandshake:    "tls_handshake",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Reasons lists every refusal reason, for pre-creating metric series.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonNames)-1)
	for r := ReasonUnknownAddress; int(r) < len(reasonNames); r++ {
		out = append(out, r)
	}
	return out
}

// FXPPolicy is the server-wide foreign data address policy ([fxp]).
type FXPPolicy struct {
	Enabled        bool
	Peers          Networks // empty = any peer
	Clients        Networks // empty = any control client
	AllowAnonymous bool
}

// UserFXP is what one user may do with foreign data addresses.
type UserFXP struct {
	Name      string
	Anonymous bool
	Send      bool     // may RETR to a foreign peer
	Receive   bool     // may STOR/APPE from a foreign peer
	Peers     Networks // empty = no narrowing of FXPPolicy.Peers
}

// DataRequest describes one data connection (or, at PORT time, a planned one).
type DataRequest struct {
	Direction Direction
	Client    netip.Addr     // the control connection's peer IP
	Peer      netip.AddrPort // the data connection's peer (or PORT target)
	// Active is true when this server dials Peer (PORT/EPRT). Peer's port is
	// then a destination chosen by the client and must not be privileged;
	// on the passive side it is only the peer's source port.
	Active bool
}

// Verdict is the answer to a DataRequest.
type Verdict struct {
	Reason  Reason // ReasonNone when allowed
	Foreign bool   // the peer IP differs from the client IP
	Message string // why, for the FTP reply and the log; "" when allowed
}

// Allowed reports whether the verdict lets the connection proceed.
func (v Verdict) Allowed() bool { return v.Reason == ReasonNone }

// Decide rules on one data connection. It fails closed: an address it cannot
// read is refused.
func (p *FXPPolicy) Decide(u *UserFXP, r DataRequest) Verdict {
	client := r.Client.Unmap()
	peerIP := r.Peer.Addr().Unmap()
	if !client.IsValid() || !peerIP.IsValid() || u == nil {
		return refuse(ReasonUnknownAddress, false, "data connection refused: cannot determine its addresses")
	}
	if r.Active && r.Peer.Port() < 1024 {
		return refuse(ReasonPrivilegedPort, peerIP != client,
			fmt.Sprintf("refused to connect to port %d: data connections to ports below 1024 are never made (RFC 2577)", r.Peer.Port()))
	}
	if peerIP == client {
		return Verdict{}
	}
	switch {
	case r.Direction == DirectionListing:
		return refuse(ReasonListing, true, fmt.Sprintf("listings are never sent to a foreign address (%s)", peerIP))
	case !p.Enabled:
		return refuse(ReasonFXPDisabled, true, fmt.Sprintf("foreign data address %s refused: FXP is disabled on this server", peerIP))
	case u.Anonymous && !p.AllowAnonymous:
		return refuse(ReasonAnonymous, true, "FXP is not allowed for anonymous logins")
	case !u.allows(r.Direction):
		return refuse(ReasonDirection, true, directionMessage(u, r.Direction))
	case !p.Clients.AllowsOrEmpty(client):
		return refuse(ReasonClients, true, fmt.Sprintf("client %s may not start FXP on this server", client))
	case !p.Peers.AllowsOrEmpty(peerIP):
		return refuse(ReasonPeers, true, fmt.Sprintf("%s is not an allowed FXP peer of this server", peerIP))
	case !u.Peers.AllowsOrEmpty(peerIP):
		return refuse(ReasonUserPeers, true, fmt.Sprintf("%s is not an allowed FXP peer for %s", peerIP, u.Name))
	}
	return Verdict{Foreign: true}
}

func (u *UserFXP) allows(d Direction) bool {
	switch d {
	case DirectionSend:
		return u.Send
	case DirectionReceive:
		return u.Receive
	case DirectionAny:
		return u.Send || u.Receive
	default:
		return false
	}
}

func directionMessage(u *UserFXP, d Direction) string {
	if d == DirectionAny {
		return "FXP is not allowed for " + u.Name
	}
	return fmt.Sprintf("FXP %s not allowed for %s", d, u.Name)
}

func refuse(r Reason, foreign bool, msg string) Verdict {
	return Verdict{Reason: r, Foreign: foreign, Message: msg}
}
