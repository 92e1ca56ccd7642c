package fxp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// evilFTP is a scripted malicious FTP server: it logs anyone in, lists
// what listings holds for a directory (MLSD over a PASV data connection),
// answers PASV for transfers with pasvHost, and records every command
// line exactly as it came off the wire.
type evilFTP struct {
	addr     string
	listings map[string]string // directory -> MLSD text
	pasvHost string            // "127,0,0,5": the address a PASV reply names; "" = its own
	flood    int               // bytes of listing to send instead of listings
	line     string            // what the flood repeats
	stall    bool              // accept transfers (150), then say and move nothing
	mu       sync.Mutex
	cmds     []string
	stored   map[string]bool // names a STOR/APPE was accepted for
	// vanishing: fxp's temporary file is reported (SIZE 213 5) until the
	// first DELE of it, which answers 550 as if the file had gone in
	// between (a server that removes a refused upload's empty file after
	// its reply).
	vanishing bool
	deleted   bool
}

func startEvil(t *testing.T, host string, e *evilFTP) *evilFTP {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	var (
		wg    sync.WaitGroup
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		e.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			conns = append(conns, c)
			e.mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); e.serve(t, c, host) }()
		}
	}()
	return e
}

func (e *evilFTP) got() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.cmds...)
}

func (e *evilFTP) serve(t *testing.T, c net.Conn, host string) {
	r := bufio.NewReader(c)
	reply := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	reply("220 evil")
	var dl net.Listener
	defer func() {
		if dl != nil {
			dl.Close()
		}
	}()
	for {
		raw, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line := strings.TrimRight(raw, "\r\n")
		e.mu.Lock()
		e.cmds = append(e.cmds, line)
		e.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "USER":
			reply("331 pass")
		case "PASS":
			reply("230 in")
		case "TYPE", "PORT", "EPRT":
			reply("200 ok")
		case "PWD":
			reply(`257 "/" is current`)
		case "CWD":
			reply("250 ok")
		case "MKD":
			reply(`257 "` + arg + `" created`)
		case "DELE", "RMD":
			e.mu.Lock()
			vanish := e.vanishing && strings.HasPrefix(arg, ".fxp-")
			e.deleted = e.deleted || vanish
			e.mu.Unlock()
			if vanish {
				reply("550 no such file or directory")
				continue
			}
			reply("250 deleted")
		case "SIZE":
			// A source file of 1 MiB; fxp's temporary file exists once a
			// STOR/APPE was accepted for it, and then never grows.
			e.mu.Lock()
			stored := e.stored[arg]
			vanished := e.deleted
			e.mu.Unlock()
			switch {
			case e.vanishing && !vanished && strings.HasPrefix(arg, ".fxp-"):
				reply("213 5")
			case stored:
				reply("213 0")
			case strings.HasPrefix(arg, ".fxp-"):
				reply("550 no such file")
			default:
				reply("213 1048576")
			}
		case "STOR", "RETR", "APPE":
			if !e.stall {
				reply("502 not here")
				continue
			}
			if verb != "RETR" {
				e.mu.Lock()
				if e.stored == nil {
					e.stored = map[string]bool{}
				}
				e.stored[arg] = true
				e.mu.Unlock()
			}
			reply("150 go ahead") // and then nothing, ever
		case "PASV":
			if dl != nil {
				dl.Close()
			}
			if dl, err = net.Listen("tcp", host+":0"); err != nil {
				return
			}
			p := dl.Addr().(*net.TCPAddr).Port
			h := e.pasvHost
			if h == "" {
				h = strings.ReplaceAll(host, ".", ",")
			}
			reply(fmt.Sprintf("227 Entering Passive Mode (%s,%d,%d)", h, p>>8, p&255))
		case "MLSD":
			if dl == nil {
				reply("425 no PASV")
				continue
			}
			text, ok := e.listings[arg]
			if !ok && e.flood == 0 {
				reply("550 no such directory")
				continue
			}
			reply("150 listing")
			d, err := dl.Accept()
			if err != nil {
				return
			}
			if e.flood > 0 {
				chunk := bytes.Repeat([]byte(e.line), max(1, (64<<10)/len(e.line)))
				for n := 0; n < e.flood; n += len(chunk) {
					if _, err := d.Write(chunk); err != nil {
						break
					}
				}
			} else {
				fmt.Fprint(d, text)
			}
			d.Close()
			reply("226 done")
		default:
			reply("502 not here")
		}
	}
}

