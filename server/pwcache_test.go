package server

import (
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

func TestVerifiedPasswords(t *testing.T) {
	h1, _ := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	h2, _ := bcrypt.GenerateFromPassword([]byte("other"), bcrypt.MinCost)
	v := newVerifiedPasswords(nil)
	sec := newSecret(conf.User{Name: "alice", PasswordHash: string(h1)})
	if v.check("alice", sec, "wrong") {
		t.Fatal("wrong password accepted")
	}
	if len(v.ok) != 0 {
		t.Fatal("a failure was cached")
	}
	if !v.check("alice", sec, "right") || len(v.ok) != 1 {
		t.Fatal("right password refused or not cached")
	}
	if !v.check("alice", sec, "right") {
		t.Fatal("cached password refused")
	}
	if v.check("alice", sec, "wrong") || v.check("alice", sec, "righ") {
		t.Fatal("cache accepted another password")
	}
	// A new hash (password changed by a reload) invalidates the entry.
	sec2 := newSecret(conf.User{Name: "alice", PasswordHash: string(h2)})
	if v.check("alice", sec2, "right") {
		t.Fatal("old password accepted after the hash changed")
	}
	if !v.check("alice", sec2, "other") {
		t.Fatal("new password refused")
	}
	// The entry is per user.
	if v.check("bob", sec2, "right") {
		t.Fatal("alice's cache leaked to bob")
	}
}

func BenchmarkLoginCheck(b *testing.B) {
	h, _ := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.DefaultCost)
	sec := newSecret(conf.User{Name: "alice", PasswordHash: string(h)})
	b.Run("bcrypt-cost10", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !sec.check(bcrypt.CompareHashAndPassword, "right") {
				b.Fatal("refused")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		v := newVerifiedPasswords(nil)
		v.check("alice", sec, "right")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !v.check("alice", sec, "right") {
				b.Fatal("refused")
			}
		}
	})
}
