package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/ftpd/ftpd/token"
)

// tokenKeys holds the token key and spent list of the configured key file,
// (re)opened when the file named by the config changes.
type tokenKeys struct {
	mu      sync.Mutex
	keyFile string
	key     []byte
	spent   *token.Spent
}

// load returns the key and spent list of keyFile, creating the key when
// missing.
func (k *tokenKeys) load(keyFile string, now time.Time) ([]byte, *token.Spent, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keyFile == keyFile && k.key != nil {
		return k.key, k.spent, nil
	}
	key, err := token.LoadKey(keyFile, true)
	if err != nil {
		return nil, nil, err
	}
	spent, err := token.OpenSpent(token.SpentPath(keyFile), now)
	if err != nil {
		return nil, nil, err
	}
	if k.spent != nil {
		_ = k.spent.Close()
	}
	k.keyFile, k.key, k.spent = keyFile, key, spent
	return key, spent, nil
}

// close releases the spent file.
func (k *tokenKeys) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.spent != nil {
		_ = k.spent.Close()
		k.spent, k.key, k.keyFile = nil, nil, ""
	}
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
	key, spent, err := sess.srv.tokens.load(keyFile, now)
	if err != nil {
		sess.log.Error("token logins unavailable", "err", err)
		st.cost.pay(pass)
		return nil, nil, reasonTokenUnavailable
	}
	c, err := token.Verify(key, user, pass)
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
	if err := spent.Use(c); err != nil {
		sess.srv.releaseSessionSlot(a.user.Name)
		if errors.As(err, &r) {
			return refuse(r.Reason, r.Detail)
		}
		sess.log.Error("token spent file", "err", err)
		return nil, nil, reasonTokenUnavailable
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
	key, _, err := sess.srv.tokens.load(st.cfg.Tokens.KeyFile, sess.srv.now())
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
