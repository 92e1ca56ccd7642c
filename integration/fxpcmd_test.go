package integration

// End-to-end tests of the fxp client (package fxp and the cmd/fxp binary)
// between two in-process ftpd servers on 127.0.0.2 and 127.0.0.3, with
// clients bound to 127.0.0.10.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ftpd/ftpd/fxp"
)

// --- helpers ---

// fxpEP is alice's endpoint for path on in.
func fxpEP(in *instance, path string) fxp.Endpoint {
	ap := netip.MustParseAddrPort(in.addr)
	return fxp.Endpoint{Host: ap.Addr().String(), Port: ap.Port(), User: "alice", Pass: testPass, Path: path}
}

// fxpURL is alice's URL for path on in, password included.
func fxpURL(in *instance, path string) string {
	return "ftp://alice:" + testPass + "@" + in.addr + "/" + path
}

// eventLog is a Reporter that keeps every event and may react to them.
type eventLog struct {
	mu     sync.Mutex
	events []fxp.Event
	on     func(fxp.Event)
}

func (l *eventLog) Report(e fxp.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	on := l.on
	l.mu.Unlock()
	if on != nil {
		on(e)
	}
}

func (l *eventLog) Close() {}

func (l *eventLog) all() []fxp.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]fxp.Event(nil), l.events...)
}

// fxpTestOptions are quick, bounded client options from client1.
func fxpTestOptions(rep fxp.Reporter) fxp.Options {
	return fxp.Options{
		Bind: netip.MustParseAddr(client1), Timeout: 10 * time.Second,
		PollInterval: 20 * time.Millisecond, Grace: time.Second, AbortWait: 2 * time.Second,
		Reporter: rep,
	}
}

// fxpCopyCtx runs a copy bounded by a minute.
func fxpCopyCtx(t *testing.T, opts fxp.Options, src, dst fxp.Endpoint) (fxp.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return fxp.New(opts).Copy(ctx, src, dst)
}

// checkMonotonic fails unless the progress events of each job never go
// back, and each job's last progress event equals its size.
func checkMonotonic(t *testing.T, events []fxp.Event) {
	t.Helper()
	last := map[int]int64{}
	final := map[int]int64{}
	for _, e := range events {
		switch e.Kind {
		case fxp.EventProgress:
			if e.Bytes < last[e.Job] {
				t.Fatalf("job %d: progress went back from %d to %d", e.Job, last[e.Job], e.Bytes)
			}
			last[e.Job] = e.Bytes
		case fxp.EventDone:
			final[e.Job] = e.Size
			if !e.Skipped && last[e.Job] != e.Size {
				t.Fatalf("job %d: last progress %d, size %d", e.Job, last[e.Job], e.Size)
			}
		}
	}
}

var (
	fxpBinOnce sync.Once
	fxpBinPath string
	fxpBinErr  error
)

// fxpBuild builds ./cmd/fxp once, next to the ftpd binary (TestMain
// removes that directory).
func fxpBuild(t *testing.T) string {
	t.Helper()
	ftpd := binBuild(t)
	fxpBinOnce.Do(func() {
		fxpBinPath = filepath.Join(filepath.Dir(ftpd), "fxp")
		fxpBinErr = binGoBuild(fxpBinPath, "./cmd/fxp")
	})
	if fxpBinErr != nil {
		t.Fatal(fxpBinErr)
	}
	return fxpBinPath
}

