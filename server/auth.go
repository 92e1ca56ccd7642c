package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

// errBadLogin is the one answer to every refused login (unknown user,
// wrong password, address outside allowed_ips, banned address, too many
// sessions): it does not say which. The log keeps the true reason.
var errBadLogin = errors.New("login incorrect")

// secret checks one account's password.
type secret struct {
	anonymous bool
	hash      []byte            // bcrypt
	plain     [sha256.Size]byte // digest of a plain-text password (compared in constant time)
}

func newSecret(u conf.User) secret {
	switch {
	case u.Anonymous():
		return secret{anonymous: true}
	case u.PasswordHash != "":
		return secret{hash: []byte(u.PasswordHash)}
	default:
		return secret{plain: sha256.Sum256([]byte(u.Password))}
	}
}

// check reports whether password is right. A bcrypt hash costs its bcrypt
// run; a plain-text password is compared digest to digest, so the time
// does not depend on where the two differ, nor on their lengths.
func (s secret) check(password string) bool {
	switch {
	case s.anonymous:
		return true
	case s.hash != nil:
		return bcrypt.CompareHashAndPassword(s.hash, []byte(password)) == nil
	default:
		d := sha256.Sum256([]byte(password))
		return subtle.ConstantTimeCompare(s.plain[:], d[:]) == 1
	}
}

// cacheKey is what a verified password is remembered against: the hash,
// or the plain password's digest.
func (s secret) cacheKey() []byte {
	if s.hash != nil {
		return s.hash
	}
	return s.plain[:]
}

// loginCost is the price of a login that fails: one bcrypt run at the
// highest cost among the configured hashes. A refusal that did not pay it
// (unknown user, plain-text or cached password, anonymous) pays it with a
// dummy hash, so that no refusal is faster than another.
type loginCost struct {
	cost  int
	dummy []byte
}

// newLoginCost returns the cost of cfg's hashes, reusing prev's dummy hash
// when the cost is unchanged (making one takes as long as a login).
func newLoginCost(cfg *conf.Config, prev *loginCost) (*loginCost, error) {
	cost := bcrypt.DefaultCost
	found := false
	for _, u := range cfg.Users {
		if u.PasswordHash == "" || u.Anonymous() {
			continue
		}
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("users %q: password_hash: %w", u.Name, err)
		}
		if !found || c > cost {
			cost, found = c, true
		}
	}
	if prev != nil && prev.cost == cost {
		return prev, nil
	}
	var random [18]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read does not fail on Linux
	dummy, err := bcrypt.GenerateFromPassword(random[:], cost)
	if err != nil {
		return nil, fmt.Errorf("make the dummy password hash: %w", err)
	}
	return &loginCost{cost: cost, dummy: dummy}, nil
}

// pay spends one bcrypt run at the highest configured cost.
func (c *loginCost) pay(password string) {
	_ = bcrypt.CompareHashAndPassword(c.dummy, []byte(password))
}
