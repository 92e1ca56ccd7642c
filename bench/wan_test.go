package main

import (
	"testing"
	"time"
)

func TestParseWAN(t *testing.T) {
	got, err := parseWAN("25ms:1gbit, 50ms:10gbit,1s:500mbit")
	if err != nil {
		t.Fatal(err)
	}
	want := []wanLink{{"25ms:1gbit", 25 * time.Millisecond, 1e9}, {"50ms:10gbit", 50 * time.Millisecond, 1e10}, {"1s:500mbit", time.Second, 5e8}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("link %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "25ms", "x:1gbit", "25ms:1gb", "25ms:-1gbit", "-5ms:1gbit", "25ms:0mbit", "1h:1gbit"} {
		if _, err := parseWAN(bad); err == nil {
			t.Errorf("parseWAN(%q): no error", bad)
		}
	}
}
