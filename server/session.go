package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/server/controlconn"
	"github.com/ftpd/ftpd/server/dataplane"
	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/token"
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
	featPending atomic.Bool            // FEAT sent, its last line not seen yet
	pbsz        atomic.Bool            // PBSZ seen under TLS: PROT P may follow
	epsvAll     atomic.Bool            // EPSV ALL: only EPSV sets up data connections
	multiCode   string                 // code of the multi-line reply being written ("" = none); Reply only
	revoked     atomic.Bool            // closed because the config no longer allows it
	rename      renameState            // RNFR/RNTO pairing (guard.go)

	data *dataplane.Channel // the session's side of the data plane

	mu           sync.Mutex
	answers      []answer     // replies queued by Screen for Site
	preAnswers   []answer     // replies queued before login, given for NOOP
	closeStorage func() error // releases the user's storage once ended and no transfer holds it
	storageHolds int          // running transfers (their handles clean up through the storage)
	running      *runningTransfer
	ended        bool // end() has run

	up   uploadState // ALLO and final-reply corrections (upload.go)
	list listState   // streamed listings (listings.go)

	token atomic.Pointer[token.Claims] // set by a token login (tokens.go)
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
	sess.list.since = s.now()
	sess.log = s.log.With("session", sess.id, "client_ip", sess.clientIP.String())
	sess.data = s.plane.NewChannel(dataOwner{sess})
	// Implicit FTPS protects data by default (RFC 4217 12.1); PROT C
	// turns it off.
	sess.data.SetPrivate(conn.TLS() && s.state.Load().cfg.Server.TLS.Mode == conf.TLSImplicit)
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

// preAuth runs at USER. Only what is the same for every user name is
// decided here (TLS required); everything about the user waits for PASS,
// so that USER says nothing about which names exist.
func (sess *session) preAuth(user string) error {
	st := sess.srv.state.Load()
	if st.cfg.Server.TLS.Required && !sess.conn.TLS() {
		sess.refuseLogin(user, reasonTLSRequired)
		return errors.New("TLS is required on this server: send AUTH TLS first")
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

// login answers PASS. Every refusal gives the same answer (errBadLogin)
// and costs the same (see checkLogin); the log says why.
func (sess *session) login(user, pass string) (ftpserver.ClientDriver, error) {
	st := sess.srv.state.Load()
	a, claims, reason := sess.tokenLogin(st, user, pass)
	if claims == nil && reason == "" {
		a, reason = sess.checkLogin(st, user, pass)
	}
	switch reason {
	case "":
	case reasonUnknownUser, reasonBadPassword:
		sess.failLogin(user, reason)
		return nil, errBadLogin
	case reasonAllowedIPs, reasonMaxSessions:
		// Counted towards a ban as a wrong password is, whatever the
		// password: a ban is visible (421 at the next connection), and
		// counting only wrong passwords would tell the right one.
		// Anonymous has no password to tell: a full public server does
		// not ban its visitors.
		sess.refuseLogin(user, reason)
		if a == nil || !a.anonymous {
			sess.srv.loginFailed(sess)
		}
		return nil, errBadLogin
	default:
		sess.refuseLogin(user, reason)
		return nil, errBadLogin
	}
	name := a.user.Name
	// The client block is what an S3 user's uploads count against
	// (upload_memory_per_client).
	block := dataOwner{sess}.ClientBlock()
	storage, closeStorage, err := sess.srv.openStorage(s3store.WithClient(sess.ctx, block.String()), &a.user)
	if err != nil {
		sess.srv.releaseSessionSlot(name)
		sess.log.Error("login failed: storage", "user", user, "err", err)
		return nil, errors.New("storage unavailable")
	}
	storage = scopeStorage(storage, claims)
	sess.token.Store(claims)
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
	// The user's logger is set once, before the name is published: the
	// guard refuses a second login in the same session.
	sess.log = sess.log.With("user", name)
	sess.srv.metrics.sessions.Inc() // end() counts it down
	sess.user.Store(&name)
	if !sess.conn.LoggedIn() {
		// login_timeout closed the connection meanwhile; end() releases.
		return nil, errors.New("login timeout")
	}
	sess.log.Info("login ok", "read_only", a.readOnly, "tls", sess.conn.TLS())
	sess.srv.metrics.logins.WithLabelValues("ok").Inc()
	return &clientDriver{FS: fs, sess: sess}, nil
}

// openStorage returns the user's storage, from the backend the user's
// backend names (package storage), and how to release it.
func (s *Server) openStorage(ctx context.Context, u *conf.User) (afero.Fs, func() error, error) {
	return s.storage.Open(ctx, u)
}

// runningTransfer is a session's transfer between GetHandle and the
// handle's Close; done is closed then.
type runningTransfer struct {
	h    *driver.Handle
	done chan struct{}
}

// completeUploadGrace bounds how long a session's end waits for an upload
// whose sender has already ended its data connection cleanly to take the
// bytes left in the socket (a few MiB at most: local work, unless a
// bandwidth limit slows it).
const completeUploadGrace = 30 * time.Second

// finishCompleteUpload lets a running upload whose data connection the
// client ended cleanly (all bytes sent, FIN) finish before the session's
// end cuts it: a client that hangs up without waiting for the 226 still
// gets a complete file stored. Any other running transfer is cut by the
// library once end returns, and fails.
func (sess *session) finishCompleteUpload() {
	sess.mu.Lock()
	r := sess.running
	sess.mu.Unlock()
	if r == nil || !r.h.SenderDone() {
		return
	}
	t := time.NewTimer(completeUploadGrace)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		sess.log.Warn("complete upload not stored in time after the client hung up", "path", r.h.Transfer().Path)
	}
}

func (sess *session) end() {
	sess.finishCompleteUpload()
	sess.cancel()
	sess.data.Close()
	sess.list.drop()
	if name := sess.userName(); name != "" {
		sess.srv.metrics.sessions.Dec()
		sess.srv.releaseSessionSlot(name)
	}
	sess.mu.Lock()
	sess.ended = true
	closeStorage := sess.takeCloseStorageLocked()
	sess.mu.Unlock()
	sess.releaseStorage(closeStorage)
	sess.log.Debug("disconnected")
}

// holdStorage keeps the session's storage open for a transfer until the
// returned release runs (when the transfer's handle has closed, i.e. has
// renamed or removed its partial file). The FTP library ends a session
// (end) before it closes the session's running transfer, and the storage
// of a user's last session is closed with it: without the hold, the
// transfer could no longer remove its partial file. ok is false once the
// session has ended.
func (sess *session) holdStorage() (release func(), ok bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return nil, false
	}
	sess.storageHolds++
	var once sync.Once
	return func() {
		once.Do(func() {
			sess.mu.Lock()
			sess.storageHolds--
			closeStorage := sess.takeCloseStorageLocked()
			sess.mu.Unlock()
			sess.releaseStorage(closeStorage)
		})
	}, true
}

