package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/server/proxyhdr"
)

// Session is the control session a data connection belongs to.
type Session interface {
	// ControlLocal is the local address of the control connection:
	// active connections leave from it, passive ones must arrive on it.
	ControlLocal() netip.Addr
	// WaitingCommand is the command waiting for the data connection
	// (RETR, STOR, LIST, ...), as the FTP library reports it.
	WaitingCommand() string
	// Judge decides on one data connection (the policy, nothing else).
	Judge(r Request) acl.Verdict
	// Refused logs and counts a refused data connection.
	Refused(r Request, v acl.Verdict)
	// DataTLS is the TLS setup for protected data connections; nil when
	// the server has no TLS.
	DataTLS() *TLS
	// ResumesControlSession reports whether a TLS session state a data
	// connection presents was issued on this session's control connection.
	ResumesControlSession(ss *tls.SessionState) bool
	// WrapTicket issues a ticket on a data connection marked as the
	// control session's, with base's keys.
	WrapTicket(base *tls.Config, cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error)
	// ClientBlock is the client's address block for per-client limits:
	// the IPv4 address, or the IPv6 block bans and connection caps use.
	ClientBlock() netip.Prefix
	// Warn logs (and counts, with a "reason" attribute) a refusal or an
	// ended connection that is not a policy verdict.
	Warn(msg string, args ...any)
}

// Lister is a Session that streams listings itself: the data connection
// of a listing command (LIST, NLST, MLSD) reaches the library through
// ListingConn, which returns it as it is or wrapped (server/listing).
type Lister interface {
	ListingConn(c net.Conn) net.Conn
}

// Request describes one data connection to be judged.
type Request struct {
	Command   string
	Direction acl.Direction
	Peer      netip.AddrPort
	Active    bool // this server dials Peer
	// Stranger is set on a refused passive connection: someone the
	// session's policy does not admit connected to its port.
	Stranger    bool
	PassivePort int
}

// Options configure a Plane.
type Options struct {
	DialTimeout time.Duration // active connections; 0 = 10 s
	// AcceptTimeout bounds the wait for a passive connection on a port
	// the plane bound itself (SetPassiveBind); 0 = 30 s, the library's
	// own data connection timeout.
	AcceptTimeout time.Duration
	Grace         time.Duration    // how long a passive port waits after refusing a stranger; 0 = 5 s
	Now           func() time.Time // nil = time.Now
}

// Limits bound what a client can hold of the data plane; a reload may
// change them (SetLimits) for the connections and ports that follow.
type Limits struct {
	// DataTimeout ends a data connection that moves no byte for this
	// long; 0 = never.
	DataTimeout time.Duration
	// ListenerTimeout closes a data port no transfer has used this long
	// after it was opened; 0 = never.
	ListenerTimeout time.Duration
	// MaxPerClient is how many data ports one client block may hold
	// (ClientBlock); 0 = no cap.
	MaxPerClient int
}

// Plane is the server-wide part: the passive ports the library opened,
// by port number, until a session claims them.
type Plane struct {
	opts   Options
	port20 atomic.Bool
	limits atomic.Pointer[Limits]

	// Set once before serving (SetPassiveBind, SetProxy).
	bind     netip.Addr        // valid: passive ports bind this address
	bindLo   int               // and a port of bindLo-bindHi (0: any)
	bindHi   int               //
	proxy    *proxyhdr.Options // non-nil: data connections carry a PROXY header
	dialFrom netip.Addr        // valid: active connections leave from it

	mu    sync.Mutex
	ports map[int]*Listener
}

