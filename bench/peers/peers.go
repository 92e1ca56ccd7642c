// Package peers starts real third-party FTP servers (vsftpd, ProFTPD,
// Pure-FTPd) as foreground child processes on a loopback address, each with
// a configuration of its own, one FTP user and FXP switched on or off. The
// interop tests (integration/interop_*_test.go) and the benchmark program
// (bench/) share it. It follows /work/shared/PEERS.md; where the programs
// disagreed with that note, the code here says so.
//
// The programs are found on PATH or under $FTPD_PEERS_DIR (default
// /opt/ftpd-peers, where .ci/install-peers unpacks the ones apt cannot
// install side by side). Starting a server needs root: the servers
// chroot, switch users and (Pure-FTPd) bind port 20.
package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind names a third-party server.
type Kind string

// The servers this package can start.
const (
	Vsftpd   Kind = "vsftpd"
	ProFTPD  Kind = "proftpd"
	PureFTPd Kind = "pure-ftpd"
)

// Kinds lists every server, in a fixed order.
var Kinds = []Kind{Vsftpd, ProFTPD, PureFTPd}

// Test user shared by every server. vsftpd authenticates system users
// through PAM, so this is a system account (created by EnsureUser); ProFTPD
// and Pure-FTPd get the same name and hash in files of their own.
const (
	UserName = "ftpdinterop"
	Password = "interop-pw-1"
	// PasswordHash is Password as SHA-512 crypt(3) (openssl passwd -6):
	// milliseconds per check, unlike pure-pw's argon2id (seconds).
	PasswordHash = "$6$ftpdinterop0001$SQBtLqi5/Q3oc39OKcZNt9Oa9kde1zqB1BCJhd.JsIyPUlX8Wuzpr0utgEfTLaT5IRLnO78zhkbhjTU5NgW42."
	// PAMService is the PAM service .ci/install-peers writes (pam_unix
	// only). When it is missing, Debian's own "vsftpd" service is used.
	PAMService = "ftpd-interop"
)

// DefaultDir is where .ci/install-peers unpacks servers.
const DefaultDir = "/opt/ftpd-peers"

// InstallHint is what to run when a program is missing.
const InstallHint = "install them with: sudo .ci/install-peers"

