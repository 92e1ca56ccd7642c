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
