package conf

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// A value that parses must print as text that parses to the same value.

func FuzzSize(f *testing.F) {
	for _, s := range []string{"", "0", "1048576", "100MiB", "1.5 MB", "8388607TiB", "1.1KiB", "-1", "9223372036854775808", "1e6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s Size
		if err := s.UnmarshalText([]byte(in)); err != nil {
			return
		}
		if s < 0 {
			t.Fatalf("Size(%q) = %d, negative", in, s)
		}
		var back Size
		if err := back.UnmarshalText([]byte(s.String())); err != nil || back != s {
			t.Fatalf("Size(%q) = %d prints as %q, which parses to %d, %v", in, s, s.String(), back, err)
		}
	})
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"5m", "1h30m", "0", "-1s", "1.5h", "2562047h47m16.854775807s", "300ms", "1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil {
			return
		}
		if d.Duration < 0 {
			t.Fatalf("Duration(%q) = %v, negative", in, d)
		}
		text, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("Duration(%q) = %v prints as %q, which parses to %v, %v", in, d.Duration, text, back.Duration, err)
		}
	})
}

func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "127.0.0.2", "::1", "::ffff:10.0.0.0/104", "10.1.2.3/8", "fe80::1%eth0", "", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var p Prefix
		if err := p.UnmarshalText([]byte(in)); err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p.Prefix || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("Prefix(%q) = %v: invalid, unmasked, mapped or zoned", in, p)
		}
		var back Prefix
		if err := back.UnmarshalText([]byte(p.String())); err != nil || back != p {
			t.Fatalf("Prefix(%q) = %v, which parses to %v, %v", in, p, back, err)
		}
	})
}

func FuzzPortRange(f *testing.F) {
	for _, s := range []string{"", "40000-40100", "40000", "1-65535", "0", "2-1", "65536", " 5 - 6 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var r PortRange
		if err := r.UnmarshalText([]byte(in)); err != nil {
			return
		}
		if r.IsZero() != (strings.TrimSpace(in) == "") || !r.IsZero() && (r.Start == 0 || r.Start > r.End) {
			t.Fatalf("PortRange(%q) = %+v", in, r)
		}
		var back PortRange
		if err := back.UnmarshalText([]byte(r.String())); err != nil || back != r {
			t.Fatalf("PortRange(%q) = %+v prints as %q, which parses to %+v, %v", in, r, r.String(), back, err)
		}
	})
}

// FuzzPositions checks the line scanner against the TOML parser: every
// key the parser sees gets a line, on a line that holds its name.
func FuzzPositions(f *testing.F) {
	full, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(full), base, "a.b.c = 1\n[x.y]\nz = [{q = 1}, {q = 2}]\n",
		"s = '''\n[x]\n'''\n[[t]]\n[t.u]\nv = 1979-05-27 07:32:00Z\n",
		"\"k\\u0041\" = \"\"\"a\\\"\"\"\"\"\"\narr = [ [1,\n2], \"]\" ]\n",
	} {
		f.Add(s)
	}
	index := regexp.MustCompile(`\[[0-9]+\]`)
	f.Fuzz(func(t *testing.T, doc string) {
		var tree map[string]any
		md, err := toml.Decode(doc, &tree)
		pos := scanPositions(doc) // must not panic on any input
		if err != nil {
			return
		}
		lines := strings.Split(doc, "\n")
		unindexed := map[string]bool{}
		for k, n := range pos {
			if n < 1 || n > len(lines) {
				t.Fatalf("key %s at line %d of %d", k, n, len(lines))
			}
			unindexed[index.ReplaceAllString(k, "")] = true
		}
		for _, key := range md.Keys() {
			k := ""
			for _, seg := range key {
				k = joinKey(k, seg)
			}
			if !unindexed[index.ReplaceAllString(k, "")] {
				t.Fatalf("parser key %s has no position; scanner found %v", k, pos)
			}
			// Keys under no array, spelled as is in the file, are on
			// a line that holds their last part.
			last := key[len(key)-1]
			if n, ok := pos[k]; ok && strings.Contains(doc, last) && !strings.Contains(lines[n-1], last) {
				t.Fatalf("key %s placed at line %d: %q", k, n, lines[n-1])
			}
		}
	})
}

// Parse must not panic, and must either return a config that validates
// or errors that all carry a line.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(full))
	f.Add(base)
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := Parse("f.toml", []byte(doc))
		if err != nil {
			checkErrors(t, err)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
	})
}
