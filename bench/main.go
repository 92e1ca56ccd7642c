// Command bench measures ftpd against vsftpd, ProFTPD, Pure-FTPd and the
// raw loopback limit, in one run on one machine: FXP copies between two
// servers of a kind, plain downloads (curl), logins per second and ftpd's
// memory with many idle sessions; and ftpd on an S3 store (versitygw)
// against the AWS SDK's direct GET/PUT. It prints a Markdown report.
//
// Run it through bench/run (builds ftpd, needs root and the programs from
// .ci/install-peers). It is not part of `go test ./...`.
//
// Addresses: ftpd on 127.0.0.2/127.0.0.3, the third-party pairs on
// 127.0.0.4/127.0.0.5, versitygw on 127.0.0.6, clients from
// 127.0.0.10-127.0.0.30. Nothing else.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/testcert"
)

const (
	hostA   = "127.0.0.2"
	hostB   = "127.0.0.3"
	peerA   = "127.0.0.4"
	peerB   = "127.0.0.5"
	client  = "127.0.0.10"
	ftpUser = "bench"
	ftpPass = "bench-pw-1"
	// idle sessions log in with a cheap hash: the memory test measures
	// sessions, not bcrypt.
	idleUser = "idle"
	idlePass = "idle-pw-1"
)

var (
	flagFtpd      = flag.String("ftpd", "", "ftpd binary (bench/run builds it)")
	flagSize      = flag.Int64("size", 1<<30, "file size in bytes for FXP and downloads")
	flagRuns      = flag.Int("runs", 7, "timed runs per contender and measurement (median and min–max reported)")
	flagBase      = flag.String("ftpd-base", "", "a second ftpd binary (e.g. built from main) run as contender \"ftpd-base\": before/after in one run")
	flagWarmup    = flag.Bool("warmup-login", true, "log in to every server once before the timed runs (ftpd's first login pays its bcrypt check)")
	flagSecure    = flag.Bool("secure", true, "add secure FXP (PROT P, SSCN ON on the passive side) contenders to the FXP table: ftpd, and ProFTPD when installed")
	flagOverwrite = flag.Bool("overwrite", false, "FXP onto an existing destination file (a mirror update) instead of deleting it first")
	flagFxp       = flag.String("fxp", "", "fxp client binary, for -only par (bench/run builds it)")
	flagParSize   = flag.Int64("par-size", 128<<20, "size of each of the 8 files copied at once (-only par)")
	flagWAN       = flag.String("wan", "25ms:1gbit,25ms:10gbit", "WAN links for -only wan: one-way delay:rate, comma-separated")
	flagWANWmem   = flag.String("wan-tcp-wmem", "", "net.ipv4.tcp_wmem inside the WAN servers' namespaces, e.g. \"4096 16384 67108864\" (\"\" = inherited)")
	flagWANMTU    = flag.Int("wan-mtu", 9000, "MTU of the emulated WAN link (the delay line runs in user space: per-packet cost)")
	flagWANRuns   = flag.Int("wan-runs", 5, "timed runs per contender and link (-only wan)")
	flagDataBuf   = flag.String("data-socket-buffer", "", "[server] data_socket_buffer for ftpd in -only wan (\"\" = not set)")
	flagLoginDur  = flag.Duration("login-time", 5*time.Second, "duration of each logins/s loop")
	flagLoginPar  = flag.Int("login-workers", 4, "concurrent login loops")
	flagIdle      = flag.String("idle", "1000,10000", "idle session counts for ftpd's RSS (empty = skip)")
	flagOnly      = flag.String("only", "fxp,download,par,login,memory,s3", "which measurements (fxp, download, par, login, memory, s3, wan)")
	flagKinds     = flag.String("peers", "vsftpd,proftpd,pure-ftpd", "third-party servers to compare")
	flagDir       = flag.String("dir", "/var/tmp", "where the work directory (and the big file) goes")
	flagCost      = flag.Int("cost", 10, "bcrypt cost of ftpd's bench user")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// contender is one server pair (or the raw limit).
type contender struct {
	name       string
	a, b       string // control addresses
	rootA      string // source root (holds big.bin)
	rootB      string // destination root
	user, pass string
	pid        int   // ftpd A's pid (memory, profiling); 0 for others
	pids       []int // master processes of A and B (CPU time)
	// clientA and clientB are the client's local addresses towards A
	// and B (both 127.0.0.10 on loopback).
	clientA, clientB string
	// secure: FXP over TLS control with PROT P, SSCN ON on the passive
	// side (secure FXP).
	secure bool
}

type workspace struct {
	dir     string
	big     string
	mu      sync.Mutex
	procs   []*exec.Cmd
	servers []*peers.Server
	after   []func() // run by stop once the servers are gone (namespaces)
}

func (w *workspace) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.servers {
		_ = s.Stop()
	}
	for _, c := range w.procs {
		stopCmd(c)
	}
	for i := len(w.after) - 1; i >= 0; i-- {
		w.after[i]()
	}
	w.servers, w.procs, w.after = nil, nil, nil
}

