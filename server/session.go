package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/server/controlconn"
	"github.com/ftpd/ftpd/server/dataplane"
)

// session is one control connection: it screens commands, owns the user's
// storage after login, and judges each data connection.
type session struct {
	srv      *Server
	id       uint32
	cc       ftpserver.ClientContext
	conn     *controlconn.Conn
	clientIP netip.Addr
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc

	user        atomic.Pointer[string] // set once logged in
	answerToken string                 // per-session token: "SITE <token>" carries a queued answer
	busy        atomic.Bool            // between a 150 reply and the final reply

	data *dataplane.Channel // the session's side of the data plane

	mu           sync.Mutex
	answers      []answer // replies queued by Screen for Site
	closeStorage func() error

	up uploadState // ALLO and final-reply corrections (upload.go)
}

type answer struct {
	code int
	msg  string
}

func newSession(s *Server, cc ftpserver.ClientContext, conn *controlconn.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{
		srv:         s,
		id:          cc.ID(),
		cc:          cc,
		conn:        conn,
		clientIP:    addrOf(cc.RemoteAddr()),
		ctx:         ctx,
		cancel:      cancel,
		answerToken: randomToken(),
	}
	sess.log = s.log.With("session", sess.id, "client_ip", sess.clientIP.String())
	sess.data = s.plane.NewChannel(dataOwner{sess})
	cc.SetExtra(sess)
	return sess
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "FTPD-" + hex.EncodeToString(b[:])
}

func (sess *session) userName() string {
	if p := sess.user.Load(); p != nil {
		return *p
	}
	return ""
}

// account returns the logged-in user's entry in the current config, or nil
// if not logged in or the user was removed by a reload.
func (sess *session) account(st *state) *account {
	name := sess.userName()
	if name == "" {
		return nil
	}
	return st.accounts[name]
}

func (sess *session) preAuth(user string) error {
	st := sess.srv.state.Load()
	if st.cfg.Server.TLS.Required && !sess.conn.TLS() {
		sess.refuseLogin(user, reasonTLSRequired)
		return errors.New("TLS is required on this server: send AUTH TLS first")
	}
	if a := st.accounts[user]; a != nil && !a.allowsIP(sess.clientIP) {
		sess.refuseLogin(user, reasonAllowedIPs)
		return fmt.Errorf("%s may not log in from %s", user, sess.clientIP)
	}
	return nil
}

// refuseLogin logs and counts a login refused by policy (not a bad password).
func (sess *session) refuseLogin(user, reason string) {
	sess.log.Warn("login refused", "user", user, "reason", reason)
	sess.srv.metrics.refused(reason)
	sess.srv.metrics.logins.WithLabelValues("refused").Inc()
}

// failLogin logs and counts a failed login, which may ban the IP.
func (sess *session) failLogin(user, why string) {
	sess.log.Warn("login failed", "user", user, "reason", why)
	sess.srv.metrics.logins.WithLabelValues("failed").Inc()
	sess.srv.loginFailed(sess)
}

func (sess *session) login(user, pass string) (ftpserver.ClientDriver, error) {
	st := sess.srv.state.Load()
	a := st.accounts[user]
	if a == nil {
		burnTime(pass)
		sess.failLogin(user, "unknown_user")
		return nil, errBadLogin
	}
	if !a.allowsIP(sess.clientIP) {
		sess.refuseLogin(user, reasonAllowedIPs)
		return nil, errBadLogin
	}
	if !sess.srv.passwords.check(a.user.Name, a.secret, pass) {
		sess.failLogin(user, "bad_password")
		return nil, errBadLogin
	}
	name := a.user.Name
	if !sess.srv.takeSessionSlot(name, a.user.MaxSessions) {
		sess.refuseLogin(user, reasonMaxSessions)
		return nil, fmt.Errorf("too many sessions for %s (max_sessions = %d)", user, a.user.MaxSessions)
	}
	storage, closeStorage, err := sess.srv.openStorage(&a.user)
	if err != nil {
		sess.srv.releaseSessionSlot(name)
		sess.log.Error("login failed: storage", "user", user, "err", err)
		return nil, errors.New("storage unavailable")
	}
	fs, err := driver.New(storage, driver.Options{
		ReadOnly: a.readOnly,
		Hooks:    sess,
		Now:      sess.srv.now,
		Context:  sess.ctx,

		FsyncUploads:     st.cfg.Server.FsyncUploads,
		DataSocketBuffer: int(st.cfg.Server.DataSocketBuffer),
	})
	if err != nil {
		closeStorage()
		sess.srv.releaseSessionSlot(name)
		return nil, err
	}
	sess.mu.Lock()
	sess.closeStorage = closeStorage
	sess.mu.Unlock()
	sess.user.Store(&name)
	sess.log = sess.log.With("user", name)
	sess.log.Info("login ok", "read_only", a.readOnly, "tls", sess.conn.TLS())
	sess.srv.metrics.logins.WithLabelValues("ok").Inc()
	sess.srv.metrics.sessions.Inc()
	return &clientDriver{FS: fs, sess: sess}, nil
}

