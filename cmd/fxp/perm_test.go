package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetrcReadableByOthersRefused: a netrc that holds a password and that
// group or others may read is refused, naming the file and the fix, as
// ftp(1) does; the same file at 0600, or a 0644 one without passwords, is
// used.
func TestNetrcReadableByOthersRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		mode       os.FileMode
		refused    bool
	}{
		{"password 0644", "machine 127.0.0.2 login u password secret\n", 0o644, true},
		{"password 0640", "machine 127.0.0.2 login u password secret\n", 0o640, true},
		{"password 0600", "machine 127.0.0.2 login u password secret\n", 0o600, false},
		{"no password 0644", "machine 127.0.0.2 login u\n", 0o644, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			n, err := loadNetrc(p, env{})
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "chmod 600") {
					t.Fatalf("err %v, want a refusal naming %s and chmod 600", err, p)
				}
				return
			}
			if err != nil || n == nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
