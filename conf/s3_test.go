package conf

import (
	"reflect"
	"testing"
)

func TestS3PrefixOverlaps(t *testing.T) {
	c := &Config{Users: []User{
		{Name: "a", Backend: BackendS3, Root: "team/"},
		{Name: "b", Backend: BackendS3, Root: "team/b/"},
		{Name: "c", Backend: BackendS3, Root: "teams/"},
		{Name: "d", Backend: BackendOS, Root: "team/"},
		{Name: "e", Backend: BackendS3, Root: ""},
	}}
	got := c.S3PrefixOverlaps()
	want := [][2]string{{"a", "b"}, {"a", "e"}, {"b", "e"}, {"c", "e"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overlaps = %v, want %v", got, want)
	}
}

func TestS3PrefixProblem(t *testing.T) {
	for p, ok := range map[string]bool{
		"": true, "alice/": true, "a/b/": true, ".ftpd2/": true,
		"alice": false, "/alice/": false, "a//b/": false, "a/./b/": false, "a/../b/": false,
		`a\b/`: false, ".ftpd/": false, ".ftpd/x/": false,
	} {
		if got := S3PrefixProblem(p) == ""; got != ok {
			t.Errorf("S3PrefixProblem(%q) accepted = %v, want %v", p, got, ok)
		}
	}
}
