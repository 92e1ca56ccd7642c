package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// SpentPrefix holds one object per granted token use.
const SpentPrefix = Reserved + "spent/"

// Spent counts one-time token logins in the bucket, shared by every ftpd
// instance using it: use number n of token id is the object
// SpentPrefix + hex(sha256(id, n)), created with CreateIfAbsent. A token
// allowing uses logins grants a login for the first use number whose
// create succeeds, so across any number of racing instances it grants at
// most uses logins. A login costs O(log uses) requests. It has the shape of token.SpentStore.
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
	created, err := p.s.CreateIfAbsent(ctx, SpentKey(id, 1), body)
	if err != nil || created {
		if err != nil {
			return false, fmt.Errorf("spend token use 1: %w", err)
		}
		return true, nil
	}
	// Use n is created only after use n-1 was found taken, so the taken
	// uses are 1..k: find the first free one by bisection (a few
	// requests, not one per use spent), then create from there.
	lo, hi := 2, uses+1 // uses below lo are taken; hi is free or past the end
	for lo < hi {
		mid := lo + (hi-lo)/2
		taken, err := p.s.exists(ctx, SpentKey(id, mid))
		if err != nil {
			return false, fmt.Errorf("spend token use %d: %w", mid, err)
		}
		if taken {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for n := lo; n <= uses; n++ {
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

// exists reports whether key is an object (HeadObject, bounded by the
// request timeout).
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	_, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err == nil {
		return true, nil
	}
	if httpStatus(err) == http.StatusNotFound {
		return false, nil
	}
	return false, fmt.Errorf("s3: head %s: %w", key, err)
}

// Close implements token.SpentStore; nothing to release.
func (p *Spent) Close() error { return nil }
