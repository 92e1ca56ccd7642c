package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEnv(vars map[string]string, home string) (env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return env{
		stdout: &out, stderr: &errOut,
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		home:      func() (string, error) { return home, nil },
		now:       time.Now,
	}, &out, &errOut
}

func TestFxpCmdUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"move", "a", "b"},
		{"copy"},
		{"copy", "ftp://h/a"},
		{"copy", "ftp://h/a", "ftp://h/b", "ftp://h/c"},
		{"copy", "--nope", "ftp://h/a", "ftp://h/b"},
		{"copy", "--passive", "up", "ftp://h/a", "ftp://h/b"},
		{"copy", "-j", "-1", "ftp://h/a", "ftp://h/b"},
		{"copy", "--bind", "localhost", "ftp://h/a", "ftp://h/b"},
		{"copy", "--timeout", "0s", "ftp://h/a", "ftp://h/b"},
		{"copy", "--ca", "/nonexistent/ca.pem", "ftp://h/a", "ftp://h/b"},
		{"copy", "sftp://u:topsecret@h/a", "ftp://h/b"},
		{"copy", "ftp://u:topsecret@h:0/a", "ftp://h/b"},
		{"copy", "--src-pass-env", "UNSET", "ftp://u@h/a", "ftp://h/b"},
		{"copy", "ftp://u@h/a", "ftp://h/b"}, // no password anywhere
	} {
		e, out, errOut := testEnv(nil, t.TempDir())
		if code := run(context.Background(), args, e); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
		if strings.Contains(out.String()+errOut.String(), "topsecret") {
			t.Errorf("%q: password printed:\n%s", args, errOut)
		}
	}
}

func TestFxpCmdHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}} {
		e, out, _ := testEnv(nil, t.TempDir())
		if code := run(context.Background(), args, e); code != exitOK || !strings.Contains(out.String(), "-passive string") {
			t.Fatalf("%q: exit %d\n%s", args, code, out)
		}
	}
	e, _, errOut := testEnv(nil, t.TempDir())
	if code := run(context.Background(), []string{"copy", "-h"}, e); code != exitOK || !strings.Contains(errOut.String(), "usage: fxp copy") {
		t.Fatalf("copy -h: exit %d\n%s", code, errOut)
	}
}

func TestFxpCmdInterleavedFlags(t *testing.T) {
	var f copyFlags
	fs := newCopyFlags(&bytes.Buffer{}, &f)
	pos, err := parseInterleaved(fs, []string{"--verify", "ftp://h/a", "-j", "3", "ftp://h/b", "--resume"})
	if err != nil || len(pos) != 2 || !f.verify || !f.resume || f.jobs != 3 {
		t.Fatalf("%q %+v %v", pos, f, err)
	}
	fs = newCopyFlags(&bytes.Buffer{}, &f)
	if _, err := parseInterleaved(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestFxpCmdNetrc(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".netrc"), "machine h login home-user password home-pw\n")
	flagFile := filepath.Join(dir, "flag-netrc")
	write(flagFile, "machine h login flag-user password flag-pw\n")
	envFile := filepath.Join(dir, "env-netrc")
	write(envFile, "machine h login env-user password env-pw\n")

	for _, tc := range []struct {
		name     string
		flagPath string
		vars     map[string]string
		user     string
		err      string
	}{
		{"home", "", nil, "home-user", ""},
		{"$NETRC", "", map[string]string{"NETRC": envFile}, "env-user", ""},
		{"--netrc wins", flagFile, map[string]string{"NETRC": envFile}, "flag-user", ""},
		{"missing explicit", filepath.Join(dir, "nope"), nil, "", "netrc:"},
	} {
		e, _, _ := testEnv(tc.vars, home)
		f := &copyFlags{netrc: tc.flagPath}
		src, _, err := endpoints("ftp://h/a", "ftp://h/b", f, e)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v", tc.name, err)
			}
			continue
		}
		if err != nil || src.User != tc.user {
			t.Errorf("%s: user %q, err %v", tc.name, src.User, err)
		}
	}
	// No ~/.netrc at all: anonymous.
	e, _, _ := testEnv(nil, filepath.Join(dir, "empty-home"))
	src, _, err := endpoints("ftp://h/a", "ftp://h/b", &copyFlags{}, e)
	if err != nil || src.User != "anonymous" {
		t.Fatalf("no netrc: %q %v", src.User, err)
	}
}

func TestFxpCmdConnectFailureExits1(t *testing.T) {
	// Nothing listens on port 1 of 127.0.0.2: a runtime failure, not a
	// usage error.
	e, _, errOut := testEnv(nil, t.TempDir())
	code := run(context.Background(), []string{"copy", "--timeout", "2s", "ftp://u:pw@127.0.0.2:1/a", "ftp://u:pw@127.0.0.3:1/b"}, e)
	if code != exitFail || !strings.Contains(errOut.String(), "source ftp://u:****@127.0.0.2:1/a: connect to 127.0.0.2:1") || strings.Contains(errOut.String(), ":pw@") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}