// hostileNames are names a source may list that are not one plain path
// element (or that a destination would normalise into something else).
var hostileNames = []string{
	"..", ".", "a/../../escape", `..\escape`, `escape\x`, "escape\x00x", "escape\rx",
	"..\xff\xf1", "\xff\xf4escape", "escape\x1b[2J", "escape\xc2\x9b", "escape\x7f",
	"escape\x01", "escape\xfe", " escape", "escape ",
}

func evilListing(typ string, extra ...string) string {
	var b strings.Builder
	for _, n := range append(append([]string(nil), hostileNames...), extra...) {
		fmt.Fprintf(&b, "type=%s;size=1;modify=20200101000000; %s\r\n", typ, n)
	}
	return b.String()
}

// checkPaths fails when a command to the destination names any path
// element other than the plain ones the test expects.
func checkPaths(t *testing.T, cmds []string, plain ...string) {
	t.Helper()
	ok := map[string]bool{"": true}
	for _, p := range plain {
		ok[p] = true
	}
	for _, c := range cmds {
		verb, arg, _ := strings.Cut(c, " ")
		switch verb {
		case "MKD", "STOR", "APPE", "DELE", "RMD", "MLSD", "RETR", "SIZE", "MDTM", "CWD", "MFMT":
		default:
			continue
		}
		if verb == "MFMT" {
			_, arg, _ = strings.Cut(arg, " ")
		}
		for _, el := range strings.Split(arg, "/") {
			if !ok[el] {
				t.Errorf("command %q names %q: outside what the source may create", c, el)
			}
		}
	}
}

func hostileClient(opts Options) *Client {
	opts.Timeout = 10 * time.Second
	return New(opts)
}