// PeersDir is $FTPD_PEERS_DIR or DefaultDir.
func PeersDir() string {
	if d := os.Getenv("FTPD_PEERS_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// Find returns the path of program name: on PATH, else under PeersDir()
// (<dir>/*/usr/sbin, <dir>/*/usr/bin), else /usr/sbin and /sbin (not on a
// normal user's PATH).
func Find(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	for _, pat := range []string{"*/usr/sbin", "*/usr/bin", "*/sbin", "*/bin"} {
		m, _ := filepath.Glob(filepath.Join(PeersDir(), pat))
		dirs = append(dirs, m...)
	}
	dirs = append(dirs, "/usr/sbin", "/sbin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or under %s", name, PeersDir())
}

// Programs lists the executables a kind needs.
func (k Kind) Programs() []string {
	switch k {
	case Vsftpd:
		return []string{"vsftpd"}
	case ProFTPD:
		return []string{"proftpd"}
	case PureFTPd:
		return []string{"pure-ftpd", "pure-pw"}
	}
	return nil
}

// Available reports whether every program of k is installed and, if not,
// why.
func (k Kind) Available() error {
	for _, p := range k.Programs() {
		if _, err := Find(p); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root to run (chroot, setuid, port 20)", k)
	}
	return nil
}

// EnsureUser makes sure the system user UserName exists with PasswordHash
// and returns its uid and gid. It needs root; it only creates the account
// when it is missing (useradd, no home directory, no login shell needed)
// and resets its password hash and home ("/") every time (usermod).
func EnsureUser() (uid, gid int, err error) {
	u, err := user.Lookup(UserName)
	if err != nil {
		if os.Geteuid() != 0 {
			return 0, 0, fmt.Errorf("system user %s is missing and only root may create it", UserName)
		}
		useradd, ferr := Find("useradd")
		if ferr != nil {
			return 0, 0, ferr
		}
		out, rerr := exec.Command(useradd, "--system", "--no-create-home", "--home-dir", "/",
			"--shell", "/bin/sh", "--user-group", UserName).CombinedOutput()
		if rerr != nil && !bytes.Contains(out, []byte("already exists")) {
			return 0, 0, fmt.Errorf("useradd %s: %v: %s", UserName, rerr, out)
		}
		if u, err = user.Lookup(UserName); err != nil {
			return 0, 0, err
		}
	}
	if os.Geteuid() == 0 {
		usermod, ferr := Find("usermod")
		if ferr != nil {
			return 0, 0, ferr
		}
		// vsftpd changes to the home directory before local_root: it
		// must exist ("500 OOPS: cannot change directory:/nonexistent").
		if out, err := exec.Command(usermod, "-p", PasswordHash, "-d", "/", UserName).CombinedOutput(); err != nil {
			return 0, 0, fmt.Errorf("usermod -p -d / %s: %v: %s", UserName, err, out)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// Options describe one server to start.
type Options struct {
	Kind Kind
	// Addr is the loopback address to listen on (127.0.0.4 or 127.0.0.5
	// in tests).
	Addr netip.Addr
	// Dir is a root-owned directory for the configuration, logs and pid
	// files. Every directory above it must be searchable by UserName
	// (the user root lives below it).
	Dir string
	// FXP switches the server's foreign-address checks off in both
	// directions: vsftpd pasv_promiscuous+port_promiscuous, ProFTPD
	// AllowForeignAddress, Pure-FTPd -w.
	FXP bool
	// PassiveMin and PassiveMax, if set, are the passive port range;
	// otherwise 16 free ports in 20000-31999 are picked.
	PassiveMin, PassiveMax int
	// TLSCert and TLSKey (PEM files), if set, turn on explicit FTPS
	// (ProFTPD only: mod_tls, TLS 1.2, SSCN; an ECDSA key as the tests
	// make; no session reuse required,
	// and as TLS client it does not verify the other server).
	TLSCert, TLSKey string
	// NetNS, if set, is a named network namespace (ip netns) the server
	// runs in; Port and PassiveMin/PassiveMax must then be set, and Dial
	// reaches the namespace for the readiness check.
	NetNS string
	Port  int
	Dial  func(addr string) (net.Conn, error)
	// ProFTPDConfig, if set, is appended to ProFTPD's configuration
	// ("AllowStoreRestart on", or "AllowOverwrite off", which replaces
	// the default "on").
	ProFTPDConfig string
}

// Server is one running third-party server.
type Server struct {
	Kind Kind
	// Addr is the control address, ip:port.
	Addr string
	// Root is the FTP user's directory on disk (owned by UserName).
	Root string
	// PassiveMin and PassiveMax bound its passive ports.
	PassiveMin, PassiveMax int
	// Config is the configuration file (or, for Pure-FTPd, the command
	// line).
	Config string
	dir    string
	cmd    *exec.Cmd
	log    string // file holding the process's output
	done   chan struct{}
	uid    int
	gid    int
}

// Start writes a configuration for opts and starts the server in the
// foreground, in a process group of its own; it returns once the server
// greets (220) on its control port. Call Stop when done.
func Start(opts Options) (*Server, error) {
	if err := opts.Kind.Available(); err != nil {
		return nil, err
	}
	uid, gid, err := EnsureUser()
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: opts.Kind, dir: opts.Dir, done: make(chan struct{}), uid: uid, gid: gid}
	s.Root = filepath.Join(opts.Dir, "root")
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(s.Root, uid, gid); err != nil {
		return nil, err
	}
	if opts.NetNS != "" {
		if opts.Port == 0 || opts.PassiveMin == 0 || opts.Dial == nil {
			return nil, errors.New("peers: NetNS needs Port, PassiveMin/PassiveMax and Dial")
		}
		s.PassiveMin, s.PassiveMax = opts.PassiveMin, opts.PassiveMax
		s.Addr = netip.AddrPortFrom(opts.Addr, uint16(opts.Port)).String()
		if err := s.start(opts, opts.Port); err != nil {
			s.Stop()
			return nil, err
		}
		return s, nil
	}
	var lastErr error
	// A port picked free may be taken before the server binds it; retry.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort(opts.Addr)
		if err != nil {
			return nil, err
		}
		if opts.PassiveMin > 0 {
			s.PassiveMin, s.PassiveMax = opts.PassiveMin, opts.PassiveMax
		} else if s.PassiveMin, s.PassiveMax, err = freeRange(opts.Addr, 16); err != nil {
			return nil, err
		}
		s.Addr = netip.AddrPortFrom(opts.Addr, uint16(port)).String()
		s.done = make(chan struct{})
		if lastErr = s.start(opts, port); lastErr == nil {
			return s, nil
		}
		s.Stop()
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	return nil, lastErr
}

func (s *Server) start(opts Options, port int) error {
	var args []string
	var stdin bool
	switch opts.Kind {
	case Vsftpd:
		cfg, err := s.vsftpdConfig(opts, port)
		if err != nil {
			return err
		}
		args = []string{cfg}
		// vsftpd reports start-up errors ("500 OOPS: ...") on fd 0.
		stdin = true
	case ProFTPD:
		cfg, err := s.proftpdConfig(opts, port)
		if err != nil {
			return err
		}
		args = []string{"-n", "-c", cfg}
	case PureFTPd:
		a, err := s.pureFTPdArgs(opts, port)
		if err != nil {
			return err
		}
		args = a
	}
	exe, err := Find(opts.Kind.Programs()[0])
	if err != nil {
		return err
	}
	s.log = filepath.Join(s.dir, string(opts.Kind)+".out")
	out, err := os.OpenFile(s.log, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if opts.NetNS != "" {
		ip, err := Find("ip")
		if err != nil {
			return err
		}
		// ip execs the server: the pid stays the server's.
		args = append([]string{"netns", "exec", opts.NetNS, exe}, args...)
		exe = ip
	}
	s.cmd = exec.Command(exe, args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if stdin {
		s.cmd.Stdin = out
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	greet := Greet
	if opts.Dial != nil {
		greet = func(addr string) error { return GreetVia(opts.Dial, addr) }
	}
	return s.waitReady(greet, 10*time.Second)
}

// waitReady polls the control port until the server greets with 220.
func (s *Server) waitReady(greet func(string) error, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited at start (%v): %s", s.Kind, s.cmd.ProcessState, s.Log())
		default:
		}
		if last = greet(s.Addr); last == nil {
			return nil
		}
		time.Sleep(30 * time.Millisecond)
	}
	return fmt.Errorf("%s on %s did not greet within %v (%v): %s", s.Kind, s.Addr, within, last, s.Log())
}

// Greet connects to addr, expects a 220 greeting and sends QUIT.
func Greet(addr string) error {
	return GreetVia(func(a string) (net.Conn, error) { return net.DialTimeout("tcp", a, time.Second) }, addr)
}

// GreetVia is Greet over a connection made by dial.
func GreetVia(dial func(addr string) (net.Conn, error), addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:n], []byte("220")) {
		return fmt.Errorf("greeting %q", buf[:n])
	}
	_, _ = c.Write([]byte("QUIT\r\n"))
	_, _ = c.Read(buf)
	return nil
}

// Log returns what the server wrote: its output plus its own log files.
func (s *Server) Log() string {
	var b strings.Builder
	for _, name := range []string{string(s.Kind) + ".out", "vsftpd.log", "proftpd.log", "xfer.log"} {
		if data, err := os.ReadFile(filepath.Join(s.dir, name)); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "--- %s\n%s", name, data)
		}
	}
	return b.String()
}

// PID is the server's (master) process id.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop ends the server and its session processes: SIGTERM to its process
// group, SIGKILL after 3 s. It waits for the master to exit and returns an
// error if it would not.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			return fmt.Errorf("%s (pid %d) did not exit", s.Kind, pgid)
		}
	}
	// Session processes of the group that outlived the master.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