// fxpRun runs the fxp binary to completion with extra environment
// variables and returns its output and exit code.
func fxpRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path := fxpBuild(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(append(os.Environ(), "NETRC="+filepath.Join(t.TempDir(), "no-netrc")), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !(errors.As(err, &exitErr) && ctx.Err() == nil) {
		t.Fatalf("fxp %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if strings.Contains(errOut.String(), "WARNING: DATA RACE") {
		t.Errorf("fxp: data race:\n%s", errOut.String())
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// parseEvents reads JSON lines.
func parseEvents(t *testing.T, out string) []fxp.Event {
	t.Helper()
	var events []fxp.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e fxp.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON event: %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

// noPassword fails if the test password appears in s.
func noPassword(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, testPass) {
		t.Fatalf("%s shows the password:\n%s", what, s)
	}
}

// slowSource is alice's setting on A that makes copies take seconds.
const slowSource = `download_rate = "8MiB"`

// --- tests ---

func TestFXPCmdCopyOneFile(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 8<<20)
	writeFile(t, filepath.Join(a.root("alice"), "src.bin"), data)
	for _, tc := range []struct {
		passive fxp.Passive
		want    string
	}{{fxp.PassiveSrc, "source"}, {fxp.PassiveDst, "destination"}, {fxp.PassiveAuto, "destination"}} {
		t.Run("passive="+tc.passive.String(), func(t *testing.T) {
			log := &eventLog{}
			opts := fxpTestOptions(log)
			opts.Passive, opts.Verify = tc.passive, true
			dst := "copy-" + tc.passive.String() + ".bin"
			sum, err := fxpCopyCtx(t, opts, fxpEP(a, "src.bin"), fxpEP(b, dst))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Files != 1 || sum.Bytes != int64(len(data)) || sum.Passive != tc.want {
				t.Fatalf("summary %+v, want 1 file, %d bytes, PASV on %s", sum, len(data), tc.want)
			}
			if fileSHA(t, filepath.Join(b.root("alice"), dst)) != sha(data) {
				t.Fatal("destination differs")
			}
			events := log.all()
			done := events[len(events)-1]
			if done.Kind != fxp.EventDone || done.Verified != "sha256:"+sha(data) || done.Passive != tc.want {
				t.Fatalf("last event %+v", done)
			}
			if events[0].Kind != fxp.EventStart || events[0].Size != int64(len(data)) {
				t.Fatalf("first event %+v", events[0])
			}
			checkMonotonic(t, events)
		})
	}
	// A destination ending in "/" keeps the file's name.
	if _, err := fxpCopyCtx(t, fxpTestOptions(nil), fxpEP(a, "src.bin"), fxpEP(b, "")); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "src.bin")) != sha(data) {
		t.Fatal("copy into the login directory differs")
	}
}

func TestFXPCmdExplicitTLS(t *testing.T) {
	// TLS required on both control connections; the data stays clear.
	a, _ := startTLSServer(t, hostA, "explicit", true, fxpOn)
	b, _ := startTLSServer(t, hostB, "explicit", true, fxpOn)
	data := randomBytes(t, 2<<20)
	writeFile(t, filepath.Join(a.root("alice"), "tls.bin"), data)
	src, dst := fxpEP(a, "tls.bin"), fxpEP(b, "tls.bin")
	src.TLS, dst.TLS = true, true
	log := &eventLog{}
	opts := fxpTestOptions(log)
	opts.Verify = true
	// Each test server has a certificate of its own: skip verification
	// here (fxp --ca / --insecure in the command).
	opts.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test certificates
	if _, err := fxpCopyCtx(t, opts, src, dst); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "tls.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
	if e := log.all(); !strings.HasPrefix(e[0].Src, "ftps://alice:****@") {
		t.Fatalf("start event %+v", e[0])
	}
	b.logs.waitFor(t, `"msg":"login ok"`, `"tls":true`)
}

func TestFXPCmdTreeParallel(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	files := map[string][]byte{}
	for _, p := range []string{
		"tree/top1.bin", "tree/top2.bin", "tree/name with space.txt",
		"tree/d1/mid1.bin", "tree/d1/mid2.bin", "tree/d2/mid3.bin",
		"tree/d1/deep/leaf1.bin", "tree/d1/deep/leaf2.bin", "tree/d2/deep/leaf3.bin",
	} {
		files[p] = randomBytes(t, 256<<10+len(p))
		writeFile(t, filepath.Join(a.root("alice"), p), files[p])
	}
	if err := os.MkdirAll(filepath.Join(a.root("alice"), "tree/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second run finds every directory there
		log := &eventLog{}
		opts := fxpTestOptions(log)
		opts.Recursive, opts.Jobs, opts.Verify = true, 4, true
		sum, err := fxpCopyCtx(t, opts, fxpEP(a, "tree"), fxpEP(b, "copy"))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if sum.Files != len(files) || sum.Failed != 0 {
			t.Fatalf("round %d: summary %+v", round, sum)
		}
		checkMonotonic(t, log.all())
	}
	for p, data := range files {
		got := filepath.Join(b.root("alice"), "copy", strings.TrimPrefix(p, "tree/"))
		if fileSHA(t, got) != sha(data) {
			t.Fatalf("%s differs", got)
		}
	}
	if st, err := os.Stat(filepath.Join(b.root("alice"), "copy/empty")); err != nil || !st.IsDir() {
		t.Fatalf("empty directory not copied: %v", err)
	}
	// Four workers ran at once: four control connections at least from
	// 127.0.0.10 to B were logged in concurrently, each storing files
	// (into a temporary file, renamed onto the target).
	b.logs.waitFor(t, `"msg":"transfer"`, `"command":"APPE"`, `"path":"/copy/d1/deep/.fxp-leaf1.bin.`)
}

// TestFXPCmdResume: --resume does not append to a target that is merely
// shorter than the source (it is a complete file of its own, an older
// version say): the copy starts over in a temporary file. With
// --in-place, --resume continues the target itself (REST on A, APPE on
// B). Resuming a complete file moves nothing. (The temporary file of an
// interrupted copy: TestFXPResumeTempFile.)
func TestFXPCmdResume(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, slowSource, "")
	data := randomBytes(t, 12<<20)
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), data)
	dstPath := filepath.Join(b.root("alice"), "big.bin")
	partial := int64(5<<20 + 123)

	// A shorter target is not continued.
	writeFile(t, dstPath, data[:partial])
	log := &eventLog{}
	opts := fxpTestOptions(log)
	opts.Resume, opts.Verify = true, true
	sum, err := fxpCopyCtx(t, opts, fxpEP(a, "big.bin"), fxpEP(b, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, dstPath) != sha(data) {
		t.Fatal("copy differs")
	}
	if events := log.all(); events[0].Offset != 0 || sum.Bytes != int64(len(data)) {
		t.Fatalf("copy started at %d and moved %d bytes, want 0 and %d", events[0].Offset, sum.Bytes, len(data))
	}

	// --in-place --resume: the target is continued.
	writeFile(t, dstPath, data[:partial])
	log = &eventLog{}
	opts.Reporter, opts.InPlace = log, true
	if sum, err = fxpCopyCtx(t, opts, fxpEP(a, "big.bin"), fxpEP(b, "big.bin")); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, dstPath) != sha(data) {
		t.Fatal("resumed copy differs")
	}
	events := log.all()
	if events[0].Kind != fxp.EventStart || events[0].Offset < partial {
		t.Fatalf("resume started at %d, want >= %d (%+v)", events[0].Offset, partial, events[0])
	}
	if sum.Bytes != int64(len(data))-events[0].Offset {
		t.Fatalf("moved %d bytes, want %d", sum.Bytes, int64(len(data))-events[0].Offset)
	}
	checkMonotonic(t, events)
	b.logs.waitFor(t, `"msg":"transfer"`, `"command":"APPE"`, `"foreign":true`, `"path":"/big.bin"`)

	// Resuming a complete file moves nothing and still verifies.
	for _, inPlace := range []bool{true, false} {
		opts.Reporter, opts.InPlace = &eventLog{}, inPlace
		sum, err = fxpCopyCtx(t, opts, fxpEP(a, "big.bin"), fxpEP(b, "big.bin"))
		if err != nil || sum.Skipped != 1 || sum.Bytes != 0 {
			t.Fatalf("resume of a complete file (in place %v): %+v %v", inPlace, sum, err)
		}
	}
}