// TestHostileNamesCopyTree: fxp copy -r with a source that lists every
// kind of hostile name (as files and as directories) creates and plans
// only the plain ones, and reports each refused name as an error.
func TestHostileNamesCopyTree(t *testing.T) {
	src := startEvil(t, "127.0.0.2", &evilFTP{listings: map[string]string{
		"src":     evilListing("file", "ok.txt") + evilListing("dir", "sub"),
		"src/sub": evilListing("file", "deep.txt"),
	}})
	dst := startEvil(t, "127.0.0.3", &evilFTP{})
	c := hostileClient(Options{Recursive: true})
	p := planner{c: c, budget: &listBudget{max: DefaultMaxEntries}}
	s, err := c.dial(context.Background(), roleSrc, mustEndpoint(t, src.addr, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	d, err := c.dial(context.Background(), roleDst, mustEndpoint(t, dst.addr, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	p.src, p.dst = s, d
	err = p.walk(context.Background(), "src", "dst", s.ep, d.ep, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range p.jobs {
		got = append(got, j.dst.Path)
	}
	if strings.Join(got, "|") != "dst/ok.txt|dst/sub/deep.txt" {
		t.Errorf("jobs %q, want only the plain names", got)
	}
	checkPaths(t, dst.got(), "dst", "ok.txt", "sub", "deep.txt")
	// Every hostile name, twice in src and once in src/sub, is reported.
	if want := 3 * len(hostileNames); p.budget.refused != want {
		t.Errorf("%d names refused, want %d: %v", p.budget.refused, want, p.budget.errs())
	}
	for _, e := range p.budget.errs() {
		if msg := e.Error(); hasByte(msg, "\x00\x1b\r\x7f\xff") || strings.Contains(msg, "\u009b") {
			t.Errorf("refusal message carries a control byte: %q", msg)
		}
	}
}

func mustEndpoint(t *testing.T, addr, p string) Endpoint {
	t.Helper()
	ep, err := ParseURL("ftp://u:p@" + addr + "/" + p)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// TestHostileNamesMirror: fxp mirror (with --delete, and with --dry-run)
// against a source and a destination that both list hostile names neither
// creates nor deletes anything but plain names below the destination, and
// fails (exit 1) naming the refused entries.
func TestHostileNamesMirror(t *testing.T) {
	for _, dry := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry-run=%v", dry), func(t *testing.T) {
			src := startEvil(t, "127.0.0.2", &evilFTP{listings: map[string]string{
				"src": evilListing("file", "ok.txt") + evilListing("dir"),
			}})
			dst := startEvil(t, "127.0.0.3", &evilFTP{listings: map[string]string{
				"dst": evilListing("file", "ok.txt", "gone.txt") + evilListing("dir"),
			}})
			var plan bytes.Buffer
			sum, err := hostileClient(Options{}).Mirror(context.Background(),
				mustEndpoint(t, src.addr, "src"), mustEndpoint(t, dst.addr, "dst"),
				MirrorOptions{Delete: true, DryRun: dry, Plan: &plan})
			if err == nil || !strings.Contains(err.Error(), "not one plain path element") {
				t.Fatalf("err %v, want the refused names", err)
			}
			checkPaths(t, dst.got(), "dst", "ok.txt", "gone.txt")
			if sum.Deleted != 1 {
				t.Errorf("deleted %d, want gone.txt alone; plan:\n%s", sum.Deleted, plan.String())
			}
			if hasByte(plan.String(), "\x00\x1b\xff") {
				t.Errorf("plan carries control bytes: %q", plan.String())
			}
		})
	}
}

// TestForeignPasvRefused: a passive server whose 227 names an address
// other than its control connection's (here 127.0.0.5) is not obeyed: the
// other server never gets a PORT to it and the copy fails saying why;
// with AllowForeignPasv (--allow-foreign-pasv) the address is passed on.
func TestForeignPasvRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		passive Passive
		allow   bool
	}{
		{"evil source", PassiveSrc, false},
		{"evil destination", PassiveDst, false},
		{"allowed", PassiveSrc, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evil := &evilFTP{pasvHost: "127,0,0,5"}
			src, dst := &evilFTP{}, &evilFTP{}
			if tc.passive == PassiveSrc {
				src = evil
			} else {
				dst = evil
			}
			startEvil(t, "127.0.0.2", src)
			startEvil(t, "127.0.0.3", dst)
			_, err := hostileClient(Options{Passive: tc.passive, AllowForeignPasv: tc.allow}).Copy(context.Background(),
				mustEndpoint(t, src.addr, "f"), mustEndpoint(t, dst.addr, "f"))
			other := dst
			if evil == dst {
				other = src
			}
			sentForeign := false
			for _, c := range other.got() {
				if strings.HasPrefix(c, "PORT 127,0,0,5,") {
					sentForeign = true
				}
			}
			if sentForeign != tc.allow {
				t.Fatalf("PORT to the foreign address sent: %v, want %v (commands %q)", sentForeign, tc.allow, other.got())
			}
			if !tc.allow && (err == nil || !strings.Contains(err.Error(), "--allow-foreign-pasv")) {
				t.Fatalf("err %v, want a refusal naming --allow-foreign-pasv", err)
			}
		})
	}
}

// heapSys is the memory the Go heap holds from the OS: it grows only when
// something needs it, so its growth bounds what fxp held at its peak.
func heapSys() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys
}