// stopCmd ends a started process group: SIGTERM, SIGKILL after 5 s.
func stopCmd(c *exec.Cmd) {
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// stopProcs stops the given started processes now (not at the end).
func (w *workspace) stopProcs(cs ...*exec.Cmd) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range cs {
		for i, p := range w.procs {
			if p == c {
				stopCmd(c)
				w.procs = append(w.procs[:i], w.procs[i+1:]...)
				break
			}
		}
	}
}

func (w *workspace) addProc(c *exec.Cmd) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.procs = append(w.procs, c)
}

// startFtpd writes cfg to dir/ftpd.toml and starts ftpd (binary bin)
// with it, logging to dir/ftpd.log, and waits for its greeting on addr.
func (w *workspace) startFtpd(bin, dir, cfg, addr string) (*exec.Cmd, error) {
	path := filepath.Join(dir, "ftpd.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", path)
	if err := w.spawn(cmd, filepath.Join(dir, "ftpd.log")); err != nil {
		return nil, err
	}
	if err := waitGreet(addr, 30*time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "ftpd.log"))
		return nil, fmt.Errorf("ftpd on %s: %v\n%s", addr, err, out)
	}
	return cmd, nil
}

// spawn starts cmd in a process group of its own with its output in the
// file logPath, and stops it with the workspace.
func (w *workspace) spawn(cmd *exec.Cmd, logPath string) error {
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.addProc(cmd)
	return nil
}

func (w *workspace) addServer(s *peers.Server) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.servers = append(w.servers, s)
}