// openStorage returns the user's storage and how to release it. An os
// root is opened once per directory and shared by every session using it
// (os.Root is safe for concurrent use), so a session costs no descriptor
// beyond its socket.
func (s *Server) openStorage(u *conf.User) (afero.Fs, func() error, error) {
	if u.Backend == conf.BackendMemory {
		return s.memoryFs(u), func() error { return nil }, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr, ok := s.roots[u.Root]
	if !ok {
		root, err := driver.OpenRootFs(u.Root)
		if err != nil {
			return nil, nil, err
		}
		sr = &sharedRoot{fs: root}
		s.roots[u.Root] = sr
	}
	sr.refs++
	var once sync.Once
	release := func() error {
		var err error
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if sr.refs--; sr.refs == 0 {
				delete(s.roots, u.Root)
				err = sr.fs.Close()
			}
		})
		return err
	}
	return sr.fs, release, nil
}

// sharedRoot is an open root directory and the number of sessions using it.
type sharedRoot struct {
	fs   *driver.RootFs
	refs int
}

func (sess *session) end() {
	sess.cancel()
	sess.data.Close()
	if name := sess.userName(); name != "" {
		sess.srv.metrics.sessions.Dec()
		sess.srv.releaseSessionSlot(name)
	}
	sess.mu.Lock()
	closeStorage := sess.closeStorage
	sess.closeStorage = nil
	sess.mu.Unlock()
	if closeStorage != nil {
		if err := closeStorage(); err != nil {
			sess.log.Warn("close storage", "err", err)
		}
	}
	sess.log.Debug("disconnected")
}

// close drops the control connection. It closes the socket under the
// library rather than calling the library's Close, which races with the
// library's own disconnect (ftpserverlib v0.32.3); the library then sees
// the read fail and ends the session as for any hang-up.
func (sess *session) close() { _ = sess.conn.Close() }

// --- control screen (controlconn.Screener) ---

// Screen judges each command before the FTP library sees it. Commands that
// ftpd answers itself (refusals, OPTS MLST, verbs the library does not
// know) are rewritten into "SITE <token>", which the library answers in
// order, through Site, with the queued answer.
func (sess *session) Screen(line string) string {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if sess.userName() == "" {
		return line // the library answers 530 to anything that needs a login
	}
	if out, ok := sess.screenData(verb, arg); ok {
		return out
	}
	if out, ok := sess.screenUpload(verb, arg); ok {
		return out
	}
	switch verb {
	case "PROT":
		if strings.EqualFold(strings.TrimSpace(arg), "P") && !sess.conn.TLS() {
			return sess.answer(503, "PROT P needs a TLS control connection: send AUTH TLS first")
		}
	case "OPTS":
		if opt, facts, _ := strings.Cut(strings.TrimSpace(arg), " "); strings.EqualFold(opt, "MLST") {
			return sess.answer(200, "MLST OPTS "+mlstFacts(facts))
		}
	case "SSCN", "CPSV":
		return sess.answer(502, verb+" not supported: ftpd cannot protect FXP data (use PROT C for FXP)")
	}
	if !libraryVerbs[verb] {
		// The library answers unknown verbs without waiting for a running
		// transfer, racing the transfer's own reply on one unlocked
		// writer; answered this way the reply waits its turn.
		return sess.answer(500, fmt.Sprintf("Unknown command %q", verb))
	}
	return line
}

// answer queues a reply of ftpd's own and returns the line that makes the
// library give it, in order: SITE is a known command, so the library first
// waits for a running transfer to finish, as for any command.
func (sess *session) answer(code int, msg string) string {
	sess.mu.Lock()
	sess.answers = append(sess.answers, answer{code, msg})
	sess.mu.Unlock()
	return "SITE " + sess.answerToken
}

// Reply watches the library's replies: the data plane sees them first
// (passive port announcements bind the port to this session, PORT/EPRT
// replies are mended); 150 ... final reply marks a running transfer. It
// also mends the FEAT line of hash algorithms, which the library sends
// without the "HASH " of the HASH draft (" SHA-256*;MD5;..."), so clients
// that look for HASH in FEAT find it.
func (sess *session) Reply(line string) string {
	if isHashFeature(line) {
		return " HASH " + line[1:]
	}
	line = sess.data.Reply(line)
	line = sess.rewriteReply(line)
	if len(line) < 4 || line[3] == '-' {
		return line
	}
	switch code := line[:3]; {
	case code == "150" || code == "125":
		sess.busy.Store(true)
	case code[0] >= '2':
		sess.busy.Store(false)
	}
	return line
}

