package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// SpentPrefix holds one object per granted token use.
const SpentPrefix = Reserved + "spent/"

// Spent counts one-time token logins in the bucket, shared by every ftpd
// instance using it: use number n of token id is the object
// SpentPrefix + hex(sha256(id, n)), created with CreateIfAbsent. A token
// allowing uses logins grants a login for the first use number whose
// create succeeds, so across any number of racing instances it grants at
// most uses logins. It has the shape of token.SpentStore.
type Spent struct {
	s   *Store
	now func() time.Time
}

// Spent returns the store's spent-token counter; now is the clock (nil =
// time.Now).
func (s *Store) Spent(now func() time.Time) *Spent {
	if now == nil {
		now = time.Now
	}
	return &Spent{s: s, now: now}
}

// SpentKey is the key of use n of token id.
func SpentKey(id string, n int) string {
	h := sha256.Sum256([]byte(id + "\x00" + strconv.Itoa(n)))
	return SpentPrefix + hex.EncodeToString(h[:])
}

// Spend records one login with token id (uses allowed, valid until
// expires). granted is false when every use is taken or the token has
// expired; an error refuses the login (fail closed).
func (p *Spent) Spend(ctx context.Context, id string, uses int, expires time.Time) (bool, error) {
	if !p.now().Before(expires) || uses < 1 {
		return false, nil
	}
	body := []byte(strconv.FormatInt(expires.Unix(), 10) + "\n")
	for n := 1; n <= uses; n++ {
		created, err := p.s.CreateIfAbsent(ctx, SpentKey(id, n), body)
		if err != nil {
			return false, fmt.Errorf("spend token use %d: %w", n, err)
		}
		if created {
			return true, nil
		}
	}
	return false, nil
}

// Close implements token.SpentStore; nothing to release.
func (p *Spent) Close() error { return nil }