// New returns a Plane.
func New(opts Options) *Plane {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.AcceptTimeout == 0 {
		opts.AcceptTimeout = 30 * time.Second
	}
	if opts.Grace == 0 {
		opts.Grace = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Plane{opts: opts, ports: map[int]*Listener{}}
	p.limits.Store(&Limits{})
	return p
}

// SetActivePort20 makes active connections leave from port 20.
func (p *Plane) SetActivePort20(on bool) { p.port20.Store(on) }

// SetLimits sets the data plane's limits.
func (p *Plane) SetLimits(l Limits) { p.limits.Store(&l) }

func (p *Plane) lim() Limits { return *p.limits.Load() }

// SetPassiveBind makes passive ports bind addr (a port of lo-hi, or any
// when lo is 0) instead of the library's 0.0.0.0: the library is then
// given a port getter that asks for any port (see PassiveAnyPort), and
// Wrap trades its listener for one on addr. Call before serving.
func (p *Plane) SetPassiveBind(addr netip.Addr, lo, hi int) {
	p.bind, p.bindLo, p.bindHi = addr.Unmap(), lo, hi
}

// SetProxy makes every passive connection start with a PROXY header from
// a trusted proxy (see proxyhdr); its addresses are then the connection's
// for every decision. Active connections leave from dialFrom, this
// instance's own address (the control connection's local address is the
// balancer's). Call before serving.
func (p *Plane) SetProxy(o proxyhdr.Options, dialFrom netip.Addr) {
	p.proxy, p.dialFrom = &o, dialFrom.Unmap()
}

// PassiveAnyPort is the library's passive port getter with SetPassiveBind:
// it asks the library for a kernel-chosen port (exposed port 0, so the
// library announces the port of the listener Wrap returns).
type PassiveAnyPort struct{}

// FetchNext implements ftpserverlib's PasvPortGetter.
func (PassiveAnyPort) FetchNext() (exposed, listened int, ok bool) { return 0, 0, true }

// NumberAttempts implements ftpserverlib's PasvPortGetter.
func (PassiveAnyPort) NumberAttempts() int { return 1 }

// stopListening makes the library's own listener refuse connections
// while it stays open: the library still sets its accept deadline on it
// (which the data plane then applies to its own listener).
func stopListening(l *net.TCPListener) {
	if rc, err := l.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	}
}

// rebind listens on the bind address, on a free port of the range, tried
// from a random start.
func (p *Plane) rebind() (*net.TCPListener, error) {
	if p.bindLo == 0 {
		return net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.bind, 0)))
	}
	n := p.bindHi - p.bindLo + 1
	start := rand.IntN(n)
	var last error
	for i := range n {
		port := p.bindLo + (start+i)%n
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.bind, uint16(port))))
		if err == nil {
			return l, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free passive port in %d-%d on %s: %w", p.bindLo, p.bindHi, p.bind, last)
}

// Wrap takes over a passive listener the FTP library opened. It is
// unowned until a session's Channel claims it from the library's reply.
func (p *Plane) Wrap(l net.Listener) (net.Listener, error) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("data listener is %T, not TCP", l)
	}
	var lib *net.TCPListener
	if p.bind.IsValid() {
		own, err := p.rebind()
		if err != nil {
			_ = tl.Close()
			return nil, err
		}
		lib, tl = tl, own
		stopListening(lib)
	}
	port := tl.Addr().(*net.TCPAddr).Port
	wl := &Listener{raw: tl, lib: lib, plane: p, port: port}
	if d := p.lim().ListenerTimeout; d > 0 {
		wl.mu.Lock()
		wl.timer = time.AfterFunc(d, wl.expire)
		wl.mu.Unlock()
	}
	p.mu.Lock()
	old := p.ports[port]
	p.ports[port] = wl
	p.mu.Unlock()
	if old != nil {
		// The port was free again, so this one is stale. Closed outside
		// the lock: close takes it to forget (and finds it replaced).
		old.close()
	}
	return wl, nil
}

