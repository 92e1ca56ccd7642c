package fxp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/ftpd/ftpd/ftpclient"
)

// Roles of the two servers.
const (
	roleSrc = "source"
	roleDst = "destination"
)

// server is one logged-in control connection to an endpoint.
type server struct {
	role  string
	ep    Endpoint
	c     *ftpclient.Conn
	feats []string
	fdone bool
	pwd   string // login directory, once asked
	sscn  bool   // SSCN ON sent and in force
	// allowForeign passes on a PASV address that is not this server's
	// control address (--allow-foreign-pasv).
	allowForeign bool
}

// dial connects and logs in (TYPE I; under TLS, PBSZ 0 and PROT C).
func (c *Client) dial(ctx context.Context, role string, ep Endpoint) (*server, error) {
	opts := ftpclient.Options{LocalAddr: c.opts.Bind, Timeout: c.opts.Timeout,
		DataTimeout: c.opts.DataTimeout, MaxListing: c.opts.MaxListing}
	if c.opts.Secure && !ep.TLS {
		return nil, fmt.Errorf("%s %s: --secure needs TLS on both servers (ftps:// URLs, or tls in the sites file)", role, ep)
	}
	if ep.TLS {
		cfg := &tls.Config{}
		if ep.TLSConfig != nil {
			cfg = ep.TLSConfig.Clone()
		} else if c.opts.TLS != nil {
			cfg = c.opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = ep.Host
		}
		opts.TLS, opts.ImplicitTLS = cfg, ep.ImplicitTLS
		// FXP data is clear (PROT C) unless --secure asks for PROT P and
		// one server takes the TLS client role (SSCN/CPSV).
		opts.ClearData = !c.opts.Secure
	}
	conn, err := ftpclient.Dial(ctx, ep.Addr(), opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", role, ep, err)
	}
	if err := conn.Login(ep.User, ep.Pass); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s %s: login: %w", role, ep, err)
	}
	c.log.Debug("logged in", "role", role, "server", ep.String(), "banner", conn.Banner)
	return &server{role: role, ep: ep, c: conn, allowForeign: c.opts.AllowForeignPasv || ep.AllowForeignPasv}, nil
}

func (s *server) close() {
	if s != nil {
		_ = s.c.Close()
	}
}

// String names the server in messages: "destination 127.0.0.3:2121".
func (s *server) String() string { return s.role + " " + s.ep.Addr() }

// host is the server's address as seen on the control connection.
func (s *server) host() netip.Addr {
	if a, ok := s.c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// passive opens a listening data port on the server: EPSV on IPv6, PASV on
// IPv4. A PASV reply with an unspecified address means the control host.
func (s *server) passive() (netip.AddrPort, error) {
	host := s.host()
	if host.Is6() {
		return s.c.Epsv()
	}
	addr, err := s.c.Pasv()
	if err != nil {
		return addr, err
	}
	return s.ownAddr(addr)
}

// ownAddr checks a PASV (or CPSV) address before it is handed to the other
// server: it must be this server's control address, so that the other
// server connects to this one and to no third host a hostile reply names
// (as lftp and curl do). An unspecified address means the control host.
// EPSV names no address: it is the control host by construction.
func (s *server) ownAddr(addr netip.AddrPort) (netip.AddrPort, error) {
	host := s.host()
	switch a := addr.Addr().Unmap(); {
	case a.IsUnspecified():
		return netip.AddrPortFrom(host, addr.Port()), nil
	case a == host || s.allowForeign:
		return addr, nil
	}
	return addr, fmt.Errorf("%w: its PASV reply names %s, not its control address %s: not handed to the other server (--allow-foreign-pasv allows it, for a server behind NAT)",
		errForeignPasv, addr.Addr(), host)
}

// errForeignPasv marks a refused PASV address.
var errForeignPasv = errors.New("foreign PASV address refused")

// features returns FEAT's lines, asked once; none when FEAT fails.
func (s *server) features() []string {
	if !s.fdone {
		s.feats, _ = s.c.Feat()
		s.fdone = true
	}
	return s.feats
}

// wait sends a command and waits for its reply with no time limit (for
// HASH of large files) until ctx is done.
func (s *server) wait(ctx context.Context, line string) (int, string, error) {
	if err := s.c.Send("%s", line); err != nil {
		return 0, "", err
	}
	return s.c.WaitReply(ctx)
}

// size returns SIZE of p; ok is false when the server says it has no such
// file (550) — other failures are errors.
func (s *server) size(p string) (n int64, ok bool, err error) {
	n, err = s.c.Size(p)
	if re, isReply := err.(*ftpclient.ReplyError); isReply && re.Code == 550 {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", s, err)
	}
	return n, true, nil
}

// oneLine joins a multi-line reply text for messages.
func oneLine(msg string) string {
	return strings.ReplaceAll(strings.TrimSpace(msg), "\n", " | ")
}

// abs resolves p (relative to the login directory) to an absolute path.
func (s *server) abs(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	if s.pwd == "" {
		msg, err := s.c.Expect(257, "PWD")
		if err != nil {
			return "", fmt.Errorf("%s: %w", s, err)
		}
		s.pwd = quoted(msg)
	}
	return path.Join(s.pwd, p), nil
}

// isDir reports whether dir exists as a directory (CWD into it and back).
func (s *server) isDir(dir string) (bool, error) {
	back, err := s.abs(".")
	if err != nil {
		return false, err
	}
	code, _, err := s.c.Cmd("CWD %s", dir)
	if err != nil {
		return false, fmt.Errorf("%s: CWD %s: %w", s, dir, err)
	}
	if code != 250 {
		return false, nil
	}
	if _, err := s.c.Expect(250, "CWD %s", back); err != nil {
		return false, fmt.Errorf("%s: %w", s, err)
	}
	return true, nil
}

// mkdirAll creates dir and its missing parents, as mkdir -p does. A
// directory that exists already is fine.
func (s *server) mkdirAll(dir string) error {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" || dir == "/" || dir == "." {
		return nil
	}
	code, msg, err := s.c.Cmd("MKD %s", dir)
	if err != nil {
		return fmt.Errorf("%s: MKD %s: %w", s, dir, err)
	}
	if code == 257 {
		return nil
	}
	if ok, err := s.isDir(dir); err != nil || ok {
		return err
	}
	parent := path.Dir(dir)
	if parent == dir || parent == "." || parent == "/" {
		return fmt.Errorf("%s: MKD %s: server replied %d %s", s, dir, code, oneLine(msg))
	}
	if err := s.mkdirAll(parent); err != nil {
		return err
	}
	if _, err := s.c.Expect(257, "MKD %s", dir); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	return nil
}
