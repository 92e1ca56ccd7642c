package fxp

import (
	"strings"
	"testing"
)

const testNetrc = `# comment line
machine 127.0.0.2 login alice password pw-a
machine 127.0.0.3
  login bob
  password pw-b   # trailing comment
macdef init
  cd /tmp
  bin

machine 127.0.0.3 login carol password pw-c account x
default login anonymous password guest@
`

func TestFxpNetrcLookup(t *testing.T) {
	n, err := ParseNetrc(testNetrc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, user, login, pass string
		ok                      bool
	}{
		{"127.0.0.2", "", "alice", "pw-a", true},
		{"127.0.0.2", "alice", "alice", "pw-a", true},
		{"127.0.0.3", "", "bob", "pw-b", true},
		{"127.0.0.3", "carol", "carol", "pw-c", true},
		{"127.0.0.9", "", "anonymous", "guest@", true},
		{"127.0.0.2", "zed", "", "", false},
	} {
		login, pass, ok := n.Lookup(tc.host, tc.user)
		if login != tc.login || pass != tc.pass || ok != tc.ok {
			t.Errorf("Lookup(%q, %q) = %q %q %v", tc.host, tc.user, login, pass, ok)
		}
	}
	var none *Netrc
	if _, _, ok := none.Lookup("h", ""); ok {
		t.Error("nil netrc matched")
	}
}

func TestFxpNetrcErrors(t *testing.T) {
	for _, text := range []string{"machine", "login alice", "machine h login", "machine h frobnicate x"} {
		if _, err := ParseNetrc(text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

func TestFxpResolveLogin(t *testing.T) {
	n, err := ParseNetrc("machine h1 login alice password netrc-pw\n")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PW": "env-pw", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		url, user, passEnv string
		wantUser, wantPass string
		wantErr            string
	}{
		{"ftp://u:url-pw@h1/f", "", "PW", "u", "url-pw", ""},      // the URL wins
		{"ftp://h1/f", "", "", "alice", "netrc-pw", ""},           // netrc
		{"ftp://h1/f", "bob", "PW", "bob", "env-pw", ""},          // flags
		{"ftp://alice@h1/f", "", "", "alice", "netrc-pw", ""},     // netrc by user
		{"ftp://h2/f", "", "", "anonymous", anonymousPass, ""},    // anonymous
		{"ftp://bob@h2/f", "", "", "", "", "no password for bob"}, // nothing
		{"ftp://h2/f", "bob", "MISSING", "", "", "MISSING is not set"},
		{"ftp://h2/f", "bob", "EMPTY", "", "", "EMPTY is not set or empty"},
	}
	for _, tc := range cases {
		e, err := ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		err = ResolveLogin(&e, LoginSource{User: tc.user, PassEnv: tc.passEnv, LookupEnv: lookup, Netrc: n})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.wantErr)
			}
			continue
		}
		if err != nil || e.User != tc.wantUser || e.Pass != tc.wantPass {
			t.Errorf("%s: %q %q %v", tc.url, e.User, e.Pass, err)
		}
		if strings.Contains(e.String(), e.Pass) {
			t.Errorf("%s: String() shows the password: %s", tc.url, e)
		}
	}
}
