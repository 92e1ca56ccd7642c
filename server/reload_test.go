package server

import (
	"slices"
	"testing"

	"github.com/ftpd/ftpd/conf"
)

// TestRestartOnlyS3: a reload cannot rebuild the S3 store, so any [s3]
// change is reported as needing a restart (and the running one is kept).
func TestRestartOnlyS3(t *testing.T) {
	old := &conf.Config{S3: conf.S3{Bucket: "ftp", PartSize: 16 << 20, UploadMemory: 512 << 20}}
	for _, edit := range []func(*conf.S3){
		func(s *conf.S3) { s.Bucket = "other" },
		func(s *conf.S3) { s.UploadMemory = 256 << 20 },
		func(s *conf.S3) { s.UploadMemoryPerClient = 32 << 20 },
		func(s *conf.S3) { s.Endpoint = "http://127.0.0.1:7070" },
	} {
		next := *old
		edit(&next.S3)
		if keys := restartOnlyChanges(old, &next); !slices.Contains(keys, "s3") {
			t.Errorf("[s3] %+v -> %+v: restart-only keys %v lack s3", old.S3, next.S3, keys)
		}
	}
	same := *old
	if keys := restartOnlyChanges(old, &same); len(keys) != 0 {
		t.Errorf("no change reported %v", keys)
	}
}

// TestReloadWarnsNewS3Overlaps: a reload names the S3 users whose prefixes
// overlap now and did not before (was: only the start warned).
func TestReloadWarnsNewS3Overlaps(t *testing.T) {
	s3user := func(name, root string) conf.User { return conf.User{Name: name, Backend: conf.BackendS3, Root: root} }
	old := &conf.Config{Users: []conf.User{s3user("a", "a/"), s3user("b", "b/"), s3user("c", "shared/"), s3user("d", "shared/x/")}}
	next := &conf.Config{Users: append(slices.Clone(old.Users), s3user("e", "a/sub/"))}
	got := newS3Overlaps(old, next)
	if len(got) != 1 || got[0] != [2]string{"a", "e"} {
		t.Fatalf("new overlaps %v, want only a/e (c/d overlapped before)", got)
	}
	if got := newS3Overlaps(next, next); len(got) != 0 {
		t.Fatalf("unchanged config: %v", got)
	}
}
