package fxp

import (
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTempPath(t *testing.T) {
	src := Endpoint{Host: "127.0.0.2", Port: 21, User: "alice", Path: "dir/big.bin"}
	mt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := tempPath("out/big.bin", src, 100, mt)
	if !strings.HasPrefix(p, "out/.fxp-big.bin.") || !strings.HasSuffix(p, ".part") || !IsTempName(path.Base(p)) {
		t.Fatalf("tempPath = %q", p)
	}
	if again := tempPath("out/big.bin", src, 100, mt); again != p {
		t.Fatalf("not stable: %q then %q", p, again)
	}
	// Another source, or the same one changed, never continues this file.
	other := src
	other.Host = "127.0.0.3"
	for name, q := range map[string]string{
		"other host":  tempPath("out/big.bin", other, 100, mt),
		"other size":  tempPath("out/big.bin", src, 101, mt),
		"other mtime": tempPath("out/big.bin", src, 100, mt.Add(time.Second)),
		"no mtime":    tempPath("out/big.bin", src, 100, time.Time{}),
	} {
		if q == p {
			t.Errorf("%s: same temporary name %q", name, q)
		}
	}
	// A target name at NAME_MAX still gives a name that fits, cut at a
	// character boundary.
	long := strings.Repeat("é", 127) + "x" // 255 bytes
	q := path.Base(tempPath(long, src, 1, mt))
	if len(q) > maxNameLen || !utf8.ValidString(q) || !IsTempName(q) {
		t.Fatalf("long name: %d bytes, valid %v, temp %v: %q", len(q), utf8.ValidString(q), IsTempName(q), q)
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".fxp-a.bin.0123abcd.part": true,
		".fxp-.0123abcd.part":      true,
		".fxp-a.bin.0123ABCD.part": false, // fxp writes lowercase
		".fxp-a.bin.0123abc.part":  false,
		".fxp-a.bin0123abcd.part":  false,
		"fxp-a.bin.0123abcd.part":  false,
		".fxp-a.bin.0123abcd.prt":  false,
		"a.bin":                    false,
		".fxp-.part":               false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v, want %v", name, got, want)
		}
	}
}
