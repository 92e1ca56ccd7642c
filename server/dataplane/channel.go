package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/server/proxyhdr"
)

// Channel is one control session's side of the data plane: what the
// session asked for (a PORT target or a passive port), the listener that
// serves it, and the connection handed to the library.
type Channel struct {
	plane *Plane
	sess  Session

	mu         sync.Mutex
	pending    []setup   // EPSV/PASV sent to the library, reply not yet seen
	current    *Listener // the session's data listener, if any
	cancelWait context.CancelFunc
	handed     handover // the data connection given to the library last
	closed     bool
	private    bool // PROT P
	sscn       bool // SSCN ON: TLS client for file transfers
}

// setup is one PORT/EPRT/PASV/EPSV/CPSV whose library reply is awaited.
type setup struct {
	verb   string
	target netip.AddrPort // valid for PORT/EPRT
}

// tlsClient: CPSV makes ftpd the TLS client of the transfer that follows.
func (s setup) tlsClient() bool { return s.verb == "CPSV" }

// SetPrivate records PROT P (true) or PROT C (false).
func (ch *Channel) SetPrivate(on bool) {
	ch.mu.Lock()
	ch.private = on
	ch.mu.Unlock()
}

// SetSSCN records SSCN ON (true) or OFF.
func (ch *Channel) SetSSCN(on bool) {
	ch.mu.Lock()
	ch.sscn = on
	ch.mu.Unlock()
}

// SSCN reports whether SSCN is on.
func (ch *Channel) SSCN() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.sscn
}

// role is the TLS role for a data connection of command on l, and whether
// the connection is protected at all.
func (ch *Channel) role(l *Listener, command string) (Role, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.private {
		return RoleServer, false
	}
	l.mu.Lock()
	cpsv := l.tlsClient
	l.mu.Unlock()
	if cpsv || (ch.sscn && DirectionOf(command) != acl.DirectionListing) {
		return RoleClient, true
	}
	return RoleServer, true
}

// handover is the data connection the plane gave the library last, with
// the verdict on it.
type handover struct {
	conn    net.Conn
	peer    netip.AddrPort
	verdict acl.Verdict
	tls     string     // "", or ftpd's TLS role: "server" or "client"
	watch   *idleWatch // data_timeout, until the transfer's final reply
}

// NewChannel returns the data channel of a session.
func (p *Plane) NewChannel(s Session) *Channel { return &Channel{plane: p, sess: s} }

// Active records an allowed PORT/EPRT target and returns the line the
// library gets instead ("EPSV": the library only sees passive transfers).
// It fails when the target cannot be reached from the control
// connection's address; the session's data target is then cleared.
func (ch *Channel) Active(verb string, target netip.AddrPort) (string, error) {
	local := ch.sess.ControlLocal().Unmap()
	if !local.IsValid() || local.Is4() != target.Addr().Unmap().Is4() {
		ch.Clear()
		return "", fmt.Errorf("%s is not of the control connection's address family (%s)", target.Addr(), local)
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.dropLocked()
	ch.pending = append(ch.pending, setup{verb: verb, target: target})
	return "EPSV", nil
}

// Passive records a PASV/EPSV that goes to the library as it is.
func (ch *Channel) Passive(verb string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.dropLocked()
	ch.pending = append(ch.pending, setup{verb: verb})
}

// Clear forgets the data target after a refused or failed PORT/EPRT/PASV:
// the next transfer has nowhere to go.
func (ch *Channel) Clear() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.dropLocked()
}

// Abort cancels a waiting Accept at once (ABOR, QUIT, REIN) and closes
// the session's data listener.
func (ch *Channel) Abort() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.abortLocked()
}

// Cut is Abort, and also closes the data connection of a running
// transfer: it ends now (shutdown, revocation).
func (ch *Channel) Cut() {
	ch.mu.Lock()
	c := ch.handed.conn
	ch.handed.conn = nil
	ch.handed.watch.end()
	ch.abortLocked()
	ch.mu.Unlock()
	if c != nil {
		resetClose(c)
	}
}

// Close ends the channel with its session.
func (ch *Channel) Close() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.closed = true
	ch.handed.watch.end()
	ch.abortLocked()
	ch.pending = nil
}

func (ch *Channel) abortLocked() {
	if ch.cancelWait != nil {
		ch.cancelWait()
	}
	ch.dropLocked()
}