// takeCloseStorageLocked returns the storage's close function when the
// session has ended and no transfer holds the storage (once), else nil.
func (sess *session) takeCloseStorageLocked() func() error {
	if !sess.ended || sess.storageHolds > 0 {
		return nil
	}
	c := sess.closeStorage
	sess.closeStorage = nil
	return c
}

func (sess *session) releaseStorage(closeStorage func() error) {
	if closeStorage == nil {
		return
	}
	if err := closeStorage(); err != nil {
		sess.log.Warn("close storage", "err", err)
	}
}

// close drops the control connection. It closes the socket under the
// library rather than calling the library's Close, which races with the
// library's own disconnect (ftpserverlib v0.32.3); the library then sees
// the read fail and ends the session as for any hang-up.
// A running transfer is cut too: the library would otherwise finish it
// before it notices the control connection is gone.
func (sess *session) close() {
	sess.data.Cut()
	_ = sess.conn.Close()
}

// --- control screen (controlconn.Screener) ---

// Screen judges each command before the FTP library sees it. Commands that
// ftpd answers itself (refusals, OPTS MLST, verbs the library does not
// know) are rewritten into "SITE <token>", which the library answers in
// order, through Site, with the queued answer.
func (sess *session) Screen(line string) string {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if out, done := sess.guard(verb, arg); done {
		return out
	}
	if out, ok := sess.screenTLS(verb, arg); ok {
		return out
	}
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
	case "OPTS":
		if opt, facts, _ := strings.Cut(strings.TrimSpace(arg), " "); strings.EqualFold(opt, "MLST") {
			return sess.answer(200, "MLST OPTS "+mlstFacts(facts))
		}
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
// waits for a running transfer to finish, as for any command. Before login
// (SITE needs one) the line is NOOP, whose "200 OK" Reply replaces: before
// login the library handles one command at a time, so the next "200 OK"
// is that NOOP's.
func (sess *session) answer(code int, msg string) string {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.userName() == "" {
		sess.preAnswers = append(sess.preAnswers, answer{code, msg})
		return "NOOP"
	}
	sess.answers = append(sess.answers, answer{code, msg})
	return "SITE " + sess.answerToken
}

// preLoginAnswer replaces the library's NOOP reply with a queued answer.
func (sess *session) preLoginAnswer(line string) string {
	if line != "200 OK" {
		return line
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.preAnswers) == 0 {
		return line
	}
	a := sess.preAnswers[0]
	sess.preAnswers = sess.preAnswers[1:]
	return fmt.Sprintf("%d %s", a.code, a.msg)
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
	if sess.inMultiline(line) {
		return line // text inside a multi-line reply (file names, STAT): not a reply of its own
	}
	sess.rename.reply(line)
	line = sess.preLoginAnswer(line)
	line = sess.data.Reply(line)
	line = sess.list.reply(line)
	line = sess.featExtras(line)
	line = sess.rewriteReply(line)
	if !isFinalReplyLine(line) {
		return line // a continuation line ("211-...", or text inside a multi-line reply)
	}
	switch code := line[:3]; {
	case code == "150" || code == "125":
		sess.busy.Store(true)
	case code == "211" || code == "212" || code == "213":
		// STAT is answered during a transfer: it does not end one.
	case code[0] >= '2':
		sess.busy.Store(false)
	}
	return line
}

// inMultiline follows multi-line replies (RFC 959 4.2: "ddd-" up to
// "ddd "): it reports whether line is inside one, i.e. neither its first
// nor its last line. Only the library writes replies, one at a time.
func (sess *session) inMultiline(line string) bool {
	if sess.multiCode != "" {
		if strings.HasPrefix(line, sess.multiCode+" ") {
			sess.multiCode = ""
			return false
		}
		return true
	}
	if len(line) >= 4 && line[3] == '-' && isFinalReplyLine(line[:3]+" ") {
		sess.multiCode = line[:3]
	}
	return false
}

// xfersOwner is who may see this session's transfers in SITE XFERS: every
// session of a named user (fxp watches a copy from a third connection),
// but for anonymous and token logins, which strangers share, only sessions
// of the same login from the same client address.
func (sess *session) xfersOwner() string {
	name := sess.userName()
	if c := sess.token.Load(); c != nil {
		return "token " + c.ID + " " + name + " from " + sess.clientIP.String()
	}
	st := sess.srv.state.Load()
	if a := st.accounts[name]; a != nil && a.anonymous {
		return name + " from " + sess.clientIP.String()
	}
	return name
}

// isFinalReplyLine reports whether line is the last line of a reply:
// three digits and a space.
func isFinalReplyLine(line string) bool {
	return len(line) >= 4 && line[3] == ' ' &&
		line[0] >= '1' && line[0] <= '5' && line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9'
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
	if r := sess.siteToken(param); r != nil {
		return r
	}
	if strings.EqualFold(strings.TrimSpace(param), "XFERS") {
		return &ftpserver.AnswerCommand{Code: 200, Message: sess.srv.xfersReport(sess.xfersOwner())}
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
	v, tlsRole, ok := sess.data.Approved(t.Peer)
	if !ok {
		sess.log.Error("data connection not made by the data plane", "command", t.Command, "peer", t.Peer.String())
		return errors.New("transfer refused: data connection was not checked")
	}
	t.Foreign = v.Foreign
	t.TLS = tlsRole
	t.Limiters = sess.srv.bandwidth.limiters(a.user.Name, t.Direction)
	sess.srv.addXfer(t, sess.xfersOwner())
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
		"peer", t.Peer.String(), "foreign", t.Foreign, "tls", t.TLS,
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
	_ ftpserver.ClientDriverExtensionFileList     = (*clientDriver)(nil)
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
// The ALLO size, if any, is taken first: it belongs to this command even
// when the file cannot be opened.
func (c *clientDriver) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	expect := c.sess.takeAllo()
	release, ok := c.sess.holdStorage()
	if !ok {
		return nil, errors.New("session ended")
	}
	h, err := c.FS.OpenTransfer(name, flags, offset)
	if err != nil {
		release()
		return nil, err
	}
	h.Transfer().Expect = expect
	r := &runningTransfer{h: h, done: make(chan struct{})}
	c.sess.mu.Lock()
	c.sess.running = r
	c.sess.mu.Unlock()
	h.OnClosed(func() {
		c.sess.mu.Lock()
		if c.sess.running == r {
			c.sess.running = nil
		}
		c.sess.mu.Unlock()
		close(r.done)
		release()
	})
	return h, nil
}

// Remove deletes a file (DELE) and logs it: a deletion is worth a line
// in the log, with the name as the client sent it (escaped by the log).
func (c *clientDriver) Remove(name string) error {
	return c.remove("DELE", name, false)
}

// RemoveDir is RMD (ftpserver.ClientDriverExtensionRemoveDir): without it
// the library sends RMD to Remove, which takes a file as well.
func (c *clientDriver) RemoveDir(name string) error {
	return c.remove("RMD", name, true)
}

// remove deletes name if it is what the command removes: a file for DELE,
// a directory for RMD (a storage removes either).
func (c *clientDriver) remove(command, name string, dir bool) error {
	fi, err := c.FS.Stat(name)
	if err != nil {
		return err
	}
	switch {
	case dir && !fi.IsDir():
		return &os.PathError{Op: "rmd", Path: name, Err: syscall.ENOTDIR}
	case !dir && fi.IsDir():
		return &os.PathError{Op: "dele", Path: name, Err: fmt.Errorf("%w: use RMD", syscall.EISDIR)}
	}
	if err := c.FS.Remove(name); err != nil {
		return err
	}
	c.sess.log.Info("deleted", "command", command, "path", name)
	return nil
}

// Site handles ftpd's own SITE commands.
func (c *clientDriver) Site(param string) *ftpserver.AnswerCommand { return c.sess.site(param) }
