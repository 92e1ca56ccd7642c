// Package token makes and checks ftpd's one-time FXP links: a login that
// works for one user, one path (or subtree), one direction, a number of
// logins and until an expiry, verifiable without server state.
//
// The login name is USER + ".t." + the claims (base64url JSON); the
// password is an HMAC-SHA256 of that name under the server's key. A
// token's uses are counted in a spent file (Spent), so that neither a
// restart nor a reload can revive a token that was used up.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"
)

// Sep separates the user from the claims in a token's login name.
const Sep = ".t."

// Dir is the directions a token allows.
type Dir uint8

const (
	Send    Dir = 1 << iota // RETR: the server sends the file (FXP source)
	Receive                 // STOR/APPE: the server receives it (FXP destination)
	Both    = Send | Receive
)

// ParseDir reads send, receive or both.
func ParseDir(s string) (Dir, error) {
	switch strings.ToLower(s) {
	case "send":
		return Send, nil
	case "receive":
		return Receive, nil
	case "both":
		return Both, nil
	}
	return 0, fmt.Errorf("direction %q: want send, receive or both", s)
}

func (d Dir) String() string {
	switch d {
	case Send:
		return "send"
	case Receive:
		return "receive"
	case Both:
		return "both"
	}
	return "none"
}

// Claims are what a token allows. They are signed, not secret.
type Claims struct {
	User    string `json:"u"`
	Path    string `json:"p"` // absolute and clean; a trailing "/" means the subtree
	Dir     Dir    `json:"d"`
	Expires int64  `json:"e"` // Unix seconds
	Uses    int    `json:"n"`
	Client  string `json:"c,omitempty"` // CIDR the login must come from
	ID      string `json:"i"`           // random, names the token in the spent file and logs
}

// Refusal reasons, for logs and metrics.
const (
	ReasonExpired = "expired"
	ReasonSpent   = "spent"
	ReasonScope   = "scope"
)

// Refused is a valid token that may not log in now.
type Refused struct {
	Reason string // ReasonExpired, ReasonSpent or ReasonScope
	Detail string
}

func (e *Refused) Error() string { return "token " + e.Reason + ": " + e.Detail }

// ErrBadToken is a login name or secret that is not a token of this key.
var ErrBadToken = errors.New("not a valid token")

// CleanPath normalizes a token path: absolute, clean, keeping a trailing
// "/" (a subtree).
func CleanPath(p string) (string, error) {
	if p == "" || strings.ContainsAny(p, "\r\n\x00") {
		return "", fmt.Errorf("path %q: want an absolute path", p)
	}
	sub := strings.HasSuffix(p, "/")
	c := path.Clean("/" + p)
	if sub && c != "/" {
		c += "/"
	}
	return c, nil
}

// Subtree reports whether the claims name a directory tree.
func (c Claims) Subtree() bool { return strings.HasSuffix(c.Path, "/") }

// Covers reports whether p (absolute, clean) is inside the claims' scope:
// the file itself, or anything below the subtree.
func (c Claims) Covers(p string) bool {
	p = path.Clean("/" + p)
	if !c.Subtree() {
		return p == c.Path
	}
	return p+"/" == c.Path || strings.HasPrefix(p, c.Path)
}

// Check refuses an expired token and a login from outside Client.
func (c Claims) Check(now time.Time, client netip.Addr) error {
	if now.Unix() >= c.Expires {
		return &Refused{Reason: ReasonExpired, Detail: "expired at " + time.Unix(c.Expires, 0).UTC().Format(time.RFC3339)}
	}
	if c.Client != "" {
		p, err := netip.ParsePrefix(c.Client)
		if err != nil || !p.Contains(client.Unmap()) {
			return &Refused{Reason: ReasonScope, Detail: client.String() + " is outside " + c.Client}
		}
	}
	return nil
}

// Validate checks claims before they are signed.
func (c Claims) Validate() error {
	var errs []error
	if c.User == "" || strings.ContainsFunc(c.User, func(r rune) bool { return r <= ' ' }) {
		errs = append(errs, fmt.Errorf("user %q: want a user name", c.User))
	}
	if p, err := CleanPath(c.Path); err != nil || p != c.Path {
		errs = append(errs, fmt.Errorf("path %q: want an absolute, clean path", c.Path))
	}
	if c.Dir == 0 || c.Dir&^Both != 0 {
		errs = append(errs, errors.New("direction: want send, receive or both"))
	}
	if c.Uses < 1 {
		errs = append(errs, fmt.Errorf("uses %d: want 1 or more", c.Uses))
	}
	if c.Client != "" {
		if _, err := netip.ParsePrefix(c.Client); err != nil {
			errs = append(errs, fmt.Errorf("client %q: want a CIDR such as 10.0.0.0/8", c.Client))
		}
	}
	if len(c.ID) < 16 {
		errs = append(errs, errors.New("id: too short"))
	}
	return errors.Join(errs...)
}

// NewID returns a random token id.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Mint signs claims and returns the login name and the secret.
func Mint(key []byte, c Claims) (login, secret string, err error) {
	if err := c.Validate(); err != nil {
		return "", "", fmt.Errorf("token: %w", err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", "", fmt.Errorf("token: %w", err)
	}
	login = c.User + Sep + base64.RawURLEncoding.EncodeToString(body)
	return login, sign(key, login), nil
}

func sign(key []byte, login string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ftpd-token-v1\n"))
	m.Write([]byte(login))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LooksLike reports whether a login name has a token's shape (it may
// still be invalid).
func LooksLike(login string) bool {
	i := strings.LastIndex(login, Sep)
	return i > 0 && i+len(Sep) < len(login)
}

// Verify checks login and secret against key and returns the claims. Any
// failure is ErrBadToken: it does not say which part was wrong.
func Verify(key []byte, login, secret string) (Claims, error) {
	if !hmac.Equal([]byte(sign(key, login)), []byte(secret)) {
		return Claims{}, ErrBadToken
	}
	i := strings.LastIndex(login, Sep)
	if i <= 0 {
		return Claims{}, ErrBadToken
	}
	body, err := base64.RawURLEncoding.DecodeString(login[i+len(Sep):])
	if err != nil {
		return Claims{}, ErrBadToken
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil || c.User != login[:i] || c.Validate() != nil {
		return Claims{}, ErrBadToken
	}
	return c, nil
}

// LoadKey reads a key file (64 hex digits), refusing one that group or
// others may read. With create, a missing file is made with a new key.
func LoadKey(file string, create bool) ([]byte, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && create {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(hex.EncodeToString(k) + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("token key: %w", err)
		}
		return LoadKey(file, false) // the file on disk wins (a race with another creator)
	}
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("token key %s has mode %04o: group and others must have no access (chmod 600 %s)", file, perm, file)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(k) < 32 {
		return nil, fmt.Errorf("token key %s: want at least 64 hex digits", file)
	}
	return k, nil
}

// SpentPath is the spent file kept next to a key file.
func SpentPath(keyFile string) string { return keyFile + ".spent" }
