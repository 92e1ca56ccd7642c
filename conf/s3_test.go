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

func TestS3ClientShareDefault(t *testing.T) {
	for _, c := range []struct {
		part, memory, share, want int64
	}{
		{16 << 20, 512 << 20, 0, 128 << 20}, // a quarter
		{16 << 20, 32 << 20, 0, 16 << 20},   // at least one part
		{16 << 20, 512 << 20, 512 << 20, 512 << 20},
		{16 << 20, 512 << 20, 40 << 20, 40 << 20},
	} {
		s := S3{PartSize: Size(c.part), UploadMemory: Size(c.memory), UploadMemoryPerClient: Size(c.share)}
		if got := s.ClientShare(); got != c.want {
			t.Errorf("part %d, memory %d, per client %d: share %d, want %d", c.part, c.memory, c.share, got, c.want)
		}
	}
}
