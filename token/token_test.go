package token

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testClaims(now time.Time) Claims {
	return Claims{User: "mirror", Path: "/releases/x.iso", Dir: Send, Expires: now.Add(time.Hour).Unix(), Uses: 1, ID: NewID()}
}

func TestMintVerify(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Unix(1_700_000_000, 0)
	c := testClaims(now)
	login, secret, err := Mint(key, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(login, "mirror.t.") || !LooksLike(login) {
		t.Fatalf("login %q", login)
	}
	got, err := Verify(key, login, secret)
	if err != nil || got != c {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// Wrong secret, other key, tampered claims, other user: all refused.
	other := []byte(strings.Repeat("o", 32))
	if _, err := Verify(other, login, secret); !errors.Is(err, ErrBadToken) {
		t.Fatal("other key accepted")
	}
	if _, err := Verify(key, login, secret[:len(secret)-1]+"A"); !errors.Is(err, ErrBadToken) {
		t.Fatal("bad secret accepted")
	}
	wide := c
	wide.Path = "/"
	wideLogin, _, _ := Mint(other, wide)
	if _, err := Verify(key, wideLogin, secret); !errors.Is(err, ErrBadToken) {
		t.Fatal("tampered claims accepted")
	}
	if _, err := Verify(key, "root"+login[len("mirror"):], secret); !errors.Is(err, ErrBadToken) {
		t.Fatal("other user accepted")
	}
}

func TestClaimsCheckAndScope(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := testClaims(now)
	c.Client = "10.0.0.0/8"
	var r *Refused
	if err := c.Check(now, netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(now, netip.MustParseAddr("11.1.2.3")); !errors.As(err, &r) || r.Reason != ReasonScope {
		t.Fatalf("outside client: %v", err)
	}
	if err := c.Check(now.Add(time.Hour), netip.MustParseAddr("10.1.2.3")); !errors.As(err, &r) || r.Reason != ReasonExpired {
		t.Fatalf("expired: %v", err)
	}
	for p, want := range map[string]bool{"/releases/x.iso": true, "/releases/x.iso2": false, "/releases": false, "/releases/../releases/x.iso": true} {
		if c.Covers(p) != want {
			t.Errorf("file scope covers %q = %v", p, !want)
		}
	}
	c.Path = "/releases/"
	for p, want := range map[string]bool{"/releases/x": true, "/releases": true, "/releases2/x": false, "/releases/a/b": true, "/": false} {
		if c.Covers(p) != want {
			t.Errorf("subtree covers %q = %v", p, !want)
		}
	}
}

func TestSpentSurvivesReopen(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	file := filepath.Join(t.TempDir(), "key.spent")
	s, err := OpenSpent(file, now)
	if err != nil {
		t.Fatal(err)
	}
	c := testClaims(now)
	c.Uses = 2
	old := testClaims(now)
	old.Expires = now.Add(time.Minute).Unix()
	for _, cl := range []Claims{c, c, old} {
		if err := s.Use(cl); err != nil {
			t.Fatal(err)
		}
	}
	var r *Refused
	if err := s.Use(c); !errors.As(err, &r) || r.Reason != ReasonSpent {
		t.Fatalf("third use of a 2-use token: %v", err)
	}
	s.Close()
	s, err = OpenSpent(file, now.Add(2*time.Minute)) // a restart, after old expired
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Use(c); !errors.As(err, &r) || r.Reason != ReasonSpent {
		t.Fatalf("spent token revived by a restart: %v", err)
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), old.ID) {
		t.Fatal("expired token not compacted away")
	}
}

func TestLoadKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "key")
	k1, err := LoadKey(file, true)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %v", err)
	}
	k2, err := LoadKey(file, true)
	if err != nil || string(k1) != string(k2) {
		t.Fatal("key changed on the second load")
	}
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(file, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key: %v", err)
	}
}
