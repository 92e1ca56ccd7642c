// Package server runs ftpd: it is the only package that knows both the
// configuration (conf) and the FTP library (ftpserverlib). It turns a
// conf.Config into library settings, sessions, storage drivers and policy,
// and owns everything that lives as long as the process: listeners, the
// session registry, the data plane, reloads and shutdown.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/acl"
	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/server/controlconn"
	"github.com/ftpd/ftpd/server/dataplane"
	"github.com/ftpd/ftpd/server/logsafe"
	"github.com/ftpd/ftpd/server/proxyhdr"
	"github.com/ftpd/ftpd/storage"
	"github.com/ftpd/ftpd/storage/s3store"
)

// Options are a server's dependencies.
type Options struct {
	Logger *slog.Logger     // required
	Now    func() time.Time // nil = time.Now
	// DropPrivileges, if set, runs once the listeners are bound and before
	// anything else (roots are created after it, as the account it drops
	// to). An error stops the start.
	DropPrivileges func() error
	// CompareHash is the bcrypt check of logins; nil =
	// bcrypt.CompareHashAndPassword. Tests inject one that counts.
	CompareHash CompareFunc
}

// Server is one ftpd instance.
type Server struct {
	log  *slog.Logger
	now  func() time.Time
	drop func() error // nil: keep privileges

	state atomic.Pointer[state]
	ftp   *ftpserver.FtpServer
	ln    *controlconn.Listener
	done  chan struct{} // closed when Serve returns

	passwords  *verifiedPasswords
	tokens     tokenKeys // one-time FXP links (tokens.go)
	conns      *acl.ConnTable
	bans       *acl.BanList
	bandwidth  *bandwidth
	metrics    *metrics
	metricsSrv *metricsServer
	plane      *dataplane.Plane
	storage    *storage.Registry // the backends users' files live in
	ticketKey  [32]byte          // TLS session tickets, for the life of the process
	stopBans   context.CancelFunc
	// bufferListings (tests only) lets the library render listings from
	// the whole directory, as it does without ftpd's streaming.
	bufferListings bool

	mu        sync.Mutex
	pending   map[string]*controlconn.Conn // accepted, not yet seen by ClientConnected
	sessions  map[uint32]*session
	userSlots map[string]int                 // logged-in sessions per user
	xfers     map[*driver.Transfer]xferEntry // authorized, running
	xferID    uint64
	closing   bool
}

// Check does to cfg what a start does before it serves, through the same
// functions, without listening and without creating anything: certificates
// and keys load, the storage backends build, privileges drop (when
// dropPrivileges is set), every os root opens (or, when missing, could be
// created), and every store checks (S3: bucket, credentials, probe).
// ftpd -check-config uses it, so a config it passes does not fail at start
// for these reasons.
func Check(cfg *conf.Config, dropPrivileges func() error) error {
	if _, err := compile(cfg, nil, bcrypt.CompareHashAndPassword); err != nil {
		return err
	}
	reg, err := storage.New(cfg, storage.Kinds(), storage.Options{})
	if err != nil {
		return err
	}
	if err := asServing(cfg, reg, dropPrivileges, false); err != nil {
		return err
	}
	return reg.Check(context.Background())
}