var notes []string

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("run as root (the third-party servers chroot and switch users)")
	}
	if *flagFtpd == "" {
		return errors.New("-ftpd is required (use bench/run)")
	}
	// Enough descriptors for 10 000 sessions on each side; children
	// (ftpd) inherit it. Without CAP_SYS_RESOURCE only up to the hard
	// limit.
	lim := syscall.Rlimit{Cur: 65536, Max: 65536}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	maxIdle := 0
	for _, f := range strings.Split(*flagIdle, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			maxIdle = max(maxIdle, n)
		}
	}
	// A session holds one descriptor (its socket; the user's os.Root is
	// shared by all its sessions).
	if need := uint64(maxIdle + 1024); lim.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE is %d here (cannot be raised): %d idle sessions need about %d; lower -idle", lim.Cur, maxIdle, need)
	}
	only := map[string]bool{}
	for _, s := range strings.Split(*flagOnly, ",") {
		only[strings.TrimSpace(s)] = true
	}
	// The servers and the big file serve every measurement but s3, which
	// starts its own.
	pairs := false
	for k := range only {
		pairs = pairs || k != "s3" && k != ""
	}
	var kinds []peers.Kind
	for _, s := range strings.Split(*flagKinds, ",") {
		if !pairs {
			break
		}
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k := peers.Kind(s)
		if err := k.Available(); err != nil {
			return fmt.Errorf("%v (%s)", err, peers.InstallHint)
		}
		kinds = append(kinds, k)
	}

	base, err := os.MkdirTemp(*flagDir, "ftpd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	w := &workspace{dir: base, big: filepath.Join(base, "big.bin")}
	defer w.stop()
	// An interrupt still stops every server and removes the work
	// directory.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "bench: %v: stopping the servers\n", sig)
		w.stop()
		os.RemoveAll(base)
		os.Exit(1)
	}()

	if pairs {
		fmt.Fprintf(os.Stderr, "writing %d random bytes to %s\n", *flagSize, w.big)
		if err := writeRandom(w.big, *flagSize); err != nil {
			return err
		}
	}

	r := &report{size: *flagSize, runs: *flagRuns, notes: notes, loadStart: loadAvg()}
	if only["s3"] {
		// First: the S3 servers run alone (the pairs start after).
		if err := r.s3Run(w); err != nil {
			return err
		}
	}
	var ftpdPair *contender
	var contenders, fxpContenders []*contender
	if pairs {
		if ftpdPair, contenders, fxpContenders, err = w.startPairs(kinds); err != nil {
			return err
		}
	}
	if only["fxp"] {
		if err := r.fxp(w, fxpContenders); err != nil {
			return err
		}
	}
	if only["download"] {
		if err := r.download(w, contenders); err != nil {
			return err
		}
	}
	if only["par"] {
		if *flagFxp == "" {
			return errors.New("-only par needs -fxp (use bench/run)")
		}
		if err := r.parallel(w, contenders, *flagFxp); err != nil {
			return err
		}
	}
	if only["login"] {
		if err := r.logins(contenders); err != nil {
			return err
		}
	}
	if only["memory"] && *flagIdle != "" {
		if err := r.memory(ftpdPair); err != nil {
			return err
		}
	}
	if only["wan"] {
		// Last: it ends with stopping every server.
		if err := r.wanRun(w); err != nil {
			return err
		}
	}
	r.print(os.Stdout)
	return nil
}

// startPairs starts ftpd's pair, the optional ftpd-base pair, the
// third-party pairs of kinds and the secure FXP contenders, links the big
// file into every source root and logs in to each once.
func (w *workspace) startPairs(kinds []peers.Kind) (ftpdPair *contender, contenders, fxpContenders []*contender, err error) {
	ftpdPair, err = w.startFtpdPair("ftpd", *flagFtpd, 23000, "")
	if err != nil {
		return nil, nil, nil, err
	}
	contenders = []*contender{ftpdPair}
	if *flagBase != "" {
		base, err := w.startFtpdPair("ftpd-base", *flagBase, 23200, "")
		if err != nil {
			return nil, nil, nil, err
		}
		contenders = append(contenders, base)
	}
	for i, k := range kinds {
		c, err := w.startPeerPair(k, 24000+i*100)
		if err != nil {
			return nil, nil, nil, err
		}
		contenders = append(contenders, c)
	}
	// Secure FXP contenders run in the FXP table only.
	fxpContenders = contenders
	if *flagSecure {
		sec, err := w.startSecure(kinds)
		if err != nil {
			return nil, nil, nil, err
		}
		fxpContenders = append(append([]*contender(nil), contenders...), sec...)
	}
	// The same file (one inode, one page cache) in every source root.
	for _, c := range fxpContenders {
		dst := filepath.Join(c.rootA, "big.bin")
		_ = os.Remove(dst)
		if err := os.Link(w.big, dst); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := warm(w.big); err != nil {
		return nil, nil, nil, err
	}

	for _, c := range fxpContenders {
		if !*flagWarmup {
			break
		}
		// The first login with a password costs ftpd a bcrypt check
		// (then cached); pay it outside the timed runs.
		for _, addr := range []string{c.a, c.b} {
			conn, err := dial(addr, c.user, c.pass, client, c.secure)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s warm-up login: %w", c.name, err)
			}
			_ = conn.Quit()
		}
	}
	return ftpdPair, contenders, fxpContenders, nil
}

