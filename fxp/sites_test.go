package fxp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContribExamplesParse(t *testing.T) {
	s, err := LoadSites("../contrib/fxp/sites.toml", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "a,b" {
		t.Fatalf("sites %q", got)
	}
	jf, err := LoadJobFile("../contrib/fxp/jobs.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(jf.Jobs) != 2 || jf.Jobs[0].Mode != "mirror" || *jf.Jobs[1].Retries != 5 {
		t.Fatalf("jobs %+v", jf.Jobs)
	}
}

func TestSitesRejects(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[site.\"a b\"]\nhost = \"h\"\n", "a name is letters"},
		{"[site.ab]\nport = 21\n", "host is missing"},
		{"[site.ab]\nhost = \"h\"\ntls = \"maybe\"\n", "want off, explicit or implicit"},
		{"[site.ab]\nhost = \"h\"\npassword_env = \"X\"\nnetrc = true\n", "pick one"},
		{"[site.ab]\nhost = \"h\"\ntls = \"explicit\"\nfingerprint = \"abc\"\n", "64 hex digits"},
		{"[site.ab]\nhost = \"h\"\nfingerprint = \"" + strings.Repeat("a", 64) + "\"\n", "need tls"},
		{"[site.ab]\nhost = \"h\"\npassword = \"inline\"\n", "unknown keys: site.ab.password"},
	} {
		_, err := ParseSites("s.toml", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestPasswordFileMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("secret\nrest"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := Site{Name: "ab", Host: "h", Port: 21, User: "u", TLS: "off", PasswordFile: p}
	e, err := st.Endpoint("/x", SiteEnv{})
	if err != nil || e.Pass != "secret" || e.Path != "/x" {
		t.Fatalf("endpoint %+v, %v", e, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := st.Endpoint("/x", SiteEnv{})
		if err == nil || !strings.Contains(err.Error(), "group and others") || strings.Contains(err.Error(), "secret") {
			t.Fatalf("mode %o: %v", mode, err)
		}
	}
}

func TestSplitSiteArg(t *testing.T) {
	for _, tc := range []struct {
		in, name, path string
		ok             bool
	}{
		{"a1:/data/x.iso", "a1", "/data/x.iso", true},
		{"ftp://h/x", "", "", false},
		{"noColon", "", "", false},
		{":x", "", "", false},
	} {
		n, p, ok := SplitSiteArg(tc.in)
		if n != tc.name || p != tc.path || ok != tc.ok {
			t.Errorf("%q: %q %q %v", tc.in, n, p, ok)
		}
	}
}

func TestInsideRoot(t *testing.T) {
	for _, tc := range []struct {
		root, p string
		ok      bool
	}{
		{"dst", "dst/a", true},
		{"dst", "dst", false},
		{"dst", "dstx/a", false},
		{"dst", "dst/../x", false},
		{"", "a/b", true},
		{"", "/etc/passwd", false},
		{"/srv/m", "/srv/m/a", true},
		{"/srv/m", "/srv/mm/a", false},
	} {
		if got := insideRoot(tc.root, tc.p); got != tc.ok {
			t.Errorf("insideRoot(%q, %q) = %v", tc.root, tc.p, got)
		}
	}
}

func TestJobFileRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"", "no [[job]] tables"},
		{"[[job]]\nsrc = \"a:x\"\n", "src and dst are required"},
		{"[[job]]\nsrc = \"a:x\"\ndst = \"b:y\"\nmode = \"copy\"\ndelete = true\n", "mirror options"},
		{"[[job]]\nsrc = \"a:x\"\ndst = \"b:y\"\nbackoff = \"soon\"\n", "duration"},
		{"[[job]]\nname = \"n\"\nsrc = \"a:x\"\ndst = \"b:y\"\n[[job]]\nname = \"n\"\nsrc = \"a:x\"\ndst = \"b:y\"\n", "name used twice"},
		{"[[job]]\nsrc = \"a:x\"\ndst = \"b:y\"\nexclude = [\"[\"]\n", "glob"},
		{"[[job]]\nsrc = \"a:x\"\ndst = \"b:y\"\nretry = 3\n", "unknown keys"},
	} {
		p := filepath.Join(dir, "j.toml")
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadJobFile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestStateFileSurvivesTornLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	s, err := OpenState(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record("k1"); err != nil {
		t.Fatal(err)
	}
	s.Close(false)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`"k2-cut-sh`) // a crash mid-write
	f.Close()
	s, err = OpenState(p)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Finished("k1") || s.Finished("k2-cut-sh") {
		t.Fatal("state lost or invented an entry")
	}
	s.Close(true)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("state file not removed after a complete run")
	}
	if err := os.WriteFile(p, []byte("not ours\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(p); err == nil {
		t.Fatal("foreign file accepted as state")
	}
}