// New compiles cfg (certificates and keys load) and returns a server that
// is not listening yet; Start creates the roots.
func New(cfg *conf.Config, opts Options) (*Server, error) {
	if opts.Logger == nil {
		return nil, errors.New("server: nil logger")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CompareHash == nil {
		opts.CompareHash = bcrypt.CompareHashAndPassword
	}
	st, err := compile(cfg, nil, opts.CompareHash)
	if err != nil {
		return nil, err
	}
	s := &Server{
		// What clients send (names, command lines) reaches the log
		// escaped, whatever the format (package logsafe).
		log:       slog.New(logsafe.Wrap(opts.Logger.Handler())),
		now:       opts.Now,
		drop:      opts.DropPrivileges,
		done:      make(chan struct{}),
		pending:   map[string]*controlconn.Conn{},
		sessions:  map[uint32]*session{},
		userSlots: map[string]int{},
		xfers:     map[*driver.Transfer]xferEntry{},

		passwords: newVerifiedPasswords(opts.CompareHash),
		conns:     acl.NewConnTable(),
		bans:      acl.NewBanList(),
		bandwidth: newBandwidth(),
		metrics:   newMetrics(),
		plane:     dataplane.New(dataplane.Options{Now: opts.Now}),
	}
	if s.storage, err = storage.New(cfg, storage.Kinds(), storage.Options{Log: s.log, Now: s.now}); err != nil {
		return nil, err
	}
	if st := s.s3Store(); st != nil {
		s.metrics.watchS3(st)
	}
	_, _ = rand.Read(s.ticketKey[:]) // crypto/rand.Read never fails on Linux
	s.bandwidth.update(cfg)
	s.bans.SetIPv6Prefix(cfg.Limits.BanIPv6Prefix)
	s.conns.SetIPv6Prefix(cfg.Limits.BanIPv6Prefix)
	s.pinTicketKeys(st)
	s.state.Store(st)
	s.plane.SetActivePort20(cfg.Server.ActivePort20)
	s.plane.SetLimits(planeLimits(cfg))
	if a := cfg.Server.Listen.Addr(); !a.IsUnspecified() {
		s.plane.SetPassiveBind(a, int(cfg.Server.PassivePorts.Start), int(cfg.Server.PassivePorts.End))
	}
	if cfg.Server.ProxyProtocol {
		s.plane.SetProxy(proxyOptions(cfg), cfg.Server.Listen.Addr())
	}
	s.warnRisky(cfg)
	return s, nil
}

// planeLimits are cfg's bounds on what a client holds of the data plane.
func planeLimits(cfg *conf.Config) dataplane.Limits {
	return dataplane.Limits{
		DataTimeout:     cfg.Server.DataTimeout.Duration,
		ListenerTimeout: cfg.Server.PassiveListenerTimeout.Duration,
		MaxPerClient:    cfg.Limits.MaxPassivePerIP,
	}
}

// proxyOptions are the PROXY protocol settings of control and passive
// data connections.
func proxyOptions(cfg *conf.Config) proxyhdr.Options {
	o := proxyhdr.Options{Timeout: proxyhdr.DefaultTimeout}
	for _, p := range cfg.Server.TrustedProxies {
		o.Trusted = append(o.Trusted, p.Prefix)
	}
	return o
}

// warnRisky logs settings that are allowed but weaken the server.
func (s *Server) warnRisky(cfg *conf.Config) {
	for _, name := range cfg.PlainPasswordUsers() {
		s.log.Warn("user has a plain-text password in the config; use password_hash (ftpd hash-password)", "user", name)
	}
	if cfg.FXP.Enabled && len(cfg.FXP.Peers) == 0 {
		s.log.Warn("FXP is enabled with peers = []: any host may be the other server of an allowed transfer, and may race to a passive port during one; list your peers")
	}
	if cfg.FXP.Enabled && cfg.Server.TLS.Mode != conf.TLSOff && cfg.FXP.PeerCA == "" && len(cfg.FXP.PeerFingerprints) == 0 {
		s.log.Warn("protected FXP (SSCN/CPSV) accepts any peer certificate when ftpd is the TLS client; set [fxp] peer_ca or peer_fingerprints")
	}
}

// pinTicketKeys gives every TLS configuration of the process the same
// session ticket key, so a data connection can resume its control session
// across a reload (a new config would otherwise make new keys).
func (s *Server) pinTicketKeys(st *state) {
	if st.tls != nil {
		st.tls.SetSessionTicketKeys([][32]byte{s.ticketKey})
	}
}

// Start listens and serves in the background. Use Addr to learn the address
// when the config asked for port 0.
func (s *Server) Start() error {
	st := s.state.Load()
	// Before the first connection: nothing a sweep removes can be an
	// upload of this process.
	if err := s.storage.Start(context.Background()); err != nil {
		return err
	}
	raw, err := net.Listen("tcp", st.cfg.Server.Listen.String())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", st.cfg.Server.Listen, err)
	}
	var ln net.Listener = raw
	if st.cfg.Server.ProxyProtocol {
		ln = proxyhdr.NewListener(raw.(*net.TCPListener), proxyOptions(st.cfg), s.log.With("component", "proxy"))
	}
	s.ln = &controlconn.Listener{
		Listener:     ln,
		TLSConfig:    s.tlsConfig,
		Implicit:     st.cfg.Server.TLS.Mode == conf.TLSImplicit,
		LoginTimeout: st.cfg.Server.LoginTimeout.Duration,
		Admit:        s.admit,
		Release:      func(c net.Conn) { s.released(c.RemoteAddr()) },
		OnAccept:     s.accepted,
	}
	if addr := st.cfg.Metrics.Listen; addr.IsValid() {
		ms, err := startMetrics(addr.String(), s.metrics, s.log)
		if err != nil {
			raw.Close()
			return err
		}
		s.metricsSrv = ms
	}
	err = s.dropAndPrepare(st.cfg)
	if err == nil {
		if err = s.tokens.load(st.cfg.Tokens, s.s3Store(), s.now, s.log); err != nil {
			err = fmt.Errorf("%s: tokens.key_file: %w", st.cfg.Source, err)
		}
	}
	if err != nil {
		raw.Close()
		if s.metricsSrv != nil {
			_ = s.metricsSrv.close(context.Background())
		}
		return err
	}
	banCtx, stopBans := context.WithCancel(context.Background())
	s.stopBans = stopBans
	go s.sweepBans(banCtx, time.Second)
	s.ftp = ftpserver.NewFtpServer(&mainDriver{srv: s})
	s.ftp.Logger = s.log.With("component", "ftpserverlib")
	if err := s.ftp.Listen(); err != nil {
		raw.Close()
		return fmt.Errorf("start FTP server: %w", err)
	}
	s.log.Info("listening", "addr", raw.Addr().String(), "config", st.cfg.Source,
		"fxp", st.cfg.FXP.Enabled, "tls", st.cfg.Server.TLS.Mode.String())
	go func() {
		defer close(s.done)
		if err := s.ftp.Serve(); err != nil {
			s.log.Error("serve", "err", err)
		}
	}()
	return nil
}

