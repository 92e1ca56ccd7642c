package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/time/rate"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage/s3store"
	"github.com/ftpd/ftpd/token"
)

// tokenKeys is the token key ring and spent store of the configured key
// file. The current key signs; the current and the previous key (kept
// across a rotation unless [tokens] previous_key = "drop") verify. A
// reload re-reads the key file; one it cannot read leaves the ring as it
// was. Every key shares one spent store: token ids are random.
type tokenKeys struct {
	mu       sync.Mutex
	keyFile  string
	current  []byte
	previous []byte // nil: none, or dropped
	spent    token.SpentStore
	mints    map[string]*rate.Limiter // SITE TOKEN budget per user
	mintRate conf.Tokens              // the budget's settings
}

// load (re)reads cfg's key file, at start (an error fails it) and at a
// reload (an error keeps the ring as it was and is only logged by the
// caller). A missing key is created at start, and at a reload when no key
// of that file is in use yet.
func (k *tokenKeys) load(cfg conf.Tokens, s3 *s3store.Store, now func() time.Time, log *slog.Logger) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mintRate.MintBurst != cfg.MintBurst || k.mintRate.MintInterval != cfg.MintInterval {
		k.mints = nil // new settings: new budgets
	}
	k.mintRate = cfg
	if cfg.KeyFile == "" {
		k.closeLocked()
		return nil
	}
	sameFile := k.keyFile == cfg.KeyFile && k.current != nil
	key, err := token.LoadKey(cfg.KeyFile, !sameFile)
	if err != nil {
		return err
	}
	spent := k.spent
	if !sameFile {
		if spent, err = openSpentStore(cfg, s3, now); err != nil {
			return err
		}
		k.closeLocked()
	}
	rotated := sameFile && !bytes.Equal(key, k.current)
	switch {
	case !sameFile:
		// Another file: the previous key's tokens would find their
		// spend records in the other file's .spent; they stop.
		k.previous = nil
	case rotated:
		k.previous = k.current
	}
	if cfg.PreviousKey == conf.PreviousDrop {
		k.previous = nil
	}
	k.keyFile, k.current, k.spent = cfg.KeyFile, key, spent
	log.Info("token key loaded", "key_file", cfg.KeyFile, "rotated", rotated,
		"previous_key", cfg.PreviousKey.String(), "previous_key_in_use", k.previous != nil)
	return nil
}

// openSpentStore opens the spent store cfg names: the file beside the key
// (token.FileSpent, one instance), or conditional creates in the [s3]
// bucket that every instance shares (s3store.Spent).
func openSpentStore(cfg conf.Tokens, s3 *s3store.Store, now func() time.Time) (token.SpentStore, error) {
	if cfg.SpentStore == conf.SpentS3 {
		if s3 == nil {
			return nil, errors.New(`[tokens] spent_store = "s3": the [s3] store is not set up`)
		}
		return s3.Spent(now), nil
	}
	return token.OpenFileSpent(token.SpentPath(cfg.KeyFile), now)
}

// signer returns the key that signs new tokens.
func (k *tokenKeys) signer() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current == nil {
		return nil, errTokensUnavailable
	}
	return k.current, nil
}

// verify checks a token against the ring and returns its claims and the
// spent store.
func (k *tokenKeys) verify(login, secret string) (token.Claims, token.SpentStore, error) {
	k.mu.Lock()
	current, previous, spent := k.current, k.previous, k.spent
	k.mu.Unlock()
	if current == nil {
		return token.Claims{}, nil, errTokensUnavailable
	}
	c, err := token.Verify(current, login, secret)
	if err != nil && previous != nil {
		c, err = token.Verify(previous, login, secret)
	}
	return c, spent, err
}

// errTokensUnavailable: token logins are on but no key could be loaded.
var errTokensUnavailable = errors.New("no token key loaded")