// --- servers ---

// idleBackend is the storage of the idle sessions' user: a directory, as
// in real use.
const idleBackend = "os"

func bcryptHash(pw string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(pw), *flagCost)
}

type ftpdUser struct{ name, hash, root, backend string }

// ftpdConfig is the configuration of one benchmarked ftpd: FXP with peers,
// no connection limits, warnings only in the log; extra goes into
// [server].
func ftpdConfig(listen, passive, peers, extra string, users []ftpdUser) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = %q\npassive_ports = %q\nidle_timeout = \"1h\"\n%s\n", listen, passive, extra)
	fmt.Fprintf(&b, "[fxp]\nenabled = true\npeers = [%q]\n\n", peers)
	b.WriteString("[limits]\nmax_connections = 0\nmax_connections_per_ip = 0\nmax_login_failures = 0\n\n[log]\nlevel = \"warn\"\n")
	for _, u := range users {
		fmt.Fprintf(&b, "\n[[users]]\nname = %q\npassword_hash = %q\nroot = %q\n", u.name, u.hash, u.root)
		if u.backend != "" {
			fmt.Fprintf(&b, "backend = %q\n", u.backend)
		}
	}
	return b.String()
}

// startFtpdPair starts two ftpd (binary bin) on hostA and hostB with
// passive ports from passiveBase.
func (w *workspace) startFtpdPair(name, bin string, passiveBase int, extra string) (*contender, error) {
	hash, err := bcryptHash(ftpPass)
	if err != nil {
		return nil, err
	}
	idleHash, err := bcrypt.GenerateFromPassword([]byte(idlePass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	c := &contender{name: name, user: ftpUser, pass: ftpPass, clientA: client, clientB: client}
	for i, host := range []string{hostA, hostB} {
		dir := filepath.Join(w.dir, name+"-"+host)
		if err := os.MkdirAll(filepath.Join(dir, "root"), 0o755); err != nil {
			return nil, err
		}
		port, err := freePort(host)
		if err != nil {
			return nil, err
		}
		cfg := ftpdConfig(net.JoinHostPort(host, strconv.Itoa(port)),
			fmt.Sprintf("%d-%d", passiveBase+i*100, passiveBase+i*100+15), "127.0.0.0/8", extra,
			[]ftpdUser{{ftpUser, string(hash), filepath.Join(dir, "root"), ""},
				{idleUser, string(idleHash), filepath.Join(dir, "idle"), idleBackend}})
		addr := fmt.Sprintf("%s:%d", host, port)
		cmd, err := w.startFtpd(bin, dir, cfg, addr)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			c.a, c.rootA, c.pid = addr, filepath.Join(dir, "root"), cmd.Process.Pid
		}
		c.pids = append(c.pids, cmd.Process.Pid)
		if i == 1 {
			c.b, c.rootB = addr, filepath.Join(dir, "root")
		}
	}
	return c, nil
}

func (w *workspace) startPeerPair(k peers.Kind, passiveBase int) (*contender, error) {
	c := &contender{name: string(k), user: peers.UserName, pass: peers.Password, clientA: client, clientB: client}
	err := w.startPeers(c, [2]string{peerA, peerB}, string(k), func(i int, o *peers.Options) {
		o.Kind, o.PassiveMin, o.PassiveMax = k, passiveBase+i*20, passiveBase+i*20+15
	})
	return c, err
}

// startPeers starts the two servers of contender c on hosts (A, B), each
// with a directory of its own below the workspace and FXP on; set fills in
// the rest of server i's options.
func (w *workspace) startPeers(c *contender, hosts [2]string, prefix string, set func(i int, o *peers.Options)) error {
	for i, host := range hosts {
		dir := filepath.Join(w.dir, prefix+"-"+host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		o := peers.Options{Addr: netip.MustParseAddr(host), Dir: dir, FXP: true}
		set(i, &o)
		s, err := peers.Start(o)
		if err != nil {
			return err
		}
		w.addServer(s)
		c.pids = append(c.pids, s.PID())
		if i == 0 {
			c.a, c.rootA = s.Addr, s.Root
		} else {
			c.b, c.rootB = s.Addr, s.Root
		}
	}
	return nil
}

func waitGreet(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := peers.Greet(addr)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeRandom writes size pseudo-random bytes (ChaCha8, incompressible).
func writeRandom(path string, size int64) error { return writeRandomSeed(path, size, 1) }

func writeRandomSeed(path string, size int64, seed byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{seed, 2, 3, 4})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// warm reads the file once so every contender starts from the page cache.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// settle deletes the destination (truncating a big file inside the timed
// region would halve the figure) and flushes dirty pages.
func settle(paths ...string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
	syscall.Sync()
	time.Sleep(200 * time.Millisecond)
}

// --- FXP ---

// dial logs in; secure: AUTH TLS, then PBSZ 0 and PROT P (the benched
// servers' certificates are self-signed: not verified).
func dial(addr, user, pass string, local string, secure bool) (*ftpclient.Conn, error) {
	opts := ftpclient.Options{LocalAddr: netip.MustParseAddr(local), Timeout: 10 * time.Minute}
	if secure {
		opts.TLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // bench certificates
	}
	c, err := ftpclient.Dial(context.Background(), addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

type report struct {
	size      int64
	runs      int
	fxpDst    []*cell
	fxpSrc    []*cell
	fxpRaw    *cell
	dl        []*cell
	dlRaw     *cell
	par       []*cell
	parSize   int64
	wan       []wanResult
	loginRes  []loginResult
	memRes    []memResult
	memBase   int64
	notes     []string
	loadStart string
	s3        *s3Result
}

// loadAvg is /proc/loadavg's three load averages: how busy the shared
// machine was.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// --- logins ---

type loginResult struct {
	name   string
	perSec float64
	errs   int64
}

// loginOnce: connect, 220, USER, 331, PASS, 230, QUIT, 221.
func loginOnce(addr, local, user, pass string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	rd := bufio.NewReader(conn)
	expect := func(code string) error {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) >= 4 && line[3] == '-' {
				continue // multi-line
			}
			if !strings.HasPrefix(line, code) {
				return fmt.Errorf("want %s, got %q", code, strings.TrimSpace(line))
			}
			return nil
		}
	}
	if err := expect("220"); err != nil {
		return err
	}
	fmt.Fprintf(conn, "USER %s\r\n", user)
	if err := expect("331"); err != nil {
		return err
	}
	fmt.Fprintf(conn, "PASS %s\r\n", pass)
	if err := expect("230"); err != nil {
		return err
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	return expect("221")
}

func clientIP(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i%21) }

func (r *report) logins(cs []*contender) error {
	for _, c := range cs {
		var ok, bad atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(*flagLoginDur)
		var wg sync.WaitGroup
		start := time.Now()
		for wkr := 0; wkr < *flagLoginPar; wkr++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					if err := loginOnce(c.a, clientIP(wkr+i**flagLoginPar), c.user, c.pass); err != nil {
						bad.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						time.Sleep(10 * time.Millisecond)
						continue
					}
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		lr := loginResult{name: c.name, perSec: float64(ok.Load()) / el.Seconds(), errs: bad.Load()}
		if e := firstErr.Load(); e != nil {
			r.notes = append(r.notes, fmt.Sprintf("%s logins: %d errors, first: %v", c.name, lr.errs, e))
		}
		fmt.Fprintf(os.Stderr, "logins %-10s %7.1f/s (%d errors)\n", c.name, lr.perSec, lr.errs)
		r.loginRes = append(r.loginRes, lr)
		time.Sleep(time.Second) // let the servers reap their sessions
	}
	return nil
}

// --- memory ---

type memResult struct {
	sessions int
	rss      int64 // bytes
}

func rssOf(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// idleSession logs in and keeps the connection open.
func idleSession(addr, local string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 30 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	rd := bufio.NewReaderSize(conn, 512)
	step := func(send, code string) error {
		if send != "" {
			if _, err := io.WriteString(conn, send); err != nil {
				return err
			}
		}
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) >= 4 && line[3] == '-' {
				continue
			}
			if !strings.HasPrefix(line, code) {
				return fmt.Errorf("want %s, got %q", code, strings.TrimSpace(line))
			}
			return nil
		}
	}
	for _, s := range [][2]string{{"", "220"}, {"USER " + idleUser + "\r\n", "331"}, {"PASS " + idlePass + "\r\n", "230"}} {
		if err := step(s[0], s[1]); err != nil {
			conn.Close()
			return nil, err
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (r *report) memory(c *contender) error {
	var counts []int
	for _, s := range strings.Split(*flagIdle, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		counts = append(counts, n)
	}
	sort.Ints(counts)
	time.Sleep(time.Second)
	base, err := rssOf(c.pid)
	if err != nil {
		return err
	}
	r.memBase = base
	var conns []net.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for _, n := range counts {
		need := n - len(conns)
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		next := atomic.Int64{}
		start := len(conns)
		for wkr := 0; wkr < 32; wkr++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= need {
						return
					}
					cn, err := idleSession(c.a, clientIP(start+i))
					mu.Lock()
					if err != nil {
						if firstErr == nil {
							firstErr = err
						}
					} else {
						conns = append(conns, cn)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return fmt.Errorf("idle sessions (%d of %d open): %w", len(conns), n, firstErr)
		}
		time.Sleep(3 * time.Second)
		rss, err := rssOf(c.pid)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "memory %6d sessions: RSS %d MiB\n", n, rss>>20)
		r.memRes = append(r.memRes, memResult{sessions: n, rss: rss})
	}
	return nil
}

// --- report ---

// userArgs are the flags given to bench/run (without the binaries it
// passes itself).
func userArgs() string {
	var out []string
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "ftpd" && f.Name != "fxp" {
			out = append(out, "-"+f.Name+" "+f.Value.String())
		}
	})
	return strings.Join(out, " ")
}

func machine() string {
	model := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	rel := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0]); len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			mem = fmt.Sprintf(", %d GiB RAM", (kb+(1<<19))>>20)
		}
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s%s, %s", runtime.NumCPU(), model, rel, mem, runtime.Version())
}

