package server

import (
	"crypto/subtle"
	"errors"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

// errBadLogin is the one answer to every failed login: it does not say
// whether the user exists.
var errBadLogin = errors.New("login incorrect")

// dummyHash is compared against when the user does not exist, so that an
// unknown name costs as much time as a wrong password.
const dummyHash = "$2a$10$U/OeaKprZyA0KEkUzzlive2ECP3IuGploJys0huUB5fNRG6XNx7X6"

// secret checks one account's password.
type secret struct {
	anonymous bool
	hash      []byte // bcrypt
	plain     []byte
}

func newSecret(u conf.User) secret {
	switch {
	case u.Anonymous():
		return secret{anonymous: true}
	case u.PasswordHash != "":
		return secret{hash: []byte(u.PasswordHash)}
	default:
		return secret{plain: []byte(u.Password)}
	}
}

func (s secret) check(password string) bool {
	switch {
	case s.anonymous:
		return true
	case s.hash != nil:
		return bcrypt.CompareHashAndPassword(s.hash, []byte(password)) == nil
	default:
		return subtle.ConstantTimeCompare(s.plain, []byte(password)) == 1
	}
}

// burnTime makes a login for an unknown user as slow as a bcrypt check.
func burnTime(password string) {
	_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
}