func (ch *Channel) dropLocked() {
	if ch.current != nil {
		ch.current.close()
		ch.current = nil
	}
}

// Reply sees each reply line of the library and returns the line to send.
// A 227/229 answering one of the session's setups binds the listener of
// that port to the session; for PORT/EPRT it becomes "200 ... successful".
// A failed setup (421) is reported for what the client asked.
func (ch *Channel) Reply(line string) string {
	if len(line) < 4 || line[3] == '-' {
		return line
	}
	if out, ok := ch.idleReply(line); ok {
		return out
	}
	switch line[:3] {
	case "227", "229":
		return ch.announced(line)
	case "421":
		ch.mu.Lock()
		if len(ch.pending) == 0 {
			ch.mu.Unlock()
			return line
		}
		s := ch.pending[0]
		ch.pending = ch.pending[1:]
		ch.mu.Unlock()
		// 421 would tell the client the server is closing the control
		// connection; it is only this data setup that failed.
		return "425 " + s.verb + " failed: " + line[4:]
	case "425":
		if strings.HasPrefix(line[4:], "failed to set deadline: ") {
			// The library's handle on a data port ftpd already closed
			// (a refused or failed data command cleared it, or it
			// expired).
			if d := ch.currentExpired(); d > 0 {
				return "425 " + expiredText(d)
			}
			return "425 " + errNoData.Error()
		}
		msg := strings.TrimPrefix(line[4:], "failed to accept passive transfer connection: ")
		if rest, ok := strings.CutPrefix(msg, abortedText); ok {
			return "426 Connection closed; transfer aborted" + rest
		}
		return "425 " + msg
	}
	return line
}

func (ch *Channel) announced(line string) string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if len(ch.pending) == 0 {
		return line // not ours to bind: its listener stays unowned and refuses all
	}
	s := ch.pending[0]
	ch.pending = ch.pending[1:]
	port, ok := ParsePassiveReply(line)
	var (
		l    *Listener
		held int
	)
	if ok && !ch.closed {
		l, held = ch.plane.claim(port, ch, s.target, s.tlsClient())
	}
	if held > 0 {
		ch.sess.Warn("data port refused", "command", s.verb, "held", held, "reason", "max_passive_per_ip")
		return fmt.Sprintf("425 %s refused: your address holds %d data ports already (max_passive_per_ip); end a transfer or a session first", s.verb, held)
	}
	if l == nil {
		return "425 " + s.verb + " failed: no data port could be prepared"
	}
	ch.dropLocked()
	ch.current = l
	if s.target.IsValid() {
		return "200 " + s.verb + " command successful"
	}
	return line
}

// idleReply sees the final reply of the transfer on the data connection
// handed over last: a failure after that connection's deadline passed
// (it moved no byte for data_timeout) becomes 426.
func (ch *Channel) idleReply(line string) (string, bool) {
	code := line[:3]
	if code[0] < '2' || code[0] > '5' || code == "211" || code == "212" || code == "213" {
		return line, false // preliminary, or STAT during the transfer
	}
	ch.mu.Lock()
	w := ch.handed.watch
	ch.handed.watch = nil
	ch.mu.Unlock()
	if w == nil {
		return line, false
	}
	w.end()
	if (code[0] == '4' || code[0] == '5') && w.expired() {
		ch.sess.Warn("data connection idle: closed", "timeout", w.timeout.String(), "reason", "data_timeout", "detail", line[4:])
		return fmt.Sprintf("426 Data connection closed: no byte moved for %s (data_timeout); transfer aborted", w.timeout), true
	}
	return line, false
}

// currentExpired is how long the session's data port waited before it
// expired unused; 0 if it did not.
func (ch *Channel) currentExpired() time.Duration {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.current == nil {
		return 0
	}
	ch.current.mu.Lock()
	defer ch.current.mu.Unlock()
	return ch.current.expiredAfter
}

// PendingTarget is the PORT/EPRT target the session's next transfer would
// be dialled to: that of the newest setup awaiting the library's reply, or
// of the session's listener; zero when passive or nothing is prepared.
func (ch *Channel) PendingTarget() netip.AddrPort {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if n := len(ch.pending); n > 0 {
		return ch.pending[n-1].target
	}
	if ch.current != nil {
		ch.current.mu.Lock()
		defer ch.current.mu.Unlock()
		if !ch.current.closed {
			return ch.current.target
		}
	}
	return netip.AddrPort{}
}

