package conf

import (
	"net/url"
	"strings"
)

// S3Reserved is ftpd's own area in the bucket (probe objects, shared
// state): no user's prefix may reach it.
const S3Reserved = ".ftpd/"

// Limits of [s3]: S3 parts are 5 MiB to 5 GiB.
const (
	MinS3PartSize = 5 << 20
	MaxS3PartSize = 5 << 30
)

// S3PrefixProblem says why p cannot be an S3 user's root ("" if it can):
// "" (the whole bucket but .ftpd/) or a key prefix ending in "/" with no
// empty, "." or ".." component, no backslash, not starting with "/", and
// not reaching .ftpd/.
func S3PrefixProblem(p string) string {
	if p == "" {
		return ""
	}
	switch {
	case !strings.HasSuffix(p, "/"):
		return `must end with "/" (a key prefix, e.g. "alice/")`
	case strings.HasPrefix(p, "/"):
		return `must not start with "/"`
	case strings.Contains(p, `\`):
		return "must not contain a backslash"
	}
	for _, part := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if part == "" || part == "." || part == ".." {
			return `must not contain empty, "." or ".." components`
		}
	}
	if strings.HasPrefix(p, S3Reserved) {
		return "must not reach .ftpd/, ftpd's own area in the bucket"
	}
	return ""
}

// S3PrefixOverlaps returns pairs of S3 users whose prefixes overlap (one
// contains the other), for a warning: sharing files may be intended.
func (c *Config) S3PrefixOverlaps() [][2]string {
	var out [][2]string
	for i := range c.Users {
		a := &c.Users[i]
		if a.Backend != BackendS3 {
			continue
		}
		for j := i + 1; j < len(c.Users); j++ {
			b := &c.Users[j]
			if b.Backend == BackendS3 && (strings.HasPrefix(a.Root, b.Root) || strings.HasPrefix(b.Root, a.Root)) {
				out = append(out, [2]string{a.Name, b.Name})
			}
		}
	}
	return out
}

// UsesS3 reports whether any user has backend = "s3".
func (c *Config) UsesS3() bool {
	for i := range c.Users {
		if c.Users[i].Backend == BackendS3 {
			return true
		}
	}
	return false
}

func (c *Config) validateS3(v *validator) {
	s := &c.S3
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("s3.endpoint", "%q: want an http:// or https:// URL, or \"\" for AWS", s.Endpoint)
		}
	}
	if s.PartSize < MinS3PartSize || s.PartSize > MaxS3PartSize {
		v.errorf("s3.part_size", "must be between 5MiB and 5GiB (S3's part limits), got %d", int64(s.PartSize))
	}
	if s.UploadMemory < s.PartSize {
		v.errorf("s3.upload_memory", "must hold at least one part (part_size %d), got %d", int64(s.PartSize), int64(s.UploadMemory))
	}
	if s.UploadMemoryPerClient != 0 && (s.UploadMemoryPerClient < s.PartSize || s.UploadMemoryPerClient > s.UploadMemory) {
		v.errorf("s3.upload_memory_per_client", "must be between part_size (%d) and upload_memory (%d), got %d", int64(s.PartSize), int64(s.UploadMemory), int64(s.UploadMemoryPerClient))
	}
	for i := range c.Users {
		if c.Users[i].Backend != BackendS3 {
			continue
		}
		// Reported at the first S3 user, whose line the reader can find.
		key := indexKey("users", i) + ".backend"
		if s.Bucket == "" {
			v.errorf(key, `backend = "s3" needs [s3] bucket`)
		}
		if s.Region == "" {
			v.errorf(key, `backend = "s3" needs [s3] region`)
		}
		return
	}
}
