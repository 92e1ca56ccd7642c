package integration

// An interrupted fxp copy leaves its bytes in a temporary file beside the
// target, which --resume continues; the target is replaced only by the
// complete, checked copy.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/fxp"
)

// fxpTemps lists the temporary files of fxp copies in dir (names
// ".fxp-*.part").
func fxpTemps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range leftovers(t, dir) {
		if strings.HasPrefix(name, ".fxp-") && strings.HasSuffix(name, ".part") {
			out = append(out, filepath.Join(dir, name))
		}
	}
	return out
}

// interruptCopy starts a copy of a's big.bin onto b's, cancels it once
// 4 MiB have arrived, and waits until b has closed the upload. It returns
// the temporary file and how many bytes it holds, after checking that
// they are the source's first bytes.
func interruptCopy(t *testing.T, a, b *instance, data []byte) (string, int64) {
	t.Helper()
	fails := strings.Count(b.logs.String(), `"msg":"transfer failed"`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := &eventLog{on: func(e fxp.Event) {
		if e.Kind == fxp.EventProgress && e.Bytes >= 4<<20 {
			cancel()
		}
	}}
	_, err := fxp.New(fxpTestOptions(log)).Copy(ctx, fxpEP(a, "big.bin"), fxpEP(b, "big.bin"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted copy: %v", err)
	}
	if !strings.Contains(err.Error(), "--resume continues it") {
		t.Errorf("the error does not say where the bytes are: %v", err)
	}
	// B has ended the upload (logged it) before we look at the file.
	eventually(t, 10*time.Second, "B logs the aborted upload", func() bool {
		return strings.Count(b.logs.String(), `"msg":"transfer failed"`) > fails
	})
	temps := fxpTemps(t, b.root("alice"))
	if len(temps) != 1 || !strings.HasPrefix(filepath.Base(temps[0]), ".fxp-big.bin.") {
		t.Fatalf("temporary files after the interruption: %q, want one .fxp-big.bin.*.part", temps)
	}
	got, err := os.ReadFile(temps[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("temporary file holds %d bytes, want a prefix of the source's %d", len(got), len(data))
	}
	return temps[0], int64(len(got))
}

// retrLogBytes is the byte count of A's last successful RETR.
func retrLogBytes(t *testing.T, a *instance) int64 {
	t.Helper()
	a.logs.waitFor(t, `"msg":"transfer",`, `"command":"RETR"`)
	m := regexp.MustCompile(`"msg":"transfer",.*"command":"RETR".*?"bytes":(\d+)`).FindAllStringSubmatch(a.logs.String(), -1)
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}

// TestFXPResumeTempFile: a copy onto an ftpd destination (whose STOR is
// atomic) stopped in the middle leaves the old target as it was and the
// bytes so far in a temporary file; --resume continues that file from
// its size (A's transfer log shows RETR sent only the rest) and renames it
// onto the target, which stays the old file until then. Without --resume
// a stale temporary file is not continued: the copy starts over.
func TestFXPResumeTempFile(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, slowSource, "")
	data := randomBytes(t, 24<<20)
	writeFile(t, filepath.Join(a.root("alice"), "big.bin"), data)
	old := randomBytes(t, 1<<20)
	dstFile := filepath.Join(b.root("alice"), "big.bin")
	writeFile(t, dstFile, old)

	tmp, partial := interruptCopy(t, a, b, data)
	if fileSHA(t, dstFile) != sha(old) {
		t.Fatal("the interrupted copy changed the target")
	}

	// Resume, checking on every progress event that the target is still
	// the old file.
	var (
		mu      sync.Mutex
		touched string
	)
	log := &eventLog{on: func(e fxp.Event) {
		if e.Kind != fxp.EventProgress {
			return
		}
		if got, err := os.ReadFile(dstFile); err != nil || !bytes.Equal(got, old) {
			mu.Lock()
			touched = "target changed during the copy, at " + strconv.FormatInt(e.Bytes, 10) + " bytes"
			mu.Unlock()
		}
	}}
	opts := fxpTestOptions(log)
	opts.Resume, opts.Verify = true, true
	sum, err := fxpCopyCtx(t, opts, fxpEP(a, "big.bin"), fxpEP(b, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if touched != "" {
		t.Fatal(touched)
	}
	if fileSHA(t, dstFile) != sha(data) {
		t.Fatal("resumed copy differs")
	}
	if temps := fxpTemps(t, b.root("alice")); len(temps) != 0 {
		t.Fatalf("temporary files left after the copy: %q", temps)
	}
	events := log.all()
	if events[0].Kind != fxp.EventStart || events[0].Offset != partial {
		t.Fatalf("resume started at %d, want %d (%+v)", events[0].Offset, partial, events[0])
	}
	if want := int64(len(data)) - partial; sum.Bytes != want || retrLogBytes(t, a) != want {
		t.Fatalf("moved %d bytes, A's RETR sent %d, want %d (not from 0)", sum.Bytes, retrLogBytes(t, a), want)
	}
	checkMonotonic(t, events)
	b.logs.waitFor(t, `"msg":"transfer",`, `"command":"APPE"`, `"foreign":true`, filepath.Base(tmp))

	// Interrupted again, then a copy without --resume over a temporary
	// file made wrong: it is not continued, the copy starts over.
	tmp, _ = interruptCopy(t, a, b, data)
	if err := os.WriteFile(tmp, bytes.Repeat([]byte{'x'}, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	opts = fxpTestOptions(nil)
	opts.Verify = true
	if _, err := fxpCopyCtx(t, opts, fxpEP(a, "big.bin"), fxpEP(b, "big.bin")); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, dstFile) != sha(data) {
		t.Fatal("copy over a stale temporary file differs")
	}
	if n := retrLogBytes(t, a); n != int64(len(data)) {
		t.Fatalf("A's RETR sent %d bytes, want all %d (start over)", n, len(data))
	}
	if temps := fxpTemps(t, b.root("alice")); len(temps) != 0 {
		t.Fatalf("temporary files left after the copy: %q", temps)
	}
}

// TestFXPResumeTempFilePeers: the same against third-party destinations
// (ftpd as the source): an interrupted copy leaves the old target and a
// temporary file; --resume continues it (A's RETR sends only the rest)
// and renames it onto the target. ProFTPD with AllowOverwrite off refuses
// to rename onto the existing target: the old one is deleted after the
// new file was checked, then the rename succeeds.
func TestFXPResumeTempFilePeers(t *testing.T) {
	data := randomBytes(t, 24<<20)
	old := randomBytes(t, 1<<20)
	for _, tc := range []struct {
		name   string
		opts   peers.Options
		resume bool   // the server lets APPE continue the file
		log    string // in fxp's debug log
	}{
		{"vsftpd", peers.Options{Kind: peers.Vsftpd}, true, ""},
		{"pure-ftpd", peers.Options{Kind: peers.PureFTPd}, true, ""},
		{"proftpd", peers.Options{Kind: peers.ProFTPD, ProFTPDConfig: "AllowStoreRestart on"}, true, ""},
		// Without AllowStoreRestart, ProFTPD answers APPE of an existing
		// file with 451: the copy starts over (STOR), still through the
		// temporary file.
		{"proftpd-no-restart", peers.Options{Kind: peers.ProFTPD}, false, "Append/Restart not permitted"},
		{"proftpd-no-overwrite", peers.Options{Kind: peers.ProFTPD, ProFTPDConfig: "AllowStoreRestart on\nAllowOverwrite off"}, true, "rename onto the target refused; deleting the old target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Addr, tc.opts.FXP = netip.MustParseAddr(peerHost), true
			peer := interopStartPeerWith(t, tc.opts)
			a := startServer(t, hostA, pairConfig(fxpOn, slowSource))
			writeFile(t, filepath.Join(a.root("alice"), "big.bin"), data)
			if err := peer.WriteFile("big.bin", old); err != nil {
				t.Fatal(err)
			}
			ap, pp := netip.MustParseAddrPort(a.addr), netip.MustParseAddrPort(peer.Addr)
			src := fxp.Endpoint{Host: ap.Addr().String(), Port: ap.Port(), User: "alice", Pass: testPass, Path: "big.bin"}
			dst := fxp.Endpoint{Host: pp.Addr().String(), Port: pp.Port(), User: peers.UserName, Pass: peers.Password, Path: "big.bin"}
			dstFile := filepath.Join(peer.Root, "big.bin")

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			log := &eventLog{on: func(e fxp.Event) {
				if e.Kind == fxp.EventProgress && e.Bytes >= 4<<20 {
					cancel()
				}
			}}
			if _, err := fxp.New(fxpTestOptions(log)).Copy(ctx, src, dst); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted copy: %v", err)
			}
			a.logs.waitFor(t, `"msg":"transfer failed"`, `"command":"RETR"`)
			if fileSHA(t, dstFile) != sha(old) {
				t.Fatal("the interrupted copy changed the target")
			}
			var partial int64
			eventually(t, 10*time.Second, "a temporary file holding the source's first bytes", func() bool {
				temps := fxpTemps(t, peer.Root)
				if len(temps) != 1 {
					return false
				}
				got, err := os.ReadFile(temps[0])
				partial = int64(len(got))
				return err == nil && partial > 0 && partial < int64(len(data)) && bytes.Equal(got, data[:partial])
			})

			var debug bytes.Buffer
			opts := fxpTestOptions(nil)
			opts.Resume, opts.Verify = true, true
			opts.Log = slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))
			sum, err := fxpCopyCtx(t, opts, src, dst)
			defer func() {
				if t.Failed() {
					t.Logf("fxp's log:\n%s", debug.String())
				}
			}()
			if err != nil {
				t.Fatalf("%v\n%s", err, peer.Log())
			}
			if fileSHA(t, dstFile) != sha(data) {
				t.Fatal("resumed copy differs")
			}
			if temps := fxpTemps(t, peer.Root); len(temps) != 0 {
				t.Fatalf("temporary files left: %q", temps)
			}
			sent := retrLogBytes(t, a)
			t.Logf("%s: interrupted at %d bytes; the resumed copy moved %d, A's RETR sent %d", tc.name, partial, sum.Bytes, sent)
			want := int64(len(data))
			if tc.resume {
				want -= partial
			}
			if sent != want || sum.Bytes != sent {
				t.Fatalf("A's RETR sent %d bytes, fxp counted %d, want %d", sent, sum.Bytes, want)
			}
			if !strings.Contains(debug.String(), tc.log) {
				t.Fatalf("fxp's log lacks %q", tc.log)
			}
		})
	}
}

// TestFXPMirrorIgnoresTempFiles: fxp's temporary files are not ordinary
// files to mirror or copy -r: a source's is not copied, a destination's
// (another run's interrupted copy) is neither compared nor deleted by
// --delete, and --dry-run lists it as kept.
func TestFXPMirrorIgnoresTempFiles(t *testing.T) {
	a, b := fxpPair(t, fxpOn, fxpOn, "", "")
	srcRoot := filepath.Join(a.root("alice"), "rel")
	dstRoot := filepath.Join(b.root("alice"), "mirror/rel")
	writeFile(t, filepath.Join(srcRoot, "f1.bin"), randomBytes(t, 1000))
	writeFile(t, filepath.Join(srcRoot, ".fxp-x.bin.0123abcd.part"), randomBytes(t, 1000))
	stale := filepath.Join(dstRoot, ".fxp-old.bin.89abcdef.part")
	writeFile(t, stale, randomBytes(t, 500))
	writeFile(t, filepath.Join(dstRoot, "gone.bin"), randomBytes(t, 10))
	src, dst := fxpURL(a, "rel"), fxpURL(b, "mirror/rel/")

	out, errOut, code := fxpRun(t, nil, "mirror", "--delete", "--dry-run", "--bind", client1, src, dst)
	if code != 0 || !strings.Contains(out, "keep   mirror/rel/.fxp-old.bin.89abcdef.part (temporary file of an interrupted copy)") ||
		strings.Contains(out, ".fxp-x.bin") || strings.Contains(out, "delete mirror/rel/.fxp-old") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	r, code, out := fxpMirror(t, "--delete", src, dst)
	if code != 0 || r.Copied != 1 || r.Deleted != 1 || r.Failed != 0 {
		t.Fatalf("mirror: exit %d %+v\n%s", code, r, out)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("mirror --delete removed another run's temporary file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dstRoot, ".fxp-x.bin.0123abcd.part")); !os.IsNotExist(err) {
		t.Fatalf("mirror copied the source's temporary file: %v", err)
	}
	// copy -r leaves it out too.
	if out, errOut, code := fxpRun(t, nil, "copy", "-r", "--bind", client1, src, fxpURL(b, "tree/")); code != 0 {
		t.Fatalf("copy -r: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(b.root("alice"), "tree/rel/f1.bin")); err != nil {
		t.Fatal(err)
	}
	if temps := fxpTemps(t, filepath.Join(b.root("alice"), "tree/rel")); len(temps) != 0 {
		t.Fatalf("copy -r copied temporary files: %q", temps)
	}
}

// TestFXPTempRefusedWritesTarget: a destination login that may write only
// the target (an ftpd receive token for one path) refuses the temporary
// name; fxp then writes the target directly.
func TestFXPTempRefusedWritesTarget(t *testing.T) {
	a := tokenServer(t, t.TempDir())
	b := startServer(t, hostB, pairConfig(fxpOn, ""))
	data := randomBytes(t, 256<<10)
	writeFile(t, filepath.Join(b.root("alice"), "x.bin"), data)
	if err := os.MkdirAll(filepath.Join(a.root("alice"), "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := mintToken(t, a, "-user", "alice", "-path", "/incoming/x.bin", "-fxp", "receive", "-ttl", "1h", "-uses", "20")
	out, errOut, code := fxpRun(t, nil, "copy", "--debug", "--bind", client1, "--timeout", "10s", fxpURL(b, "x.bin"), link)
	if code != 0 {
		t.Fatalf("copy to a receive token: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "the destination refuses the temporary file; writing the target directly") {
		t.Fatalf("no fallback in the log:\n%s", errOut)
	}
	if fileSHA(t, filepath.Join(a.root("alice"), "incoming/x.bin")) != sha(data) {
		t.Fatal("copy differs")
	}
	if temps := fxpTemps(t, filepath.Join(a.root("alice"), "incoming")); len(temps) != 0 {
		t.Fatalf("temporary files left: %q", temps)
	}
}