// Approved reports the verdict on the data connection this channel handed
// over, and ftpd's TLS role on it ("" clear, "server" or "client"), if
// peer is its remote address. The driver calls it before the first byte
// moves; a peer the plane did not hand over is refused.
func (ch *Channel) Approved(peer netip.AddrPort) (v acl.Verdict, tlsRole string, ok bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !peer.IsValid() || ch.handed.peer != peer {
		return acl.Verdict{}, "", false
	}
	return ch.handed.verdict, ch.handed.tls, true
}

// beginWait registers a waiting Accept so that Abort can cancel it.
func (ch *Channel) beginWait() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch.mu.Lock()
	if ch.closed {
		cancel()
	}
	ch.cancelWait = cancel
	ch.mu.Unlock()
	return ctx, func() {
		ch.mu.Lock()
		ch.cancelWait = nil
		ch.mu.Unlock()
		cancel()
	}
}

// Listener is one data port: the library's passive listener, which ftpd
// either accepts on (passive) or uses only as the library's handle while
// it dials the client's PORT target itself (active).
type Listener struct {
	raw   *net.TCPListener
	lib   *net.TCPListener // the library's, when raw is the plane's own (SetPassiveBind)
	plane *Plane
	port  int

	mu           sync.Mutex
	ch           *Channel       // the owner, once claimed
	block        netip.Prefix   // the owner's client block (max_passive_per_ip)
	target       netip.AddrPort // valid: active, dial this
	tlsClient    bool           // CPSV: ftpd is the TLS client
	closed       bool
	used         bool          // a transfer called Accept: it no longer expires
	released     bool          // passive port accepted on and closed: no longer held
	timer        *time.Timer   // ListenerTimeout
	expiredAfter time.Duration // closed by its timer after this long unused
}

// holds reports whether l holds a port for block, for another channel
// than ch. The caller holds the plane's lock.
func (l *Listener) holds(block netip.Prefix, ch *Channel) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch != nil && l.ch != ch && !l.closed && !l.released && l.block == block
}

// expire closes a data port no transfer has used (ListenerTimeout), so
// that announcing ports and never connecting holds none for long.
func (l *Listener) expire() {
	d := l.plane.lim().ListenerTimeout
	l.mu.Lock()
	if l.closed || l.used {
		l.mu.Unlock()
		return
	}
	l.expiredAfter = max(d, time.Nanosecond)
	ch := l.ch
	l.mu.Unlock()
	l.close()
	if ch != nil {
		ch.sess.Warn("data port expired unused", "passive_port", l.port, "timeout", d.String(), "reason", "passive_listener_timeout")
	}
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return l.raw.Addr() }

// Close implements net.Listener.
func (l *Listener) Close() error {
	l.close()
	return nil
}

func (l *Listener) close() {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	l.mu.Unlock()
	if !already {
		_ = l.raw.Close()
		if l.lib != nil {
			_ = l.lib.Close()
		}
		l.plane.forget(l)
	}
}

// Accept implements net.Listener: it returns the session's data
// connection, judged once, or an error the library puts in a 425 reply.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	ch, target, closed, expired := l.ch, l.target, l.closed, l.expiredAfter
	l.used = true
	if l.timer != nil {
		l.timer.Stop()
	}
	l.mu.Unlock()
	if closed {
		if expired > 0 {
			return nil, errors.New(expiredText(expired))
		}
		return nil, errNoData
	}
	if ch == nil {
		return nil, fmt.Errorf("data port %d was not announced to this session", l.port)
	}
	ctx, done := ch.beginWait()
	defer done()
	if ctx.Err() != nil {
		return nil, errAborted
	}
	cmd := strings.ToUpper(ch.sess.WaitingCommand())
	req := Request{Command: cmd, Direction: DirectionOf(cmd), PassivePort: l.port}
	var (
		c   net.Conn
		v   acl.Verdict
		err error
	)
	if target.IsValid() {
		c, v, err = l.dial(ctx, ch, req, target)
	} else {
		c, v, err = l.accept(ctx, ch, req)
	}
	if err != nil {
		return nil, err
	}
	h := handover{peer: PeerOf(c), verdict: v}
	if role, private := ch.role(l, cmd); private {
		req.Peer, req.Active = h.peer, target.IsValid()
		if c, err = l.protect(ctx, ch, req, c, v, role); err != nil {
			return nil, err
		}
		h.tls = role.String()
	}
	h.conn = c
	h.watch = watchIdle(tcpOf(c), l.plane.lim().DataTimeout)
	ch.mu.Lock()
	ch.handed.watch.end()
	ch.handed = h
	ch.mu.Unlock()
	if lister, ok := ch.sess.(Lister); ok && req.Direction == acl.DirectionListing {
		return lister.ListingConn(c), nil
	}
	return c, nil
}