func TestFXPCmdVerifyCatchesCorruption(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 1<<20)
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), data)
	src, dst := fxpURL(a, "f.bin"), fxpURL(b, "f.bin")
	if out, errOut, code := fxpRun(t, nil, "copy", "--verify", "--bind", client1, src, dst); code != 0 {
		t.Fatalf("copy: exit %d\n%s\n%s", code, out, errOut)
	}
	// Same size, one byte different: only a digest can tell.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	writeFile(t, filepath.Join(b.root("alice"), "f.bin"), bad)
	out, errOut, code := fxpRun(t, nil, "copy", "--resume", "--verify", "--bind", client1, src, dst)
	if code != 1 {
		t.Fatalf("verify of a corrupted copy: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "sha256 differs: source "+sha(data)+", destination "+sha(bad)) {
		t.Fatalf("stderr does not name the mismatch:\n%s", errOut)
	}
	noPassword(t, "stdout", out)
	noPassword(t, "stderr", errOut)

	// The same through the package: a *VerifyError.
	opts := fxpTestOptions(nil)
	opts.Resume, opts.Verify = true, true
	_, err := fxpCopyCtx(t, opts, fxpEP(a, "f.bin"), fxpEP(b, "f.bin"))
	var ve *fxp.VerifyError
	if !errors.As(err, &ve) || ve.Method != "sha256" {
		t.Fatalf("want a sha256 VerifyError, got %v", err)
	}
}