// claim binds the listener registered under port to ch, unless ch's
// client already holds MaxPerClient other ports (held > 0 is then how
// many, and the listener is closed: its port is free for others).
func (p *Plane) claim(port int, ch *Channel, target netip.AddrPort, tlsClient bool) (l *Listener, held int) {
	block := ch.sess.ClientBlock()
	limit := p.lim().MaxPerClient
	p.mu.Lock()
	l = p.ports[port]
	if l == nil {
		p.mu.Unlock()
		return nil, 0
	}
	if limit > 0 {
		for _, o := range p.ports {
			if o != l && o.holds(block, ch) {
				held++
			}
		}
	}
	l.mu.Lock()
	if l.ch != nil || l.closed {
		l.mu.Unlock()
		p.mu.Unlock()
		return nil, 0 // never hand one port to two sessions
	}
	if limit > 0 && held >= limit {
		l.mu.Unlock()
		p.mu.Unlock()
		l.close()
		return nil, held
	}
	l.ch, l.target, l.tlsClient, l.block = ch, target, tlsClient, block
	l.mu.Unlock()
	p.mu.Unlock()
	return l, 0
}

func (p *Plane) forget(l *Listener) {
	p.mu.Lock()
	if p.ports[l.port] == l {
		delete(p.ports, l.port)
	}
	p.mu.Unlock()
}

// Open returns the number of data listeners currently held.
func (p *Plane) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ports)
}

// dial connects to target from the control connection's local address.
func (p *Plane) dial(ctx context.Context, local netip.Addr, target netip.AddrPort) (*net.TCPConn, error) {
	local = local.Unmap()
	if !local.IsValid() || local.Is4() != target.Addr().Is4() {
		return nil, fmt.Errorf("cannot reach %s from the control connection's address %s (another address family)", target.Addr(), local)
	}
	la := &net.TCPAddr{IP: local.AsSlice()}
	d := net.Dialer{LocalAddr: la, Timeout: p.opts.DialTimeout}
	if p.port20.Load() {
		la.Port = 20
		d.Control = reuseAddr
	}
	c, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		return nil, fmt.Errorf("cannot connect to %s: %w", target, unwrapDial(err))
	}
	return c.(*net.TCPConn), nil
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// errAborted is what a waiting Accept returns after ABOR/QUIT.
var errAborted = errors.New(abortedText)

const abortedText = "data connection aborted"

// errNoData is what Accept returns on a listener no longer in use.
var errNoData = errors.New("no data connection prepared: send PASV/EPSV or PORT/EPRT first")

// expiredText is the reply to a transfer on a data port that expired
// (Limits.ListenerTimeout).
func expiredText(d time.Duration) string {
	return fmt.Sprintf("data port expired: no transfer used it within %s; send PASV/EPSV or PORT/EPRT again", d)
}

// refusal is the error for a refused data connection; the library puts it
// in its 425 reply.
func refusal(command string, v acl.Verdict) error {
	if command == "" {
		command = "data connection"
	}
	return fmt.Errorf("%s refused: %s", command, v.Message)
}

// DirectionOf maps the command waiting for a data connection to a
// direction; anything else (a listing, or nothing known) is a listing,
// which admits only the session's own address.
func DirectionOf(command string) acl.Direction {
	switch strings.ToUpper(command) {
	case "RETR":
		return acl.DirectionSend
	case "STOR", "APPE", "STOU":
		return acl.DirectionReceive
	default:
		return acl.DirectionListing
	}
}

// PeerOf returns a connection's remote address, unmapped.
func PeerOf(c net.Conn) netip.AddrPort {
	return addrPortOf(c.RemoteAddr())
}

func addrPortOf(a net.Addr) netip.AddrPort {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp == nil {
		return netip.AddrPort{}
	}
	ap := tcp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// resetClose closes with a TCP reset, so a refused sender fails at once
// instead of writing into a connection nobody reads.
func resetClose(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// ProbePort20 binds, and releases at once, port 20 on addr the way active
// connections do with active_port20, to tell early whether they can.
func ProbePort20(addr netip.Addr) error {
	lc := net.ListenConfig{Control: reuseAddr}
	ln, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(addr.Unmap(), 20).String())
	if err != nil {
		return fmt.Errorf("cannot bind port 20: %w", unwrapDial(err))
	}
	return ln.Close()
}
