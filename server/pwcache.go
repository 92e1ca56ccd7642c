package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// verifiedPasswords remembers, per user, a keyed digest of the last
// password that passed its bcrypt check, so that the next login with the
// same password and the same hash costs a hash instead of a bcrypt run
// (about 50 ms at cost 10). Only successes are cached: a wrong password
// always pays for bcrypt. The key is random per process and the digest
// covers the bcrypt hash, so a changed password_hash invalidates it.
type verifiedPasswords struct {
	key     [32]byte
	compare CompareFunc
	mu      sync.Mutex
	ok      map[string][sha256.Size]byte
}

// newVerifiedPasswords returns an empty cache that checks with compare
// (nil = bcrypt.CompareHashAndPassword).
func newVerifiedPasswords(compare CompareFunc) *verifiedPasswords {
	if compare == nil {
		compare = bcrypt.CompareHashAndPassword
	}
	v := &verifiedPasswords{ok: map[string][sha256.Size]byte{}, compare: compare}
	_, _ = rand.Read(v.key[:]) // crypto/rand.Read does not fail on Linux
	return v
}

func (v *verifiedPasswords) digest(user string, hash []byte, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, v.key[:])
	for _, part := range [][]byte{[]byte(user), hash, []byte(password)} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(part)>>24), byte(len(part)>>16), byte(len(part)>>8), byte(len(part))
		m.Write(n[:])
		m.Write(part)
	}
	var out [sha256.Size]byte
	copy(out[:], m.Sum(nil))
	return out
}

// check verifies password for user with sec, using and filling the cache.
func (v *verifiedPasswords) check(user string, sec secret, password string) bool {
	ok, _ := v.verify(user, sec, password)
	return ok
}

// verify is check that also says the cost of the bcrypt run it paid (0
// for none: a cache hit, a plain-text password or an anonymous login).
func (v *verifiedPasswords) verify(user string, sec secret, password string) (ok bool, paid int) {
	if sec.hash == nil {
		return sec.check(v.compare, password), 0
	}
	d := v.digest(user, sec.cacheKey(), password)
	v.mu.Lock()
	cached, hit := v.ok[user]
	v.mu.Unlock()
	if hit && hmac.Equal(cached[:], d[:]) {
		return true, 0
	}
	if !sec.check(v.compare, password) {
		return false, sec.cost
	}
	v.mu.Lock()
	v.ok[user] = d
	v.mu.Unlock()
	return true, sec.cost
}
