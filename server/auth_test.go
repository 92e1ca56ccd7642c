package server

import (
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

// TestLoginCostSameWork: whatever a refusal's own check paid (nothing, or
// a user's hash at any configured cost), the padding brings its bcrypt
// work to exactly one check at each configured cost; a reload keeps the
// dummy hashes of costs it still has.
func TestLoginCostSameWork(t *testing.T) {
	var users []conf.User
	for _, c := range []int{6, 4, 6, 5} {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), c)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, conf.User{Name: "u", PasswordHash: string(h)})
	}
	users = append(users, conf.User{Name: "plain", Password: "pw"})
	var got []int
	compare := func(hash, password []byte) error {
		c, _ := bcrypt.Cost(hash)
		got = append(got, c)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	lc, err := newLoginCost(&conf.Config{Users: users}, nil, compare)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{4, 5, 6}
	for _, paid := range []int{0, 4, 5, 6} {
		got = nil
		if paid != 0 {
			got = append(got, paid) // the user's own check
		}
		lc.padAfter(paid, "wrong")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("after a check at cost %d: checks at %v, want %v", paid, got, want)
		}
	}
	got = nil
	lc.pay("wrong")
	if !slices.Equal(got, want) {
		t.Errorf("pay: checks at %v, want %v", got, want)
	}
	// A reload without the cost-5 hash keeps the other dummies.
	lc2, err := newLoginCost(&conf.Config{Users: []conf.User{users[0], users[1]}}, lc, compare)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lc2.levels, []int{4, 6}) || &lc2.dummies[0][0] != &lc.dummies[0][0] || &lc2.dummies[1][0] != &lc.dummies[2][0] {
		t.Errorf("reload: levels %v, dummies not reused", lc2.levels)
	}
	// No hash configured: bcrypt's default cost.
	lc3, err := newLoginCost(&conf.Config{Users: users[4:]}, nil, compare)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lc3.levels, []int{bcrypt.DefaultCost}) {
		t.Errorf("no hash: levels %v", lc3.levels)
	}
}
