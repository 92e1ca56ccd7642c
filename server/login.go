package server

// Login failure reasons, as logged (the client only ever sees errBadLogin).
const (
	reasonUnknownUser = "unknown_user"
	reasonBadPassword = "bad_password"
)

// checkLogin decides a PASS. It returns the account and "" when the login
// may go on (a session slot is then taken), or the reason it may not. Every
// refusal costs the same bcrypt work (see loginCost), so that an unknown
// name, a wrong password whatever the user's hash cost, a plain-text
// password, an address outside allowed_ips, a ban and a full max_sessions
// take the same time: a refusal pays, with dummy hashes, every configured
// cost level that the user's own check did not.
func (sess *session) checkLogin(st *state, user, pass string) (*account, string) {
	a := st.accounts[user]
	if a == nil {
		st.cost.pay(pass)
		return nil, reasonUnknownUser
	}
	ok, paid := sess.srv.passwords.verify(a.user.Name, a.secret, pass)
	reason := ""
	switch {
	case sess.srv.bans.Banned(sess.clientIP, sess.srv.now()):
		reason = reasonBanned
	case !ok:
		reason = reasonBadPassword
	case !a.allowsIP(sess.clientIP):
		reason = reasonAllowedIPs
	case !sess.srv.takeSessionSlot(a.user.Name, a.user.MaxSessions):
		reason = reasonMaxSessions
	}
	if reason != "" {
		st.cost.padAfter(paid, pass)
	}
	return a, reason
}
