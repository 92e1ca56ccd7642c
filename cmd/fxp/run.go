package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/fxp"
)

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1 // a transfer failed or was refused, or was interrupted
	exitUsage  = 2
	exitLocked = 3 // fxp run: another run holds the lock
)

// env is the process around run, injected for tests.
type env struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	home           func() (string, error)
	tty            bool // stdout is a terminal: draw progress bars
	now            func() time.Time
}

const usageText = `usage: fxp copy [flags] SRC DST
       fxp mirror [flags] SRC DST     (fxp mirror -h)
       fxp run [flags] JOBS.toml      (fxp run -h)
       fxp sites [check NAME]         (fxp sites -h)

Copies SRC to DST directly between two FTP servers (FXP): the data flows
from one server to the other, never through this machine.

SRC and DST are SITE:PATH names from the sites file (--sites), or
ftp://[user[:password]@]host[:port]/path URLs (ftps:// for
explicit TLS on the control connections; FXP data stays clear, PROT C).
Paths are relative to the login directory (ftp://h//abs for an absolute
one). A DST ending in "/" receives the file, or with -r the tree, under its
own name. IPv6 hosts go in brackets: ftp://[::1]:2121/f.

Each file is written to a temporary name beside its target,
".fxp-<name>.<8 hex>.part" (the hex digits hash the source URL and its size
and time), and renamed onto the target (RNFR/RNTO) only once its size, and
with --verify its digest, match the source: the target is never seen half
written. An interrupted copy leaves the temporary file; --resume continues
it from its size (REST + APPE) when the source is unchanged. Without
--resume a fresh copy removes it and starts over. If the destination
refuses to rename onto an existing file, the old target is deleted (DELE)
only after the new file was checked, then renamed again. mirror neither
copies nor deletes temporary files and lists the destination's in its
plan ("keep"); remove those of abandoned copies by hand. A destination
that refuses to create the temporary file (5xx to APPE and STOR) gets the
target written directly; --in-place always does that (--resume then
continues the target).

Credentials come from the URL, else --src-user/--dst-user with the
password in the environment variable named by --src-pass-env/--dst-pass-env,
else ~/.netrc ($NETRC, or --netrc), else anonymous. Passwords are never
printed.

Servers are treated as hostile: a listed name that is not one plain path
element (".", "..", "/", "\\", control bytes, 0xFF, invalid UTF-8, edge
spaces) is skipped with an error and the run exits 1 (the rest is copied);
a PASV address other than the passive server's control address is refused
(--allow-foreign-pasv); replies (64 KiB a line, 1 MiB in all) and
listings (--max-listing, --max-entries) are bounded; silent servers and
data connections time out (--timeout, --data-timeout); server text is
printed escaped; a netrc with passwords must be mode 0600.

Exit status: 0 done, 1 a transfer failed or was refused (or was
interrupted, or names were skipped), 2 usage error.

Flags:
`

type copyFlags struct {
	passive, bind, netrc      string
	sites                     string
	srcUser, dstUser          string
	srcPassEnv, dstPassEnv    string
	caFile                    string
	insecure, secure          bool
	sscn                      string
	resume, verify, recursive bool
	inPlace                   bool
	jsonOut, debug            bool
	jobs, retries             int
	timeout, poll, backoff    time.Duration
	dataTimeout               time.Duration
	allowForeignPasv          bool
	maxListing                int64
	maxEntries                int
}

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usageText)
		newCopyFlags(e.stderr, &copyFlags{}).PrintDefaults()
		return exitUsage
	}
	switch args[0] {
	case "copy", "cp":
		return runCopy(ctx, args[1:], e)
	case "mirror":
		return runMirror(ctx, args[1:], e)
	case "sites":
		return runSites(ctx, args[1:], e)
	case "run":
		return runJobs(ctx, args[1:], e)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usageText)
		newCopyFlags(e.stdout, &copyFlags{}).PrintDefaults()
		return exitOK
	}
	fmt.Fprintf(e.stderr, "fxp: unknown command %q (want: fxp copy SRC DST; fxp help)\n", args[0])
	return exitUsage
}

