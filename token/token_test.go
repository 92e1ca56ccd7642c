package token

import (
	"context"
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
	// Change the secret's last character to one it is not (replacing it with
	// a fixed "A" changed nothing when it already was "A": 1 run in 64).
	last := "A"
	if strings.HasSuffix(secret, "A") {
		last = "B"
	}
	if _, err := Verify(key, login, secret[:len(secret)-1]+last); !errors.Is(err, ErrBadToken) {
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

// spend is Spend with c's id, uses and expiry.
func spend(t *testing.T, s *FileSpent, c Claims) bool {
	t.Helper()
	ok, err := s.Spend(context.Background(), c.ID, c.Uses, time.Unix(c.Expires, 0))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestSpentSurvivesReopen(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	file := filepath.Join(t.TempDir(), "key.spent")
	s, err := OpenFileSpent(file, clock)
	if err != nil {
		t.Fatal(err)
	}
	c := testClaims(now)
	c.Uses = 2
	old := testClaims(now)
	old.Expires = now.Add(time.Minute).Unix()
	for _, cl := range []Claims{c, c, old} {
		if !spend(t, s, cl) {
			t.Fatal("refused")
		}
	}
	if spend(t, s, c) {
		t.Fatal("third use of a 2-use token granted")
	}
	s.Close()
	now = now.Add(2 * time.Minute) // a restart, after old expired
	s, err = OpenFileSpent(file, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if spend(t, s, c) {
		t.Fatal("spent token revived by a restart")
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), old.ID) {
		t.Fatal("expired token not compacted away")
	}
	if s.Len() != 1 {
		t.Fatalf("%d entries in memory, want 1", s.Len())
	}
}

// The file and the memory stay bounded while tokens come and expire:
// compaction at CompactLines lines drops the expired ones, a live token
// keeps its count through compactions, and a torn line is never glued to
// the next.
func TestSpentCompacts(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	file := filepath.Join(t.TempDir(), "key.spent")
	s, err := OpenFileSpent(file, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live := testClaims(now)
	live.Expires = now.Add(72 * time.Hour).Unix() // past the loop's 2000 minutes
	live.Uses = 2
	if !spend(t, s, live) {
		t.Fatal("refused")
	}
	for i := range 1000 {
		c := testClaims(now)
		c.Expires = now.Add(time.Minute).Unix()
		if !spend(t, s, c) {
			t.Fatal("refused")
		}
		now = now.Add(2 * time.Minute)
		data, _ := os.ReadFile(file)
		if n := strings.Count(string(data), "\n"); n > CompactLines {
			t.Fatalf("after %d spends: %d lines", i+1, n)
		}
		if s.Len() > CompactLines {
			t.Fatalf("after %d spends: %d entries in memory", i+1, s.Len())
		}
	}
	if !spend(t, s, live) || spend(t, s, live) {
		t.Fatal("a live token's count was lost by compaction")
	}
	// A torn last line (a crash mid-append) is skipped on reading.
	s.Close()
	f, _ := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("deadbeef")
	f.Close()
	s, err = OpenFileSpent(file, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if spend(t, s, live) {
		t.Fatal("spent token revived by a torn line")
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
