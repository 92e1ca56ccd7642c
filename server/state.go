package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/server/dataplane"
)

// state is one configuration compiled for fast decisions. It is immutable;
// a reload swaps in a new one, and each login and transfer reads the one
// current at that moment.
type state struct {
	cfg      *conf.Config
	policy   acl.FXPPolicy
	accounts map[string]*account
	tls      *tls.Config    // nil when TLS is off
	dataTLS  *dataplane.TLS // nil when TLS is off
	cost     *loginCost     // what a refused login costs
}

// account is one [[users]] entry, compiled.
type account struct {
	user       conf.User
	anonymous  bool
	readOnly   bool
	allowedIPs acl.Networks // empty = any
	fxp        acl.UserFXP
	secret     secret
}

func prefixes(in []conf.Prefix) acl.Networks {
	out := make(acl.Networks, len(in))
	for i, p := range in {
		out[i] = p.Prefix
	}
	return out
}

// compile compiles cfg; prev is the state it replaces (nil at start),
// whose dummy password hashes are reused for unchanged costs; compare is
// the bcrypt check refused logins pay with.
func compile(cfg *conf.Config, prev *state, compare CompareFunc) (*state, error) {
	var prevCost *loginCost
	if prev != nil {
		prevCost = prev.cost
	}
	cost, err := newLoginCost(cfg, prevCost, compare)
	if err != nil {
		return nil, err
	}
	st := &state{
		cost: cost,
		cfg:  cfg,
		policy: acl.FXPPolicy{
			Enabled:        cfg.FXP.Enabled,
			Peers:          prefixes(cfg.FXP.Peers),
			Clients:        prefixes(cfg.FXP.Clients),
			AllowAnonymous: cfg.FXP.AllowAnonymous,
		},
		accounts: make(map[string]*account, len(cfg.Users)),
	}
	for _, u := range cfg.Users {
		a := &account{
			user:       u,
			anonymous:  u.Anonymous(),
			readOnly:   u.ReadOnly || u.Anonymous(),
			allowedIPs: prefixes(u.AllowedIPs),
			fxp: acl.UserFXP{
				Name:      u.Name,
				Anonymous: u.Anonymous(),
				Send:      u.FXP == conf.FXPSend || u.FXP == conf.FXPBoth,
				Receive:   u.FXP == conf.FXPReceive || u.FXP == conf.FXPBoth,
				Peers:     prefixes(u.FXPPeers),
			},
			secret: newSecret(u),
		}
		st.accounts[u.Name] = a
	}
	if cfg.Server.TLS.Mode != conf.TLSOff {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server.tls: load certificate: %w", err)
		}
		st.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		st.dataTLS = &dataplane.TLS{Server: st.tls, RequireReuse: cfg.Server.TLS.RequireDataSessionReuse}
	}
	if err := st.loadPeerTrust(cfg); err != nil {
		return nil, err
	}
	return st, nil
}

// loadPeerTrust reads [fxp] peer_ca and peer_fingerprints, which check an
// FXP peer's certificate when ftpd is the TLS client of a data connection.
func (st *state) loadPeerTrust(cfg *conf.Config) error {
	if cfg.FXP.PeerCA == "" && len(cfg.FXP.PeerFingerprints) == 0 {
		return nil
	}
	if st.dataTLS == nil {
		return errors.New("fxp.peer_ca / fxp.peer_fingerprints: protected FXP needs [server.tls] (mode is off)")
	}
	if cfg.FXP.PeerCA != "" {
		pem, err := os.ReadFile(cfg.FXP.PeerCA)
		if err != nil {
			return fmt.Errorf("fxp.peer_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("fxp.peer_ca: %s holds no PEM certificate", cfg.FXP.PeerCA)
		}
		st.dataTLS.PeerRoots = pool
	}
	for _, f := range cfg.FXP.PeerFingerprints {
		st.dataTLS.PeerFingerprints = append(st.dataTLS.PeerFingerprints, [32]byte(f))
	}
	return nil
}

// allowsIP applies the user's allowed_ips ([] = any).
func (a *account) allowsIP(ip netip.Addr) bool { return a.allowedIPs.AllowsOrEmpty(ip) }