func newCopyFlags(out io.Writer, f *copyFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("fxp copy", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.passive, "passive", "auto", "side that gets PASV: src, dst, or auto (the destination, then the source)")
	fs.BoolVar(&f.resume, "resume", false, "continue the temporary file an interrupted copy left (REST on the source, APPE on the destination); a target of the source's size counts as done")
	fs.BoolVar(&f.inPlace, "in-place", false, "write the target itself, not a temporary file renamed onto it (for destinations that refuse RNFR/RNTO); --resume then continues the target")
	fs.BoolVar(&f.verify, "verify", false, "compare HASH (SHA-256, or XSHA256/XMD5/XCRC), else SIZE, of both ends; exit 1 on mismatch")
	fs.BoolVar(&f.recursive, "r", false, "copy a directory tree (MLSD on the source, MKD on the destination)")
	fs.IntVar(&f.jobs, "j", 1, "files copied in parallel, each with its own control connections")
	fs.IntVar(&f.retries, "retries", 0, "tries again per failed file (and failed connection), resuming the partial file when the source supports REST")
	fs.DurationVar(&f.backoff, "backoff", 5*time.Second, "wait before the first retry; doubled each time (at most 5m)")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object per event (start, progress, done, error)")
	fs.StringVar(&f.bind, "bind", "", "local IP address for control and data connections")
	fs.StringVar(&f.netrc, "netrc", "", "netrc file (default $NETRC, else ~/.netrc)")
	fs.StringVar(&f.sites, "sites", "", "sites file for SITE:PATH arguments (default $XDG_CONFIG_HOME/fxp/sites.toml, else ~/.config/fxp/sites.toml)")
	fs.StringVar(&f.srcUser, "src-user", "", "source login, when the URL has none")
	fs.StringVar(&f.dstUser, "dst-user", "", "destination login, when the URL has none")
	fs.StringVar(&f.srcPassEnv, "src-pass-env", "", "NAME of the environment variable holding the source password")
	fs.StringVar(&f.dstPassEnv, "dst-pass-env", "", "NAME of the environment variable holding the destination password")
	fs.StringVar(&f.caFile, "ca", "", "PEM file of CA certificates to trust for ftps://")
	fs.BoolVar(&f.insecure, "insecure", false, "ftps://: do not verify the servers' certificates")
	fs.BoolVar(&f.secure, "secure", false, "secure FXP: protect the data between the servers with TLS (PROT P on both, SSCN ON or CPSV on one); needs ftps:// on both")
	fs.StringVar(&f.sscn, "sscn", "passive", "with --secure, the server that is the TLS client: passive, active, src or dst (the other one if it lacks SSCN/CPSV)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "connect and reply timeout (not the transfer itself)")
	fs.DurationVar(&f.dataTimeout, "data-timeout", 0, "a listing's data connection, or an FXP transfer whose destination size stands still, that moves no byte this long fails (default: --timeout)")
	fs.BoolVar(&f.allowForeignPasv, "allow-foreign-pasv", false, "hand the other server a PASV address that is not the passive server's control address (a server behind NAT); refused by default (also allow_foreign_pasv per site)")
	fs.Int64Var(&f.maxListing, "max-listing", ftpclient.DefaultMaxListing, "bytes one directory listing may have; past it the listing fails")
	fs.IntVar(&f.maxEntries, "max-entries", fxp.DefaultMaxEntries, "entries a tree listing (-r, mirror) may hold; past it the listing fails")
	fs.DurationVar(&f.poll, "poll", 250*time.Millisecond, "progress poll interval")
	fs.BoolVar(&f.debug, "debug", false, "log protocol steps on stderr")
	return fs
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseCommand parses a subcommand's flags with help text; done is true
// when the command ends here (-h, or a flag error), with code.
func parseCommand(fs *flag.FlagSet, help string, args []string, e env) (pos []string, code int, done bool) {
	fs.Usage = func() {
		fmt.Fprint(e.stderr, help)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, exitOK, true
	case err != nil:
		return nil, exitUsage, true
	}
	return pos, exitOK, false
}

// usageError prints a usage error for cmd and returns exitUsage.
func usageError(e env, cmd, hint string) func(string, ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "fxp "+cmd+": "+format+"\n", a...)
		if hint != "" {
			fmt.Fprintln(e.stderr, hint)
		}
		return exitUsage
	}
}

// srcDstCommand parses the flags and the SRC and DST arguments of copy
// and mirror; done is true when the command ends here, with code.
func srcDstCommand(fs *flag.FlagSet, f *copyFlags, help, cmd, hint string, args []string, e env) (src, dst fxp.Endpoint, opts fxp.Options, code int, done bool) {
	pos, code, done := parseCommand(fs, help, args, e)
	if done {
		return src, dst, opts, code, true
	}
	usage := usageError(e, cmd, hint)
	if len(pos) != 2 {
		return src, dst, opts, usage("want SRC and DST, got %d argument(s)", len(pos)), true
	}
	src, dst, err := endpoints(pos[0], pos[1], f, e)
	if err != nil {
		return src, dst, opts, usage("%v", err), true
	}
	if opts, err = options(f, e); err != nil {
		return src, dst, opts, usage("%v", err), true
	}
	return src, dst, opts, exitOK, false
}

func runCopy(ctx context.Context, args []string, e env) int {
	var f copyFlags
	src, dst, opts, code, done := srcDstCommand(newCopyFlags(e.stderr, &f), &f, usageText, "copy",
		"usage: fxp copy [flags] SRC DST (fxp help for more)", args, e)
	if done {
		return code
	}
	rep := newReporter(&f, e)
	opts.Reporter = rep
	sum, err := fxp.New(opts).Copy(ctx, src, dst)
	rep.Close()
	if !f.jsonOut {
		fmt.Fprintf(e.stdout, "%s\n", summary(sum))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp: %v\n", printable(err))
		return exitFail
	}
	return exitOK
}