// dial judges the PORT target before any connection exists, then
// connects from the control connection's local address.
func (l *Listener) dial(ctx context.Context, ch *Channel, req Request, target netip.AddrPort) (net.Conn, acl.Verdict, error) {
	// The library's listener only stands in for the port here: Accept is
	// never called on it, so nothing that connects to it gets data. It
	// stays open as the library's handle until the library closes it.
	req.Peer, req.Active = target, true
	v := ch.sess.Judge(req)
	if !v.Allowed() {
		ch.sess.Refused(req, v)
		return nil, v, refusal(req.Command, v)
	}
	from := ch.sess.ControlLocal()
	if l.plane.dialFrom.IsValid() {
		from = l.plane.dialFrom
	}
	c, err := l.plane.dial(ctx, from, target)
	if err != nil {
		return nil, v, err
	}
	return c, v, nil
}

// accept waits for the session's peer on the passive port. Connections
// that arrive on another local address, or from a peer the policy does
// not admit for the waiting command, are reset; the port keeps waiting,
// for at most Grace after the first refusal.
func (l *Listener) accept(ctx context.Context, ch *Channel, req Request) (net.Conn, acl.Verdict, error) {
	if l.lib != nil {
		// The library set its deadline on its own listener.
		_ = l.raw.SetDeadline(l.plane.opts.Now().Add(l.plane.opts.AcceptTimeout))
	}
	stop := context.AfterFunc(ctx, func() { _ = l.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	local := ch.sess.ControlLocal().Unmap()
	var refused []string
	for {
		c, err := l.raw.Accept()
		if err != nil {
			if ctx.Err() != nil {
				if len(refused) > 0 {
					return nil, acl.Verdict{}, fmt.Errorf("%w; refused %s", errAborted, strings.Join(refused, "; "))
				}
				return nil, acl.Verdict{}, errAborted
			}
			var ne net.Error
			if len(refused) > 0 && errors.As(err, &ne) && ne.Timeout() {
				return nil, acl.Verdict{}, fmt.Errorf("no data connection from the client; refused %s", strings.Join(refused, "; "))
			}
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, acl.Verdict{}, fmt.Errorf("no data connection arrived on port %d", l.port)
			}
			return nil, acl.Verdict{}, fmt.Errorf("data port %d: %w", l.port, err)
		}
		r := req
		r.Peer = PeerOf(c)
		var v acl.Verdict
		if l.plane.proxy != nil {
			// Behind a balancer: the header's addresses are the
			// connection's. Only a trusted proxy is read, and within
			// the header timeout (it sends the header at once).
			pc, perr := proxyhdr.Read(c.(*net.TCPConn), *l.plane.proxy)
			if perr != nil {
				v = acl.Verdict{Reason: acl.ReasonUnknownAddress, Foreign: true, Message: perr.Error()}
			} else {
				c = pc
				r.Peer = PeerOf(c)
			}
		}
		if !v.Allowed() {
			// refused below, without a reply
		} else if arrived := addrPortOf(c.LocalAddr()).Addr(); arrived != local {
			v = acl.Verdict{Reason: acl.ReasonPortTheft, Foreign: true,
				Message: fmt.Sprintf("connection arrived on %s, not on the session's address %s", arrived, local)}
		} else {
			v = ch.sess.Judge(r)
		}
		if v.Allowed() {
			// One connection per port: nobody else gets it from now on.
			_ = l.raw.Close()
			l.mu.Lock()
			l.released = true
			l.mu.Unlock()
			return c, v, nil
		}
		resetClose(c)
		r.Stranger = true
		ch.sess.Refused(r, v)
		refused = append(refused, r.Peer.Addr().String()+": "+v.Message)
		if len(refused) == 1 {
			_ = l.raw.SetDeadline(l.plane.opts.Now().Add(l.plane.opts.Grace))
		}
	}
}

// tcpOf is the TCP connection under a data connection (clear, or TLS).
func tcpOf(c net.Conn) *net.TCPConn {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	tc, _ := c.(*net.TCPConn)
	return tc
}