// allowMint takes one SITE TOKEN from user's budget at now.
func (k *tokenKeys) allowMint(user string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mints == nil {
		k.mints = map[string]*rate.Limiter{}
	}
	l := k.mints[user]
	if l == nil {
		l = rate.NewLimiter(rate.Every(k.mintRate.MintInterval.Duration), k.mintRate.MintBurst)
		k.mints[user] = l
	}
	return l.AllowN(now, 1)
}

// forgetUsers drops the budgets of users no longer configured (they
// cannot log in to mint), so the map is bounded by the users configured.
func (k *tokenKeys) forgetUsers(accounts map[string]*account) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for name := range k.mints {
		if accounts[name] == nil {
			delete(k.mints, name)
		}
	}
}

// close releases the spent store.
func (k *tokenKeys) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closeLocked()
}

func (k *tokenKeys) closeLocked() {
	if k.spent != nil {
		_ = k.spent.Close()
	}
	k.spent, k.current, k.previous, k.keyFile = nil, nil, nil, ""
}

// tokenClaims returns the session's token, nil for a password login.
func (sess *session) tokenClaims() *token.Claims { return sess.token.Load() }

// tokenLogin checks a login that may be a token. When user is not a
// token's login name (or tokens are off) it returns nil claims and no
// reason, and the caller checks a password login. Otherwise it returns the
// user's account narrowed to the token (read-only unless it may receive)
// and the claims, or a refusal reason for login's usual answer. A granted
// login holds a session slot and is recorded as spent first.
func (sess *session) tokenLogin(st *state, user, pass string) (*account, *token.Claims, string) {
	keyFile := st.cfg.Tokens.KeyFile
	if keyFile == "" || !token.LooksLike(user) || st.accounts[user] != nil {
		return nil, nil, "" // a real user always wins over the token form
	}
	now := sess.srv.now()
	c, spent, err := sess.srv.tokens.verify(user, pass)
	if errors.Is(err, errTokensUnavailable) {
		sess.log.Error("token logins unavailable", "err", err)
		st.cost.pay(pass)
		return nil, nil, reasonTokenUnavailable
	}
	if err != nil {
		st.cost.pay(pass)
		return nil, nil, reasonBadPassword
	}
	refuse := func(reason, detail string) (*account, *token.Claims, string) {
		sess.log.Warn("token refused", "user", c.User, "token", c.ID, "reason", reason, "detail", detail)
		st.cost.pay(pass)
		return nil, nil, "token_" + reason
	}
	a := st.accounts[c.User]
	var r *token.Refused
	switch err := c.Check(now, sess.clientIP); {
	case sess.srv.bans.Banned(sess.clientIP, now):
		st.cost.pay(pass)
		return nil, nil, reasonBanned
	case a == nil || a.anonymous:
		return refuse(token.ReasonScope, "no such user "+c.User)
	case !a.allowsIP(sess.clientIP):
		return refuse(token.ReasonScope, "outside the user's allowed_ips")
	case errors.As(err, &r):
		return refuse(r.Reason, r.Detail)
	case !sess.srv.takeSessionSlot(a.user.Name, a.user.MaxSessions):
		st.cost.pay(pass)
		return nil, nil, reasonMaxSessions
	}
	granted, err := spent.Spend(sess.ctx, c.ID, c.Uses, time.Unix(c.Expires, 0))
	if err != nil {
		sess.srv.releaseSessionSlot(a.user.Name)
		sess.log.Error("token spent store", "err", err)
		return nil, nil, reasonTokenUnavailable
	}
	if !granted {
		sess.srv.releaseSessionSlot(a.user.Name)
		return refuse(token.ReasonSpent, fmt.Sprintf("used %d times", c.Uses))
	}
	narrowed := *a
	narrowed.readOnly = a.readOnly || c.Dir&token.Receive == 0
	sess.log.Info("token login", "user", c.User, "token", c.ID, "path", c.Path, "direction", c.Dir.String(),
		"expires", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	sess.srv.metrics.logins.WithLabelValues("token").Inc()
	return &narrowed, &c, ""
}

// reasonTokenUnavailable: the key or spent file cannot be used.
const reasonTokenUnavailable = "token_unavailable"

// siteToken answers SITE TOKEN PATH DIRECTION TTL [USES [CIDR]]: a logged-in
// user mints a token for themself, never wider than their own rights (a
// read-only user cannot mint receive; a token login cannot mint at all).
func (sess *session) siteToken(param string) *ftpserver.AnswerCommand {
	fields := strings.Fields(param)
	if len(fields) == 0 || !strings.EqualFold(fields[0], "TOKEN") {
		return nil
	}
	answer := func(code int, format string, a ...any) *ftpserver.AnswerCommand {
		return &ftpserver.AnswerCommand{Code: code, Message: fmt.Sprintf(format, a...)}
	}
	st := sess.srv.state.Load()
	if st.cfg.Tokens.KeyFile == "" {
		return answer(502, "SITE TOKEN: token logins are off on this server")
	}
	a := sess.account(st)
	if a == nil || a.anonymous {
		return answer(530, "SITE TOKEN: log in first")
	}
	if sess.tokenClaims() != nil {
		return answer(550, "SITE TOKEN: a token login cannot mint tokens")
	}
	args := fields[1:]
	if len(args) < 3 || len(args) > 5 {
		return answer(501, "usage: SITE TOKEN PATH send|receive|both TTL [USES [CIDR]]")
	}
	c := token.Claims{User: a.user.Name, Uses: 1, ID: token.NewID()}
	var err error
	if c.Path, err = token.CleanPath(sess.absPath(args[0])); err != nil {
		return answer(501, "SITE TOKEN: %v", err)
	}
	if c.Dir, err = token.ParseDir(args[1]); err != nil {
		return answer(501, "SITE TOKEN: %v", err)
	}
	ttl, err := time.ParseDuration(args[2])
	if err != nil || ttl <= 0 || ttl > maxTokenTTL {
		return answer(501, "SITE TOKEN: ttl %q: want a duration up to %s", args[2], maxTokenTTL)
	}
	c.Expires = sess.srv.now().Add(ttl).Unix()
	if len(args) > 3 {
		if c.Uses, err = strconv.Atoi(args[3]); err != nil || c.Uses < 1 || c.Uses > 1000 {
			return answer(501, "SITE TOKEN: uses %q: want 1 to 1000", args[3])
		}
	}
	if len(args) > 4 {
		c.Client = args[4]
	}
	if a.readOnly && c.Dir&token.Receive != 0 {
		return answer(550, "SITE TOKEN: %s is read-only: cannot mint a receiving token", a.user.Name)
	}
	if !sess.srv.tokens.allowMint(a.user.Name, sess.srv.now()) {
		sess.log.Warn("SITE TOKEN rate-limited", "burst", st.cfg.Tokens.MintBurst, "interval", st.cfg.Tokens.MintInterval.String())
		return answer(450, "SITE TOKEN: rate limit: %d tokens, then one every %s; try again later",
			st.cfg.Tokens.MintBurst, st.cfg.Tokens.MintInterval)
	}
	key, err := sess.srv.tokens.signer()
	if err != nil {
		sess.log.Error("token logins unavailable", "err", err)
		return answer(451, "SITE TOKEN: token logins unavailable")
	}
	login, secret, err := token.Mint(key, c)
	if err != nil {
		return answer(501, "SITE TOKEN: %v", err)
	}
	sess.log.Info("token minted", "token", c.ID, "path", c.Path, "direction", c.Dir.String(), "uses", c.Uses,
		"expires", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	return answer(200, "TOKEN %s %s", login, secret)
}

// maxTokenTTL bounds SITE TOKEN's lifetime.
const maxTokenTTL = 30 * 24 * time.Hour

// absPath resolves a client path against / (token paths are absolute in
// the user's root; a relative one is taken from the root).
func (sess *session) absPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}