// site answers SITE commands that ftpd handles itself; nil lets the library
// handle the rest.
func (sess *session) site(param string) *ftpserver.AnswerCommand {
	if param == sess.answerToken {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		if len(sess.answers) == 0 {
			return &ftpserver.AnswerCommand{Code: 503, Message: "Bad sequence of commands"}
		}
		r := sess.answers[0]
		sess.answers = sess.answers[1:]
		return &ftpserver.AnswerCommand{Code: r.code, Message: r.msg}
	}
	if strings.EqualFold(strings.TrimSpace(param), "XFERS") {
		return &ftpserver.AnswerCommand{Code: 200, Message: sess.srv.xfersReport(sess.userName())}
	}
	return nil
}

// --- data connection verdict (driver.Hooks) ---

// Authorize admits a file transfer's data connection before any byte
// moves. The data plane has judged the connection when it made it; this
// only checks that the peer the driver sees is the one the plane handed
// over (fail closed), and sets up limits and progress.
func (sess *session) Authorize(t *driver.Transfer) error {
	st := sess.srv.state.Load()
	a := sess.account(st)
	if a == nil {
		return errors.New("transfer refused: account no longer exists")
	}
	v, ok := sess.data.Approved(t.Peer)
	if !ok {
		sess.log.Error("data connection not made by the data plane", "command", t.Command, "peer", t.Peer.String())
		return errors.New("transfer refused: data connection was not checked")
	}
	t.Foreign = v.Foreign
	t.Limiters = sess.srv.bandwidth.limiters(a.user.Name, t.Direction)
	sess.srv.addXfer(t, a.user.Name)
	if t.Foreign {
		sess.log.Info("foreign data connection", "command", t.Command, "path", t.Path,
			"direction", t.Direction.String(), "peer", t.Peer.Addr().String(), "port", t.Peer.Port())
	}
	return nil
}

// Done logs the end of a transfer.
func (sess *session) Done(t *driver.Transfer, err error) {
	sess.noteTransferEnd(t, err)
	if !sess.srv.removeXfer(t) {
		return // refused (already logged and counted) or no data connection
	}
	elapsed := sess.srv.now().Sub(t.Started)
	m := sess.srv.metrics
	m.bytes.WithLabelValues(t.Direction.String(), fxpLabel(t.Foreign)).Add(float64(t.Bytes()))
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.transfers.WithLabelValues(t.Command, result, fxpLabel(t.Foreign)).Inc()
	if err == nil {
		m.duration.WithLabelValues(t.Command, fxpLabel(t.Foreign)).Observe(elapsed.Seconds())
	}
	attrs := []any{
		"command", t.Command, "path", t.Path, "bytes", t.Bytes(),
		"duration", elapsed.Round(time.Millisecond).String(),
		"peer", t.Peer.String(), "foreign", t.Foreign,
	}
	if err != nil {
		sess.log.Warn("transfer failed", append(attrs, "err", err.Error())...)
		return
	}
	sess.log.Info("transfer", attrs...)
}

// clientDriver is what the FTP library gets after a login: the storage
// driver plus the library's extensions with library types.
type clientDriver struct {
	*driver.FS
	sess *session
}

var (
	_ ftpserver.ClientDriverExtentionFileTransfer = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionSite         = (*clientDriver)(nil)
	_ ftpserver.ClientDriverExtensionHasher       = (*clientDriver)(nil)
)

// hashNames maps the library's algorithm values to driver names.
var hashNames = map[ftpserver.HASHAlgo]string{
	ftpserver.HASHAlgoCRC32:  "CRC32",
	ftpserver.HASHAlgoMD5:    "MD5",
	ftpserver.HASHAlgoSHA1:   "SHA-1",
	ftpserver.HASHAlgoSHA256: "SHA-256",
	ftpserver.HASHAlgoSHA512: "SHA-512",
}

// ComputeHash answers HASH, XSHA256, XMD5, XCRC and friends.
func (c *clientDriver) ComputeHash(name string, algo ftpserver.HASHAlgo, start, end int64) (string, error) {
	return c.FS.Hash(name, hashNames[algo], start, end)
}

// GetHandle opens a transfer handle (see driver.FS.OpenTransfer).
func (c *clientDriver) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	h, err := c.FS.OpenTransfer(name, flags, offset)
	if err != nil {
		return nil, err
	}
	h.Transfer().Expect = c.sess.takeAllo()
	return h, nil
}

// Site handles ftpd's own SITE commands.
func (c *clientDriver) Site(param string) *ftpserver.AnswerCommand { return c.sess.site(param) }