// TestHostileListingBounded: a 200 MiB listing (of hostile names, or one
// endless line) fails at a cap without growing fxp's heap by more than a
// few MiB; a listing of more entries than --max-entries fails too.
func TestHostileListingBounded(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		maxEntries int
		want       string
	}{
		{"200 MiB of hostile names", "type=file;size=1; ..\xff\xf1\r\n", 0, "listing longer than"},
		{"a 200 MiB line", "type=file;size=1; aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "listing line longer than"},
		{"200 MiB of entries, cap 1000", "type=file;size=1; same\r\n", 1000, "entry cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := startEvil(t, "127.0.0.2", &evilFTP{flood: 200 << 20, line: tc.line})
			dst := startEvil(t, "127.0.0.3", &evilFTP{listings: map[string]string{"dst": ""}})
			before := heapSys()
			_, err := New(Options{Timeout: time.Minute, MaxEntries: tc.maxEntries}).Mirror(context.Background(),
				mustEndpoint(t, src.addr, "src"), mustEndpoint(t, dst.addr, "dst"), MirrorOptions{DryRun: true})
			grew := int64(heapSys()) - int64(before)
			t.Logf("heap grew %d KiB", grew>>10)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if grew > 8<<20 {
				t.Fatalf("heap grew %d MiB on a hostile listing", grew>>20)
			}
		})
	}
}

// TestStalledTransferFails: an FXP transfer both servers accept (150) and
// then neither moves a byte of (the destination's SIZE stays 0) fails after
// DataTimeout instead of waiting for final replies that never come.
func TestStalledTransferFails(t *testing.T) {
	src := startEvil(t, "127.0.0.2", &evilFTP{stall: true})
	dst := startEvil(t, "127.0.0.3", &evilFTP{stall: true})
	opts := Options{Timeout: 10 * time.Second, DataTimeout: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		AbortWait: 300 * time.Millisecond, Passive: PassiveDst}
	done := make(chan error, 1)
	go func() {
		_, err := New(opts).Copy(context.Background(), mustEndpoint(t, src.addr, "f"), mustEndpoint(t, dst.addr, "f"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no data for") {
			t.Fatalf("err %v, want a stall", err)
		}
	case <-time.After(60 * time.Second): // generous: a loaded machine is slow, a hang is forever
		t.Fatal("a stalled FXP transfer still running after 60s")
	}
}

// hasByte reports whether s holds any of the bytes of set.
func hasByte(s, set string) bool {
	for i := 0; i < len(set); i++ {
		if strings.IndexByte(s, set[i]) >= 0 {
			return true
		}
	}
	return false
}

// TestSiteAllowForeignPasv: a site's allow_foreign_pasv reaches its
// endpoint (the per-site form of --allow-foreign-pasv); off by default.
func TestSiteAllowForeignPasv(t *testing.T) {
	s, err := ParseSites("s.toml", "[site.nat]\nhost = \"127.0.0.2\"\nallow_foreign_pasv = true\n[site.plain]\nhost = \"127.0.0.3\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"nat": true, "plain": false} {
		st, _ := s.Get(name)
		ep, err := st.Endpoint("f", SiteEnv{LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil || ep.AllowForeignPasv != want {
			t.Errorf("%s: AllowForeignPasv %v (%v), want %v", name, ep.AllowForeignPasv, err, want)
		}
	}
}

// TestTempFileGoneBeforeDelete: the stale temporary file SIZE reported is
// gone when fxp deletes it (550): the copy goes on instead of failing on
// "remove stale temporary file". ftpd itself does this: a refused APPE's
// empty file is removed just after the 425 reply.
func TestTempFileGoneBeforeDelete(t *testing.T) {
	src := startEvil(t, "127.0.0.2", &evilFTP{})
	dst := startEvil(t, "127.0.0.3", &evilFTP{vanishing: true})
	_, err := hostileClient(Options{Passive: PassiveDst}).Copy(context.Background(), mustEndpoint(t, src.addr, "f"), mustEndpoint(t, dst.addr, "f"))
	if err == nil {
		t.Fatal("copy through servers that refuse every transfer succeeded")
	}
	if strings.Contains(err.Error(), "remove stale temporary file") {
		t.Fatalf("copy failed on the vanished temporary file: %v", err)
	}
	cmds := dst.got()
	deleted := slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "DELE .fxp-") })
	if deleted < 0 || !slices.ContainsFunc(cmds[deleted:], func(c string) bool { return strings.HasPrefix(c, "APPE .fxp-") || strings.HasPrefix(c, "STOR .fxp-") }) {
		t.Fatalf("no upload of the temporary file after its DELE: %q", cmds)
	}
}