func (r *report) print(out io.Writer) {
	fmt.Fprintf(out, "### Benchmark run %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(out, "Machine: %s.  \nCommand: `sudo bench/run %s`  \n", machine(), userArgs())
	ftp := len(r.fxpDst)+len(r.dl)+len(r.par) > 0
	if ftp {
		fmt.Fprintf(out, "File: %d bytes of random data, page-cached, hard-linked into every source root; destination deleted and `sync` before each copy.\n", r.size)
	}
	fmt.Fprintf(out, "Load average (1, 5, 15 min) at start: %s; at end: %s. %d runs per cell, contenders and passive sides interleaved run by run (the first contender rotates).\n",
		r.loadStart, loadAvg(), r.runs)
	if ftp {
		fmt.Fprintln(out, "CPU s/GB: utime+stime+cutime+cstime of the server master processes (/proc/PID/stat, sessions reaped first) over the whole operation including logins, per 10^9 bytes moved.")
	}
	gib := fmt.Sprintf("%.3g GiB", float64(r.size)/(1<<30))
	if len(r.fxpDst) > 0 {
		r.table(out, "FXP "+gib+", server A → server B of one kind, PASV on the destination", "both servers", r.fxpDst, r.fxpRaw)
		r.table(out, "FXP "+gib+", PASV on the source", "both servers", r.fxpSrc, nil)
	}
	if len(r.dl) > 0 {
		r.table(out, "Download "+gib+", curl to /dev/null (EPSV)", "server", r.dl, r.dlRaw)
	}
	if len(r.par) > 0 {
		r.table(out, fmt.Sprintf("%d FXP copies at once (fxp copy -r -j %d, PASV on dst), %d MiB each; MB/s is the aggregate", parFiles, parFiles, r.parSize>>20), "both servers", r.par, nil)
	}
	if len(r.wan) > 0 {
		r.wanTable(out)
	}
	r.targets(out)
	r.s3Table(out)
	if len(r.loginRes) > 0 {
		fmt.Fprintf(out, "\nLogins per second (connect, USER, PASS, QUIT; %d concurrent loops for %v):\n\n", *flagLoginPar, *flagLoginDur)
		fmt.Fprintln(out, "| server | password check | logins/s | errors |")
		fmt.Fprintln(out, "|---|---|---:|---:|")
		var ftpdRate, bestRate float64
		bestName := ""
		for _, l := range r.loginRes {
			check := "SHA-512 crypt(3), 5000 rounds"
			switch l.name {
			case "ftpd":
				check = fmt.Sprintf("bcrypt cost %d", *flagCost)
				ftpdRate = l.perSec
			case string(peers.Vsftpd):
				check += " (PAM, /etc/shadow)"
			case string(peers.ProFTPD):
				check += " (AuthUserFile)"
			case string(peers.PureFTPd):
				check += " (PureDB)"
			}
			if l.name != "ftpd" && l.perSec > bestRate {
				bestRate, bestName = l.perSec, l.name
			}
			fmt.Fprintf(out, "| %s | %s | %.1f | %d |\n", l.name, check, l.perSec, l.errs)
		}
		if bestRate > 0 {
			fmt.Fprintf(out, "\nftpd = %.2f× the best third-party server (%s).\n", ftpdRate/bestRate, bestName)
		}
	}
	if len(r.memRes) > 0 {
		fmt.Fprintf(out, "\nftpd memory with idle logged-in sessions (VmRSS; %d MiB with none):\n\n", r.memBase>>20)
		fmt.Fprintln(out, "| idle sessions | RSS MiB | KiB per session |")
		fmt.Fprintln(out, "|---:|---:|---:|")
		for _, m := range r.memRes {
			fmt.Fprintf(out, "| %d | %.0f | %.1f |\n", m.sessions, float64(m.rss)/(1<<20), float64(m.rss-r.memBase)/1024/float64(m.sessions))
		}
	}
	for _, n := range r.notes {
		fmt.Fprintf(out, "\nNote: %s\n", n)
	}
}

// startSecure starts the secure FXP contenders: an ftpd pair with explicit
// TLS, and a ProFTPD pair with mod_tls when ProFTPD is among kinds (the
// only other server that answers SSCN).
func (w *workspace) startSecure(kinds []peers.Kind) ([]*contender, error) {
	certDir := filepath.Join(w.dir, "tls")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	cert, err := testcert.Write(certDir, netip.MustParseAddr(hostA), netip.MustParseAddr(hostB), netip.MustParseAddr(peerA), netip.MustParseAddr(peerB))
	if err != nil {
		return nil, err
	}
	tlsTable := fmt.Sprintf("\n[server.tls]\nmode = \"explicit\"\ncert_file = %q\nkey_file = %q\n", cert.Cert, cert.Key)
	f, err := w.startFtpdPair("ftpd-secure", *flagFtpd, 23400, tlsTable)
	if err != nil {
		return nil, err
	}
	f.secure = true
	out := []*contender{f}
	for _, k := range kinds {
		if k != peers.ProFTPD {
			continue
		}
		c := &contender{name: "proftpd-secure", user: peers.UserName, pass: peers.Password, clientA: client, clientB: client, secure: true}
		err := w.startPeers(c, [2]string{peerA, peerB}, "proftpd-secure", func(i int, o *peers.Options) {
			o.Kind, o.PassiveMin, o.PassiveMax = k, 24800+i*20, 24800+i*20+15
			o.TLSCert, o.TLSKey = cert.Cert, cert.Key
		})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
