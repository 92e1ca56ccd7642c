package fxp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ftpd/ftpd/ftpclient"
)

// SSCNSide names the server that takes the TLS client role of a secure
// FXP data connection.
type SSCNSide string

// The sides --sscn accepts.
const (
	SSCNPassive     SSCNSide = "passive"
	SSCNActive      SSCNSide = "active"
	SSCNSource      SSCNSide = "src"
	SSCNDestination SSCNSide = "dst"
)

// ParseSSCNSide reads --sscn.
func ParseSSCNSide(s string) (SSCNSide, error) {
	switch v := SSCNSide(s); v {
	case "", SSCNPassive:
		return SSCNPassive, nil
	case SSCNActive, SSCNSource, SSCNDestination:
		return v, nil
	}
	return "", fmt.Errorf("--sscn %q: want passive, active, src or dst", s)
}

func secureText(on bool) string {
	if on {
		return ", secure"
	}
	return ""
}

// errNoTLSClient: neither server can take the TLS client role.
var errNoTLSClient = errors.New("secure FXP needs one server that answers SSCN (or CPSV on the PASV side); neither lists them in FEAT")

// secure prepares a protected FXP data connection: the chosen server
// becomes the TLS client with SSCN ON (the other gets SSCN OFF if it had
// it on), or, when the chosen server is the passive one and offers CPSV
// but not SSCN, by sending CPSV instead of PASV (reported by cpsv).
func (w *worker) secure(pasv, port *server) (cpsv bool, err error) {
	want := pasv
	switch w.cl.opts.SSCN {
	case SSCNActive:
		want = port
	case SSCNSource:
		want = w.src
	case SSCNDestination:
		want = w.dst
	}
	other := pasv
	if want == pasv {
		other = port
	}
	for _, client := range []*server{want, other} {
		peer := other
		if client == other {
			peer = want
		}
		feats := client.features()
		switch {
		case hasFeature(feats, "SSCN"):
			if err := peer.setSSCN(false); err != nil {
				return false, err
			}
			return false, client.setSSCN(true)
		case client == pasv && hasFeature(feats, "CPSV"):
			if err := peer.setSSCN(false); err != nil {
				return false, err
			}
			return true, pasv.setSSCN(false)
		}
	}
	return false, errNoTLSClient
}

// setSSCN switches SSCN on or off where it is not already so. A server
// that never had SSCN on needs no OFF (and may not know the command).
func (s *server) setSSCN(on bool) error {
	if s.sscn == on {
		return nil
	}
	arg := map[bool]string{true: "ON", false: "OFF"}[on]
	if _, err := s.c.Expect(200, "SSCN %s", arg); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	s.sscn = on
	return nil
}

// cpsv is PASV after which the server is the TLS client of the transfer.
func (s *server) cpsv() (netip.AddrPort, error) {
	msg, err := s.c.Expect(227, "CPSV")
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap, err := ftpclient.ParsePASV(msg)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return s.ownAddr(ap)
}