// Addr is the control listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// MetricsAddr is the metrics listener's address, or nil when metrics are off.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsSrv == nil {
		return nil
	}
	return s.metricsSrv.ln.Addr()
}

// Reload swaps in a new configuration for new logins and new transfers.
// Sessions stay up. Settings the FTP library reads only at start (listen
// address, passive ports, public host, TLS mode, idle timeout, banner) keep
// their old values until a restart; Reload says so in the log.
func (s *Server) Reload(cfg *conf.Config) error {
	st, err := compile(cfg, s.state.Load(), s.passwords.compare)
	if err != nil {
		return err
	}
	// A backend the new config is the first to use (os, memory) is
	// built now; S3 only at start.
	if err := s.storage.Reload(cfg); err != nil {
		return err
	}
	for _, pair := range newS3Overlaps(s.state.Load().cfg, cfg) {
		s.log.Warn("S3 users' prefixes overlap: they see each other's files", "user", pair[0], "other", pair[1])
	}
	if err := prepareRoots(cfg, s.storage); err != nil {
		return err
	}
	if cfg.Tokens.KeyFile != "" {
		if err := tokenFilesOutsideRoots(cfg, s.storage); err != nil {
			return err
		}
	}
	old := s.state.Load()
	for _, key := range restartOnlyChanges(old.cfg, cfg) {
		s.log.Warn("config change needs a restart to take effect; keeping the running value", "key", key)
	}
	// Keep the values that cannot change live, so that what is reported
	// is what is in force.
	cfg.Server = keepRestartOnly(old.cfg.Server, cfg.Server)
	cfg.Tokens.SpentStore = old.cfg.Tokens.SpentStore // the store is chosen at start
	cfg.S3 = old.cfg.S3                               // so is the S3 store
	if old.cfg.Metrics != cfg.Metrics {
		s.log.Warn("config change needs a restart to take effect; keeping the running value", "key", "metrics.listen")
		cfg.Metrics = old.cfg.Metrics
	}
	s.bandwidth.update(cfg)
	s.bans.SetIPv6Prefix(cfg.Limits.BanIPv6Prefix)
	s.conns.SetIPv6Prefix(cfg.Limits.BanIPv6Prefix)
	s.pinTicketKeys(st)
	s.state.Store(st)
	s.plane.SetLimits(planeLimits(cfg))
	s.revokeSessions(st)
	if err := s.tokens.load(cfg.Tokens, s.s3Store(), s.now, s.log); err != nil {
		s.log.Error("token key not reloaded; keeping the key in use", "key_file", cfg.Tokens.KeyFile, "err", err.Error())
	}
	s.tokens.forgetUsers(st.accounts)
	s.warnRisky(cfg)
	s.log.Info("configuration reloaded", "config", cfg.Source, "users", len(cfg.Users), "fxp", cfg.FXP.Enabled)
	return nil
}

// Shutdown stops accepting connections, lets running transfers finish until
// ctx ends, then closes every session. It returns ctx's error if transfers
// were cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if err := s.ftp.Stop(); err != nil && !errors.Is(err, ftpserver.ErrNotListening) {
		s.log.Warn("stop listener", "err", err)
	}
	<-s.done

	var cut error
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.busySessions() > 0 {
		select {
		case <-ctx.Done():
			cut = ctx.Err()
			s.log.Warn("shutdown grace period over; cutting running transfers", "sessions", s.busySessions())
		case <-tick.C:
			continue
		}
		break
	}
	for _, sess := range s.allSessions() {
		sess.close()
	}
	s.mu.Lock()
	for _, c := range s.pending {
		c.Close()
	}
	s.mu.Unlock()
	s.stopBans()
	s.tokens.close()
	if err := s.storage.Close(); err != nil {
		s.log.Warn("close storage", "err", err)
	}
	if s.metricsSrv != nil {
		mctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.metricsSrv.close(mctx)
		cancel()
	}
	s.log.Info("stopped")
	return cut
}

func (s *Server) tlsConfig() *tls.Config { return s.state.Load().tls }

func (s *Server) busySessions() int {
	n := 0
	for _, sess := range s.allSessions() {
		if sess.busy.Load() {
			n++
		}
	}
	return n
}

func (s *Server) allSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

func (s *Server) accepted(c *controlconn.Conn) {
	s.mu.Lock()
	s.pending[c.RemoteAddr().String()] = c
	s.mu.Unlock()
}

// claimConn hands the control connection of a new library client to its
// session.
func (s *Server) claimConn(remote string) *controlconn.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.pending[remote]
	delete(s.pending, remote)
	return c
}

func (s *Server) addSession(sess *session) {
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
}

// s3Store is the S3 backend's store, nil when the start config had no S3
// user and no S3 spent store: the spent store of tokens and the metrics
// use it.
func (s *Server) s3Store() *s3store.Store {
	if b, ok := s.storage.Get(conf.BackendS3).(*s3store.Backend); ok {
		return b.Store()
	}
	return nil
}