func TestFXPCmdDestinationFXPDisabled(t *testing.T) {
	a, b := fxpPair(t, fxpOn, "", "", "")
	writeFile(t, filepath.Join(a.root("alice"), "f.bin"), randomBytes(t, 256<<10))
	start := time.Now()
	out, errOut, code := fxpRun(t, nil, "copy", "--bind", client1, fxpURL(a, "f.bin"), fxpURL(b, "f.bin"))
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	t.Logf("stderr:\n%s", errOut)
	for _, want := range []string{
		// PASV on B, PORT on A: B's data plane refuses A's connection,
		// which comes from A's own address.
		"PASV on destination (127.0.0.3:",
		"foreign data address 127.0.0.2 refused: FXP is disabled on this server",
		// PASV on A, PORT on B: B refuses the PORT, reply verbatim.
		"PASV on source (127.0.0.2:",
		"server replied 501 PORT refused: foreign data address 127.0.0.2 refused: FXP is disabled on this server",
		"likely cause: destination refused PORT to 127.0.0.2: foreign addresses are disabled there — ftpd: [fxp] enabled; ProFTPD: AllowForeignAddress on; Pure-FTPd: -w; vsftpd: pasv_promiscuous/port_promiscuous",
		"ftp://alice:****@" + a.addr + "/f.bin",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("stderr:\n%s", errOut)
	}
	noPassword(t, "stdout", out)
	noPassword(t, "stderr", errOut)
	if _, err := os.Stat(filepath.Join(b.root("alice"), "f.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused copy left a file: %v", err)
	}
	// Only a hang would take this long: the refusal is a few commands on
	// loopback (well under 1 s idle), so 60 s is no speed bound.
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("the refusal took %v", d)
	}
}

