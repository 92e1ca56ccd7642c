package fxp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ftpd/ftpd/ftpclient"
)

// SiteReport is what CheckSite found out about a server.
type SiteReport struct {
	Greeting string            `json:"greeting"`
	Features map[string]bool   `json:"features"` // SSCN, CPSV, HASH, MLSD, MFMT, REST STREAM, SITE XFERS
	FEAT     []string          `json:"feat"`
	PortTest string            `json:"port_foreign"` // the reply to PORT naming another host
	FXP      map[string]string `json:"fxp"`          // "as PORT side": yes/no/unknown, with why
}

// checkedFeatures are the FEAT lines an FXP user cares about.
var checkedFeatures = []string{"SSCN", "CPSV", "HASH", "MLSD", "MFMT", "MDTM", "REST STREAM", "SIZE"}

// CheckSite logs in to ep and reports its greeting, its features and
// whether it accepts PORT to peer (what the PORT side of an FXP copy with
// that peer needs); an invalid peer means the server's own address, a
// stand-in for "some other host". It moves no data: the PORT is never
// followed by a transfer command.
func (c *Client) CheckSite(ctx context.Context, ep Endpoint, peer netip.Addr) (SiteReport, error) {
	s, err := c.dial(ctx, roleSrc, ep)
	if err != nil {
		return SiteReport{}, err
	}
	defer s.close()
	r := SiteReport{Greeting: oneLine(s.c.Banner), Features: map[string]bool{}, FXP: map[string]string{}}
	r.FEAT = s.features()
	for _, want := range checkedFeatures {
		r.Features[want] = hasFeature(r.FEAT, want)
	}
	if want := "HASH"; !r.Features[want] {
		// ftpserverlib lists the algorithms without the HASH prefix.
		r.Features[want] = hashSupport(r.FEAT, hashAlgos[0]) == hashHASH
	}
	// PORT to an address that is not ours: a server that refuses it
	// cannot be the PORT side of FXP with that peer.
	if !peer.IsValid() {
		peer = s.host()
	}
	target := netip.AddrPortFrom(peer, 1024)
	code, msg, err := s.c.Cmd("%s", ftpclient.PortCommand(target, target.Addr().Is6()))
	if err != nil {
		return r, fmt.Errorf("%s: PORT: %w", s, err)
	}
	r.PortTest = fmt.Sprintf("%d %s", code, oneLine(msg))
	if code == 200 {
		r.FXP["port_side"] = "yes (PORT to " + peer.String() + " accepted)"
	} else {
		r.FXP["port_side"] = "no (PORT to " + peer.String() + " refused: " + r.PortTest + ")"
	}
	r.FXP["passive_side"] = "unknown (whether a foreign peer may connect is decided when it connects)"
	return r, nil
}

// hasFeature reports whether FEAT lists want (a line equal to it, or
// starting with it and a space).
func hasFeature(feats []string, want string) bool {
	for _, f := range feats {
		if strings.EqualFold(f, want) || len(f) > len(want) && strings.EqualFold(f[:len(want)+1], want+" ") {
			return true
		}
	}
	return false
}
