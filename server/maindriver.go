package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/ftpd/ftpd/server/dataplane"
)

// mainDriver is the FTP library's view of the server.
type mainDriver struct{ srv *Server }

var (
	_ ftpserver.MainDriver                         = (*mainDriver)(nil)
	_ ftpserver.MainDriverExtensionUserVerifier    = (*mainDriver)(nil)
	_ ftpserver.MainDriverExtensionPassiveWrapper  = (*mainDriver)(nil)
	_ ftpserver.MainDriverExtensionPostAuthMessage = (*mainDriver)(nil)
)

// GetSettings maps the configuration onto library settings. See DESIGN.md
// for why each non-default value is what it is.
func (d *mainDriver) GetSettings() (*ftpserver.Settings, error) {
	cfg := d.srv.state.Load().cfg
	set := &ftpserver.Settings{
		Listener:                d.srv.ln,
		Banner:                  cfg.Server.Banner,
		IdleTimeout:             int(cfg.Server.IdleTimeout.Seconds()),
		ConnectionTimeout:       30,
		ActiveTransferPortNon20: true,
		DefaultTransferType:     ftpserver.TransferTypeBinary,
		DisableASCIIConversion:  true, // a converter would hide the data connection from the verdict
		DeflateCompressionLevel: 0,    // so would MODE Z
		EnableHASH:              true,
		// ftpd makes and judges every data connection itself (the data
		// plane); the library only ever sees passive transfers.
		ActiveConnectionsCheck:          ftpserver.IPMatchDisabled,
		PasvConnectionsCheck:            ftpserver.IPMatchDisabled,
		PassiveTransferPortMultiplexing: false,
	}
	if cfg.Server.IdleTimeout.Duration > 0 && set.IdleTimeout == 0 {
		set.IdleTimeout = 1
	}
	// Implicit TLS is ftpd's own (controlconn), and data TLS is the data
	// plane's: the library is never told, so it never wraps a connection.
	switch pr := cfg.Server.PassivePorts; {
	case !cfg.Server.Listen.Addr().IsUnspecified():
		// The library would bind 0.0.0.0 (every interface, and a port a
		// balancer on this machine holds on its own address): it gets a
		// throwaway port, and the data plane binds the listen address
		// in the configured range (dataplane.SetPassiveBind).
		set.PassiveTransferPortRange = dataplane.PassiveAnyPort{}
	case pr.Start != 0:
		set.PassiveTransferPortRange = ftpserver.PortRange{Start: int(pr.Start), End: int(pr.End)}
	}
	switch {
	case cfg.Server.PublicHost.IsValid():
		set.PublicHost = cfg.Server.PublicHost.String()
	case cfg.Server.Listen.Addr().Is4() && !cfg.Server.Listen.Addr().IsUnspecified():
		set.PublicHost = cfg.Server.Listen.Addr().String()
	}
	return set, nil
}

// ClientConnected starts a session for a new control connection.
func (d *mainDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	s := d.srv
	st := s.state.Load()
	conn := s.claimConn(cc.RemoteAddr().String())
	if conn == nil {
		// Not one of ours: fail closed.
		return "Service not available", errors.New("unknown control connection")
	}
	sess := newSession(s, cc, conn)
	s.addSession(sess)
	conn.SetScreener(sess)
	sess.log.Debug("connected")
	return st.cfg.Server.Banner, nil
}

// ClientDisconnected ends a session.
func (d *mainDriver) ClientDisconnected(cc ftpserver.ClientContext) {
	d.srv.released(cc.RemoteAddr())
	if sess, ok := cc.Extra().(*session); ok {
		sess.end()
		d.srv.removeSession(sess)
	}
}

// PreAuthUser runs at USER, before any password: TLS requirement and the
// user's allowed_ips. A refusal here closes the connection with 530.
func (d *mainDriver) PreAuthUser(cc ftpserver.ClientContext, user string) error {
	sess, ok := cc.Extra().(*session)
	if !ok {
		return errors.New("no session")
	}
	return sess.preAuth(user)
}

// AuthUser checks the password and returns the session's storage driver.
func (d *mainDriver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	sess, ok := cc.Extra().(*session)
	if !ok {
		return nil, errors.New("no session")
	}
	return sess.login(user, pass)
}

// PostAuthMessage words the reply to PASS.
func (d *mainDriver) PostAuthMessage(_ ftpserver.ClientContext, user string, authErr error) string {
	if authErr != nil {
		return authErr.Error()
	}
	return fmt.Sprintf("User %s logged in", user)
}

// GetTLSConfig is used for data connections (PROT P) and FEAT.
func (d *mainDriver) GetTLSConfig() (*tls.Config, error) {
	if cfg := d.srv.tlsConfig(); cfg != nil {
		return cfg, nil
	}
	return nil, errors.New("TLS is not enabled on this server")
}

// WrapPassiveListener hands every data port the library opens to the data
// plane, which makes (active) or accepts (passive) and judges each data
// connection itself.
func (d *mainDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	return d.srv.plane.Wrap(l)
}

func addrOf(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