func TestFXPCmdJSONProgress(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, slowSource, "")
	data := randomBytes(t, 16<<20)
	writeFile(t, filepath.Join(a.root("alice"), "p.bin"), data)
	out, errOut, code := fxpRun(t, nil, "copy", "--json", "--poll", "50ms", "--bind", client1, fxpURL(a, "p.bin"), fxpURL(b, "p.bin"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "stdout", out)
	events := parseEvents(t, out)
	if len(events) < 2 || events[0].Kind != fxp.EventStart || events[len(events)-1].Kind != fxp.EventDone {
		t.Fatalf("events: %+v", events)
	}
	var progress []fxp.Event
	for _, e := range events {
		if e.Kind == fxp.EventProgress {
			progress = append(progress, e)
		}
	}
	// download_rate (8 MiB/s) makes the 16 MiB copy last 2 s or more
	// whatever the load; 5 events need one poll (every 50 ms) to come
	// back every 400 ms, an 8x margin, and load only lengthens the copy.
	if len(progress) < 5 {
		t.Fatalf("only %d progress events in a 2s copy", len(progress))
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Bytes <= progress[i-1].Bytes {
			t.Fatalf("progress not increasing: %d then %d", progress[i-1].Bytes, progress[i].Bytes)
		}
	}
	last := progress[len(progress)-1]
	if last.Bytes != int64(len(data)) || last.Size != int64(len(data)) {
		t.Fatalf("last progress %+v, want %d bytes", last, len(data))
	}
	if last.Progress != "SITE XFERS and SIZE on destination" {
		t.Fatalf("progress came from %q, want ftpd's SITE XFERS", last.Progress)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "p.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
}

func TestFXPCmdSIGINT(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, slowSource, "")
	data := randomBytes(t, 32<<20)
	writeFile(t, filepath.Join(a.root("alice"), "s.bin"), data)

	p := fxpStart(t, "copy", "--json", "--poll", "50ms", "--bind", client1, fxpURL(a, "s.bin"), fxpURL(b, "s.bin"))
	p.waitMatch(p.stdout, regexp.MustCompile(`"event":"progress".*"bytes":[1-9]`))
	p.signal(syscall.SIGINT)
	if code := p.waitExit(30 * time.Second); code != 1 {
		t.Fatalf("exit %d after SIGINT, want 1\n%s", code, p.stderr.String())
	}
	// No clock on the stop: a copy that ignored SIGINT would finish (exit
	// 0) and fail the exit-code check; the 30 s only stops a hang.
	if !strings.Contains(p.stderr.String(), "interrupted") || !regexp.MustCompile(`the bytes so far are in \.fxp-s\.bin\.[0-9a-f]{8}\.part: fxp copy --resume continues it`).MatchString(p.stderr.String()) {
		t.Fatalf("stderr: %s", p.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(b.root("alice"), "s.bin")); !os.IsNotExist(err) {
		t.Fatalf("the interrupted copy created the target: %v", err)
	}
	// Both servers still serve: a new copy succeeds, and resumes.
	log := &eventLog{}
	opts := fxpTestOptions(log)
	opts.Resume, opts.Verify = true, true
	if _, err := fxpCopyCtx(t, opts, fxpEP(a, "s.bin"), fxpEP(b, "s.bin")); err != nil {
		t.Fatalf("copy after SIGINT: %v", err)
	}
	if e := log.all()[0]; e.Kind != fxp.EventStart || e.Offset == 0 {
		t.Fatalf("copy after SIGINT started at %d, want a resume (%+v)", e.Offset, e)
	}
	if fileSHA(t, filepath.Join(b.root("alice"), "s.bin")) != sha(data) {
		t.Fatal("copy after SIGINT differs")
	}
}

func TestFXPCmdCredentials(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	data := randomBytes(t, 64<<10)
	writeFile(t, filepath.Join(a.root("alice"), "c.bin"), data)
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine 127.0.0.2 login alice password "+testPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Source from netrc, destination from --dst-user and an environment variable.
	out, errOut, code := fxpRun(t, []string{"FXP_DST_PW=" + testPass},
		"copy", "--netrc", netrc, "--dst-user", "alice", "--dst-pass-env", "FXP_DST_PW", "--bind", client1,
		"ftp://"+a.addr+"/c.bin", "ftp://"+b.addr+"/c.bin")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	noPassword(t, "stdout", out)
	if fileSHA(t, filepath.Join(b.root("alice"), "c.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
	// A wrong password: 530 verbatim, exit 1, the password masked.
	out, errOut, code = fxpRun(t, nil, "copy", "--bind", client1,
		"ftp://alice:wrong-secret@"+a.addr+"/c.bin", fxpURL(b, "c.bin"))
	if code != 1 || !strings.Contains(errOut, "530") || strings.Contains(out+errOut, "wrong-secret") {
		t.Fatalf("wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
	// A missing variable is a usage error.
	_, errOut, code = fxpRun(t, nil, "copy", "--src-user", "alice", "--src-pass-env", "FXP_NOT_SET_ANYWHERE",
		"ftp://"+a.addr+"/c.bin", fxpURL(b, "c.bin"))
	if code != 2 || !strings.Contains(errOut, "FXP_NOT_SET_ANYWHERE is not set") {
		t.Fatalf("missing variable: exit %d\n%s", code, errOut)
	}
}

func TestFXPCmdUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"copy", "ftp://127.0.0.2/a"},
		{"copy", "--passive", "sideways", "ftp://127.0.0.2/a", "ftp://127.0.0.3/b"},
		{"copy", "-j", "0", "ftp://127.0.0.2/a", "ftp://127.0.0.3/b"},
		{"copy", "http://127.0.0.2/a", "ftp://127.0.0.3/b"},
		{"copy", "ftp://u:hunter2-secret@127.0.0.2:99999/a", "ftp://127.0.0.3/b"},
	} {
		out, errOut, code := fxpRun(t, nil, args...)
		if code != 2 {
			t.Errorf("fxp %q: exit %d, want 2\n%s", args, code, errOut)
		}
		if strings.Contains(out+errOut, "hunter2-secret") {
			t.Errorf("fxp %q printed the password:\n%s", args, errOut)
		}
	}
	if out, _, code := fxpRun(t, nil, "help"); code != 0 || !strings.Contains(out, "usage: fxp copy") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}

// fxpStart starts the fxp binary; it is killed, if still running, when
// the test ends.
func fxpStart(t *testing.T, args ...string) *binProc {
	t.Helper()
	return binStartPath(t, fxpBuild(t), "", args...)
}
