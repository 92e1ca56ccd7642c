package server

import "testing"

func TestSessionSlots(t *testing.T) {
	s := &Server{userSlots: map[string]int{}}
	results := make(chan bool, 50)
	for i := 0; i < 50; i++ {
		go func() { results <- s.takeSessionSlot("alice", 3) }()
	}
	granted := 0
	for i := 0; i < 50; i++ {
		if <-results {
			granted++
		}
	}
	if granted != 3 {
		t.Fatalf("granted %d slots, want 3", granted)
	}
	s.releaseSessionSlot("alice")
	if !s.takeSessionSlot("alice", 3) || s.takeSessionSlot("alice", 3) {
		t.Fatal("a released slot is not reusable exactly once")
	}
	if !s.takeSessionSlot("bob", 0) {
		t.Fatal("no cap refused")
	}
}
