package token

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Creator creates an object only if no object has its key (S3 PutObject
// with If-None-Match: *). created is false, with a nil error, when the key
// already exists. The S3 storage backend's client provides it.
type Creator interface {
	CreateIfAbsent(ctx context.Context, key string, body []byte) (created bool, err error)
}

// SpentPrefix is where shared spends live in the bucket.
const SpentPrefix = ".ftpd/spent/"

// SharedSpent counts token uses in a store every instance sees ([tokens]
// spent_store = "s3"): use n of a token (1..Uses) is the object
// SpentKey(ID, n), and a login is granted only by creating one of them.
// However many instances race, each key is created once, so a token with
// Uses n logs in at most n times. Nothing is kept in memory: a restart or
// another instance sees the same counts.
type SharedSpent struct {
	store   Creator
	timeout time.Duration
}

// DefaultStoreTimeout bounds the store requests of one login.
const DefaultStoreTimeout = 10 * time.Second

// NewSharedSpent returns spends kept in store; timeout bounds one login's
// requests (0 = DefaultStoreTimeout).
func NewSharedSpent(store Creator, timeout time.Duration) *SharedSpent {
	if timeout <= 0 {
		timeout = DefaultStoreTimeout
	}
	return &SharedSpent{store: store, timeout: timeout}
}

// SpentKey names use n of the token id: a hash, so a token id never
// becomes part of an object key as it is.
func SpentKey(id string, n int) string {
	h := sha256.Sum256([]byte(id + "\x00" + strconv.Itoa(n)))
	return SpentPrefix + hex.EncodeToString(h[:])
}

// Use records one login with c, or refuses it when c's uses are spent. A
// store error refuses the login (fails closed).
func (s *SharedSpent) Use(c Claims) error {
	if c.ID == "" || c.Uses < 1 {
		return &Refused{Reason: ReasonSpent, Detail: "no uses"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	body := []byte(c.ID + " " + strconv.FormatInt(c.Expires, 10) + "\n")
	for n := 1; n <= c.Uses; n++ {
		created, err := s.store.CreateIfAbsent(ctx, SpentKey(c.ID, n), body)
		if err != nil {
			return fmt.Errorf("token spent store: %w", err)
		}
		if created {
			return nil
		}
	}
	return &Refused{Reason: ReasonSpent, Detail: fmt.Sprintf("used %d of %d times", c.Uses, c.Uses)}
}

// Close releases nothing (the store belongs to its owner); it is there so
// SharedSpent and Spent have the same methods.
func (s *SharedSpent) Close() error { return nil }
