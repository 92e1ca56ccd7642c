package fxp

import (
	"fmt"
	"strings"
)

// LoginSource is where the credentials a URL leaves out come from.
type LoginSource struct {
	User    string // login name (--src-user / --dst-user)
	PassEnv string // name of an environment variable holding the password
	// LookupEnv reads the environment (os.LookupEnv); nil means PassEnv
	// cannot be used.
	LookupEnv func(string) (string, bool)
	Netrc     *Netrc // may be nil
}

// anonymousPass is the conventional anonymous password (an e-mail-ish id).
const anonymousPass = "fxp@"

func isAnonymous(user string) bool {
	return strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")
}

// ResolveLogin fills e.User and e.Pass. The user name comes from the URL,
// else src.User, else a netrc entry for the host, else "anonymous". The
// password comes from the URL, else the variable src.PassEnv, else the
// netrc entry for that host and user; anonymous logins need none. Errors
// never contain a password.
func ResolveLogin(e *Endpoint, src LoginSource) error {
	if e.User == "" {
		e.User = src.User
	}
	if e.User == "" {
		if login, _, ok := src.Netrc.Lookup(e.Host, ""); ok && login != "" {
			e.User = login
		}
	}
	if e.User == "" {
		e.User = "anonymous"
	}
	if e.PassFromURL {
		return nil
	}
	if src.PassEnv != "" {
		if src.LookupEnv == nil {
			return fmt.Errorf("%s: cannot read environment variable %s", e, src.PassEnv)
		}
		pass, ok := src.LookupEnv(src.PassEnv)
		if !ok || pass == "" {
			return fmt.Errorf("%s: environment variable %s is not set or empty", e, src.PassEnv)
		}
		e.Pass = pass
		return nil
	}
	if _, pass, ok := src.Netrc.Lookup(e.Host, e.User); ok && pass != "" {
		e.Pass = pass
		return nil
	}
	if isAnonymous(e.User) {
		e.Pass = anonymousPass
		return nil
	}
	return fmt.Errorf("%s: no password for %s (put it in the URL, in an environment variable named by --src-pass-env/--dst-pass-env, or in ~/.netrc)", e, e.User)
}