func summary(s fxp.Summary) string {
	msg := fmt.Sprintf("fxp: %d file(s) copied", s.Files)
	if s.Skipped > 0 {
		msg += fmt.Sprintf(" (%d already complete)", s.Skipped)
	}
	msg += fmt.Sprintf(", %d bytes moved", s.Bytes)
	if s.Passive != "" {
		msg += ", PASV on " + s.Passive
	}
	if s.Failed > 0 {
		msg += fmt.Sprintf(", %d failed", s.Failed)
	}
	if s.Refused > 0 {
		msg += fmt.Sprintf(", %d listed name(s) skipped (not plain path elements)", s.Refused)
	}
	return msg
}

// endpoints parses both arguments (URLs or SITE:PATH) and fills in their
// credentials.
func endpoints(rawSrc, rawDst string, f *copyFlags, e env) (fxp.Endpoint, fxp.Endpoint, error) {
	r := &resolver{e: e, sitesFlag: f.sites, netrcFlag: f.netrc}
	src, err := r.endpoint(rawSrc, f.srcUser, f.srcPassEnv)
	if err != nil {
		return src, src, fmt.Errorf("SRC: %w", err)
	}
	dst, err := r.endpoint(rawDst, f.dstUser, f.dstPassEnv)
	if err != nil {
		return src, dst, fmt.Errorf("DST: %w", err)
	}
	if f.secure && (!src.TLS || !dst.TLS) {
		return src, dst, errors.New("--secure needs TLS on both servers: ftps:// URLs (or tls in the sites file)")
	}
	return src, dst, nil
}

// loadNetrc reads --netrc, else $NETRC, else ~/.netrc. A file named
// explicitly must exist; a missing ~/.netrc is no netrc.
func loadNetrc(flagPath string, e env) (*fxp.Netrc, error) {
	path, explicit := flagPath, flagPath != ""
	if !explicit {
		if v, ok := e.lookupEnv("NETRC"); ok && v != "" {
			path, explicit = v, true
		}
	}
	if !explicit {
		home, err := e.home()
		if err != nil {
			return nil, nil
		}
		path = filepath.Join(home, ".netrc")
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("netrc: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the mode of the file read, not of a name
	if err != nil {
		return nil, fmt.Errorf("netrc: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("netrc: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("netrc %s: larger than 1 MiB", path)
	}
	n, err := fxp.ParseNetrc(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// As ftp(1) does: passwords in a file others can read are refused.
	if n.HasPasswords() {
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("netrc %s holds passwords and has mode %04o: group and others must have no access (chmod 600 %s)", path, perm, path)
		}
	}
	return n, nil
}

// options turns the flags into client options (without the reporter).
func options(f *copyFlags, e env) (fxp.Options, error) {
	var o fxp.Options
	var err error
	if o.Passive, err = fxp.ParsePassive(f.passive); err != nil {
		return o, err
	}
	if f.jobs < 1 {
		return o, fmt.Errorf("-j %d: want 1 or more", f.jobs)
	}
	if f.bind != "" {
		if o.Bind, err = netip.ParseAddr(f.bind); err != nil {
			return o, fmt.Errorf("--bind %q: not an IP address", f.bind)
		}
	}
	if f.retries < 0 || f.backoff < 0 {
		return o, errors.New("--retries and --backoff must not be negative")
	}
	o.Retries, o.Backoff = f.retries, f.backoff
	if f.timeout <= 0 || f.poll <= 0 {
		return o, errors.New("--timeout and --poll must be positive")
	}
	if f.dataTimeout < 0 || f.maxListing < 0 || f.maxEntries < 0 {
		return o, errors.New("--data-timeout, --max-listing and --max-entries must not be negative")
	}
	o.DataTimeout, o.AllowForeignPasv, o.MaxListing, o.MaxEntries = f.dataTimeout, f.allowForeignPasv, f.maxListing, f.maxEntries
	if f.caFile != "" || f.insecure {
		cfg := &tls.Config{InsecureSkipVerify: f.insecure} //nolint:gosec // asked for with --insecure
		if f.caFile != "" {
			pem, err := os.ReadFile(f.caFile)
			if err != nil {
				return o, fmt.Errorf("--ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("--ca %s: no PEM certificates", f.caFile)
			}
		}
		o.TLS = cfg
	}
	o.Resume, o.Verify, o.Recursive, o.Jobs = f.resume, f.verify, f.recursive, f.jobs
	o.InPlace = f.inPlace
	side, err := fxp.ParseSSCNSide(f.sscn)
	if err != nil {
		return o, err
	}
	o.Secure, o.SSCN = f.secure, side
	o.Timeout, o.PollInterval, o.Now = f.timeout, f.poll, e.now
	if f.debug {
		o.Log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o, nil
}

// printable is an error's text as fxp prints it: whatever a server or a
// listing put in it escaped (ftpclient.Printable), so it cannot drive the
// terminal or disguise a path. Line breaks between joined errors stay.
func printable(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = ftpclient.Printable(l)
	}
	return strings.Join(lines, "\n")
}
