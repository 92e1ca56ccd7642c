package dataplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/ftpd/ftpd/acl"
)

// TLS is what the data plane needs to protect data connections (PROT P).
type TLS struct {
	// Server is the server's TLS configuration, the one the control
	// connections use: same certificate, same session ticket keys.
	Server *tls.Config
	// RequireReuse: a data connection from the control client, with ftpd
	// as TLS server, must resume that client's control session.
	RequireReuse bool
	// PeerRoots and PeerFingerprints check an FXP peer's certificate when
	// ftpd is the TLS client; with neither, any certificate is accepted.
	PeerRoots        *x509.CertPool
	PeerFingerprints [][32]byte
}

// Role is the side of the TLS handshake ftpd takes on a data connection.
type Role uint8

// Roles.
const (
	RoleServer Role = iota // the default
	RoleClient             // after SSCN ON (file transfers) or CPSV
)

func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// Handshake bounds. A protected FXP data connection where ftpd is the TLS
// server waits this long for the peer's ClientHello: a peer that is a TLS
// server too never sends one.
const (
	clientHelloWait  = 5 * time.Second
	handshakeTimeout = 15 * time.Second
)

// errNotResumed refuses a data connection that does not resume the
// control session.
var errNotResumed = errors.New("the data connection's TLS session does not resume the control connection's session (require_data_session_reuse)")

// protect runs the data connection's TLS in the given role. As TLS server
// for the session's own client the handshake is left to the first read or
// write, after the 150 reply, as FTP clients expect; for an FXP peer, and
// as TLS client, it is done here, so a failure is answered before the
// transfer starts, with the reason.
func (l *Listener) protect(ctx context.Context, ch *Channel, req Request, c net.Conn, v acl.Verdict, role Role) (net.Conn, error) {
	t := ch.sess.DataTLS()
	if t == nil || t.Server == nil {
		resetClose(c)
		return nil, errors.New("PROT P, but TLS is not configured on this server")
	}
	peer := PeerOf(c).Addr()
	// fail refuses the connection: reset, logged and counted, and the
	// reason in the library's 425 reply.
	fail := func(reason acl.Reason, msg string) (net.Conn, error) {
		resetClose(c)
		ch.sess.Refused(req, acl.Verdict{Reason: reason, Foreign: v.Foreign, Message: msg})
		return nil, errors.New(msg)
	}
	if role == RoleClient {
		cfg := t.clientConfig()
		// crypto/tls reports a cancelled context in place of the
		// handshake's own error when both happen together (a refused
		// certificate, then the client's ABOR as the other server fails):
		// the verification's verdict is kept here.
		verify, verifyErr := cfg.VerifyConnection, error(nil)
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			verifyErr = verify(cs)
			return verifyErr
		}
		tc := tls.Client(c, cfg)
		if err := handshake(ctx, tc); err != nil {
			if verifyErr != nil {
				err = verifyErr
			}
			reason := acl.ReasonTLSHandshake
			if errors.Is(err, errPeerCertificate) {
				reason = acl.ReasonPeerCertificate
			}
			return fail(reason, fmt.Sprintf("TLS handshake with %s (ftpd as TLS client) failed: %v", peer, err))
		}
		return tc, nil
	}
	if !v.Foreign {
		cfg := t.Server.Clone()
		if t.RequireReuse {
			base := t.Server
			cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
				return ch.sess.WrapTicket(base, cs, ss)
			}
			cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
				ss, err := base.DecryptTicket(identity, cs)
				if err != nil || !ch.sess.ResumesControlSession(ss) {
					return nil, nil // not this client's session: no resumption
				}
				return ss, nil
			}
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if !cs.DidResume {
					return errNotResumed
				}
				return nil
			}
		}
		return tls.Server(c, cfg), nil
	}
	// An FXP peer: it must start the handshake (it is the TLS client).
	if ok, err := waitReadable(c, clientHelloWait); err != nil {
		return fail(acl.ReasonTLSHandshake, fmt.Sprintf("TLS handshake with %s failed: %v", peer, err))
	} else if !ok {
		return fail(acl.ReasonTLSHandshake, fmt.Sprintf("TLS handshake with %s failed: no TLS ClientHello within %s: both sides are TLS servers; use SSCN ON or CPSV on one of them", peer, clientHelloWait))
	}
	tc := tls.Server(c, t.Server)
	if err := handshake(ctx, tc); err != nil {
		return fail(acl.ReasonTLSHandshake, fmt.Sprintf("TLS handshake with %s (ftpd as TLS server) failed: %v", peer, err))
	}
	return tc, nil
}

func handshake(ctx context.Context, tc *tls.Conn) error {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		// Aborted only if the abort is what stopped it: a handshake that
		// failed on its own (a refused certificate) keeps its reason even
		// when an ABOR follows at once.
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return errAborted
		}
		return err
	}
	return nil
}

// waitReadable waits until the peer has sent something, without reading
// it.
func waitReadable(c net.Conn, d time.Duration) (bool, error) {
	tcp, ok := c.(interface {
		syscall.Conn
		SetReadDeadline(time.Time) error
	})
	if !ok {
		return true, nil
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return false, err
	}
	if err := tcp.SetReadDeadline(time.Now().Add(d)); err != nil {
		return false, err
	}
	defer tcp.SetReadDeadline(time.Time{})
	var n int
	var rerr error
	buf := make([]byte, 1)
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return !errors.Is(rerr, syscall.EAGAIN)
	})
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rerr != nil {
		return false, rerr
	}
	return n > 0, nil
}

// errPeerCertificate marks a peer certificate that did not verify.
var errPeerCertificate = errors.New("peer certificate")

// clientConfig is ftpd's side as TLS client toward an FXP peer: TLS 1.2+,
// the peer's certificate checked against PeerRoots or PeerFingerprints.
// Peers are addressed by IP and rarely have IP SANs, so the chain is
// verified without a host name.
func (t *TLS) clientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, without a host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: none presented", errPeerCertificate)
			}
			leaf := cs.PeerCertificates[0]
			if len(t.PeerFingerprints) > 0 {
				sum := sha256.Sum256(leaf.Raw)
				for _, f := range t.PeerFingerprints {
					if bytes.Equal(sum[:], f[:]) {
						return nil
					}
				}
				if t.PeerRoots == nil {
					return fmt.Errorf("%w: SHA-256 %x is not in peer_fingerprints", errPeerCertificate, sum)
				}
			}
			if t.PeerRoots != nil {
				inter := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					inter.AddCert(c)
				}
				_, err := leaf.Verify(x509.VerifyOptions{Roots: t.PeerRoots, Intermediates: inter})
				if err != nil {
					return fmt.Errorf("%w: does not chain to peer_ca: %v", errPeerCertificate, trimX509(err))
				}
			}
			return nil
		},
	}
}

func trimX509(err error) string { return strings.TrimPrefix(err.Error(), "x509: ") }