// WriteFile puts data into the FTP user's root as name, owned by the user.
func (s *Server) WriteFile(name string, data []byte) error {
	p := filepath.Join(s.Root, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	return os.Chown(p, s.uid, s.gid)
}

// Chown gives path (below Root) to the FTP user.
func (s *Server) Chown(path string) error { return os.Chown(path, s.uid, s.gid) }

func (s *Server) vsftpdConfig(opts Options, port int) (string, error) {
	empty := filepath.Join(s.dir, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return "", err
	}
	pam := PAMService
	if _, err := os.Stat("/etc/pam.d/" + pam); err != nil {
		pam = "vsftpd" // Debian's own: also checks /etc/ftpusers and the shell
	}
	yes := map[bool]string{true: "YES", false: "NO"}
	text := fmt.Sprintf(`# vsftpd for ftpd's interop tests/benchmarks
listen=YES
listen_ipv6=NO
listen_address=%s
listen_port=%d
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=%s
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_enable=YES
pasv_min_port=%d
pasv_max_port=%d
connect_from_port_20=NO
seccomp_sandbox=NO
pam_service_name=%s
secure_chroot_dir=%s
userlist_enable=NO
tcp_wrappers=NO
max_per_ip=0
max_clients=0
xferlog_enable=YES
vsftpd_log_file=%s
dual_log_enable=NO
syslog_enable=NO
use_sendfile=YES
# FXP: accept a passive connection from another IP, PORT to another IP.
pasv_promiscuous=%s
port_promiscuous=%s
`, opts.Addr, port, s.Root, s.PassiveMin, s.PassiveMax, pam, empty,
		filepath.Join(s.dir, "vsftpd.log"), yes[opts.FXP], yes[opts.FXP])
	path := filepath.Join(s.dir, "vsftpd.conf")
	s.Config = path
	return path, os.WriteFile(path, []byte(text), 0o600)
}

func (s *Server) proftpdConfig(opts Options, port int) (string, error) {
	passwd := filepath.Join(s.dir, "proftpd.passwd")
	group := filepath.Join(s.dir, "proftpd.group")
	if err := os.WriteFile(passwd, fmt.Appendf(nil, "%s:%s:%d:%d::%s:/bin/sh\n", UserName, PasswordHash, s.uid, s.gid, s.Root), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(group, fmt.Appendf(nil, "%s:x:%d:\n", UserName, s.gid), 0o600); err != nil {
		return "", err
	}
	on := map[bool]string{true: "on", false: "off"}
	text := fmt.Sprintf(`# ProFTPD for ftpd's interop tests/benchmarks
ServerType standalone
ServerName "ftpd interop"
ServerIdent on "ProFTPD interop"
DefaultServer on
DefaultAddress %s
# Two instances on one port number need this (else 0.0.0.0 is bound).
SocketBindTight on
Port %d
PassivePorts %d %d
UseIPv6 off
UseReverseDNS off
User nobody
Group nogroup
MaxInstances 500
PidFile %s
ScoreboardFile %s
DelayTable %s
SystemLog %s
TransferLog %s
WtmpLog off
AuthPAM off
AuthOrder mod_auth_file.c
AuthUserFile %s
AuthGroupFile %s
RequireValidShell off
UseFtpUsers off
DefaultRoot ~
AllowOverwrite on
Umask 022
UseSendfile on
# FXP: foreign addresses in PORT and on passive connections.
AllowForeignAddress %s
`, opts.Addr, port, s.PassiveMin, s.PassiveMax,
		filepath.Join(s.dir, "proftpd.pid"), filepath.Join(s.dir, "proftpd.scoreboard"),
		filepath.Join(s.dir, "proftpd.delay"), filepath.Join(s.dir, "proftpd.log"),
		filepath.Join(s.dir, "xfer.log"), passwd, group, on[opts.FXP])
	if opts.TLSCert != "" {
		exe, err := Find("proftpd")
		if err != nil {
			return "", err
		}
		// Modules sit beside the binary's tree (usr/sbin -> usr/lib/proftpd),
		// also when the package is unpacked under PeersDir.
		modules := filepath.Join(filepath.Dir(filepath.Dir(exe)), "lib", "proftpd")
		// TLS 1.2: ProFTPD 1.3.8's TLS 1.3 SSCN sender truncates about a
		// third of transfers, even to another ProFTPD.
		text += fmt.Sprintf(`ModulePath %s
LoadModule mod_tls.c
<IfModule mod_tls.c>
TLSEngine on
TLSLog %s
TLSProtocol TLSv1.2
TLSECCertificateFile %s
TLSECCertificateKeyFile %s
TLSRequired off
TLSOptions NoSessionReuseRequired
TLSVerifyClient off
TLSVerifyServer off
</IfModule>
`, modules, filepath.Join(s.dir, "tls.log"), opts.TLSCert, opts.TLSKey)
	}
	if opts.ProFTPDConfig != "" {
		// ProFTPD takes the first of two equal directives: drop ours.
		if strings.Contains(opts.ProFTPDConfig, "AllowOverwrite") {
			text = strings.Replace(text, "AllowOverwrite on\n", "", 1)
		}
		text += opts.ProFTPDConfig + "\n"
	}
	path := filepath.Join(s.dir, "proftpd.conf")
	s.Config = path
	return path, os.WriteFile(path, []byte(text), 0o600)
}

func (s *Server) pureFTPdArgs(opts Options, port int) ([]string, error) {
	passwd := filepath.Join(s.dir, "pureftpd.passwd")
	pdb := filepath.Join(s.dir, "pureftpd.pdb")
	// account:password:uid:gid:gecos:home/./: + 12 empty fields.
	line := fmt.Sprintf("%s:%s:%d:%d::%s/./::::::::::::\n", UserName, PasswordHash, s.uid, s.gid, s.Root)
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		return nil, err
	}
	purePW, err := Find("pure-pw")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, purePW, "mkdb", pdb, "-f", passwd).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pure-pw mkdb: %v: %s", err, out)
	}
	args := []string{
		"-S", fmt.Sprintf("%s,%d", opts.Addr, port),
		"-p", fmt.Sprintf("%d:%d", s.PassiveMin, s.PassiveMax),
		"-l", "puredb:" + pdb,
		"-E", "-A", "-H", "-4",
		"-f", "none",
		"-g", filepath.Join(s.dir, "pure-ftpd.pid"),
		"-c", "500", "-C", "500",
	}
	if opts.FXP {
		args = append(args, "-w") // FXP for authenticated users
	}
	s.Config = "pure-ftpd " + strings.Join(args, " ")
	return args, nil
}

// freePort returns a port nothing listened on a moment ago on addr.
func freePort(addr netip.Addr) (int, error) {
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeRange picks n consecutive ports in 20000-31999, below the kernel's
// ephemeral range (so ftpd's kernel-chosen passive ports and client ports
// never collide with it), all free on addr and on 0.0.0.0 right now.
func freeRange(addr netip.Addr, n int) (int, int, error) {
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN((32000-20000)/n)*n
		ok := true
		for p := base; p < base+n && ok; p++ {
			for _, a := range []string{addr.String(), "0.0.0.0"} {
				l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(p)))
				if err != nil {
					ok = false
					break
				}
				l.Close()
			}
		}
		if ok {
			return base, base + n - 1, nil
		}
	}
	return 0, 0, errors.New("no free passive port range in 20000-31999")
}
