package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

// errBadLogin is the one answer to every refused login (unknown user,
// wrong password, address outside allowed_ips, banned address, too many
// sessions): it does not say which. The log keeps the true reason.
var errBadLogin = errors.New("login incorrect")

// CompareFunc is a bcrypt check: nil when password matches hash
// (bcrypt.CompareHashAndPassword). Tests inject one that counts.
type CompareFunc func(hash, password []byte) error

// secret checks one account's password.
type secret struct {
	anonymous bool
	hash      []byte            // bcrypt
	cost      int               // the hash's bcrypt cost
	plain     [sha256.Size]byte // digest of a plain-text password (compared in constant time)
}

func newSecret(u conf.User) secret {
	switch {
	case u.Anonymous():
		return secret{anonymous: true}
	case u.PasswordHash != "":
		cost, _ := bcrypt.Cost([]byte(u.PasswordHash)) // conf validated it
		return secret{hash: []byte(u.PasswordHash), cost: cost}
	default:
		return secret{plain: sha256.Sum256([]byte(u.Password))}
	}
}

// check reports whether password is right. A bcrypt hash costs its bcrypt
// run (through compare); a plain-text password is compared digest to
// digest, so the time does not depend on where the two differ, nor on
// their lengths.
func (s secret) check(compare CompareFunc, password string) bool {
	switch {
	case s.anonymous:
		return true
	case s.hash != nil:
		return compare(s.hash, []byte(password)) == nil
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

// loginCost is the price of a refused login, the same for every refusal
// whatever the user's stored hash: exactly one bcrypt run at each cost
// among the configured hashes (its levels; bcrypt's default cost when
// there are none), and nothing else. A refusal that checked a user's
// bcrypt hash has paid that hash's level and pays the others with dummy
// hashes; every other refusal (unknown user, plain-text or cached
// password, anonymous, token) pays every level with dummies. The bcrypt
// work of a refusal is thus a function of the configuration alone, never
// of the name or the password tried: timing cannot tell the users apart,
// nor their costs. It is at most twice a run at the highest cost (the
// levels' costs double per level).
type loginCost struct {
	levels  []int    // the configured bcrypt costs, ascending, distinct
	dummies [][]byte // a hash of a random password per level
	compare CompareFunc
}

// newLoginCost returns the cost of cfg's hashes, reusing prev's dummy
// hashes for levels it had (making one takes as long as a login).
func newLoginCost(cfg *conf.Config, prev *loginCost, compare CompareFunc) (*loginCost, error) {
	seen := map[int]bool{}
	var levels []int
	for _, u := range cfg.Users {
		if u.PasswordHash == "" || u.Anonymous() {
			continue
		}
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("users %q: password_hash: %w", u.Name, err)
		}
		if !seen[c] {
			seen[c] = true
			levels = append(levels, c)
		}
	}
	if len(levels) == 0 {
		levels = []int{bcrypt.DefaultCost}
	}
	slices.Sort(levels)
	lc := &loginCost{levels: levels, dummies: make([][]byte, len(levels)), compare: compare}
	for i, c := range levels {
		if prev != nil {
			if j := slices.Index(prev.levels, c); j >= 0 {
				lc.dummies[i] = prev.dummies[j]
				continue
			}
		}
		var random [18]byte
		_, _ = rand.Read(random[:]) // crypto/rand.Read does not fail on Linux
		dummy, err := bcrypt.GenerateFromPassword(random[:], c)
		if err != nil {
			return nil, fmt.Errorf("make the dummy password hash: %w", err)
		}
		lc.dummies[i] = dummy
	}
	return lc, nil
}

// pay spends a refusal's whole cost with dummy hashes: one bcrypt run at
// each level.
func (c *loginCost) pay(password string) { c.padAfter(0, password) }

// padAfter spends the rest of a refusal's cost after a check of a hash at
// cost paid (0 = none): one bcrypt run at every other level.
func (c *loginCost) padAfter(paid int, password string) {
	for i, level := range c.levels {
		if level != paid {
			_ = c.compare(c.dummies[i], []byte(password))
		}
	}
}
