package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/fxp"
	"github.com/ftpd/ftpd/server"
)

// labOptions configure "ftpd lab".
type labOptions struct {
	a, b   netip.AddrPort // listen addresses of A and B
	memory bool           // memory storage instead of a temporary directory
	size   int64          // bytes of the sample file on A
	demo   bool           // copy the sample A -> B with fxp
	exit   bool           // exit after setting up (and the demo)
	bind   netip.Addr     // client address for the demo and the upload
	tty    bool           // stdout is a terminal: progress bar
	cost   int            // bcrypt cost of the lab passwords
}

const labUser = "lab"

// labSample is the sample file's name on A.
const labSample = "sample.bin"

func runLab(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftpd lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := fs.String("a", "127.0.0.2:2121", "address of server A (holds the sample file)")
	b := fs.String("b", "127.0.0.3:2121", "address of server B")
	memory := fs.Bool("memory", false, "keep the users' files in memory instead of a temporary directory")
	size := conf.Size(64 << 20)
	fs.TextVar(&size, "size", &size, "size of the random sample file on A")
	demo := fs.Bool("demo", false, "copy the sample from A to B with fxp (progress bar, SHA-256 verified), then serve")
	exit := fs.Bool("exit", false, "exit after setting up (and the demo) instead of serving until Ctrl-C")
	bind := fs.String("bind", "", "client address for the demo (default: the kernel's choice)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ftpd lab [-a IP:PORT] [-b IP:PORT] [-memory] [-size 64MiB] [-demo] [-exit]\n\n"+
			"Starts two paired ftpd servers, A and B, that allow FXP only between\n"+
			"themselves, with a user on each and a sample file on A, and prints the fxp\n"+
			"command that copies it. Serves until SIGINT/SIGTERM.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ftpd lab: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	opts := labOptions{memory: *memory, size: int64(size), demo: *demo, exit: *exit, tty: isTerminal(stdout), cost: bcrypt.DefaultCost}
	var err error
	if opts.a, err = netip.ParseAddrPort(*a); err != nil {
		fmt.Fprintf(stderr, "ftpd lab: -a %q: want IP:PORT\n", *a)
		return exitConfig
	}
	if opts.b, err = netip.ParseAddrPort(*b); err != nil {
		fmt.Fprintf(stderr, "ftpd lab: -b %q: want IP:PORT\n", *b)
		return exitConfig
	}
	if *bind != "" {
		if opts.bind, err = netip.ParseAddr(*bind); err != nil {
			fmt.Fprintf(stderr, "ftpd lab: -bind %q: not an IP address\n", *bind)
			return exitConfig
		}
	}
	if opts.a.Addr() == opts.b.Addr() {
		fmt.Fprintln(stderr, "ftpd lab: A and B need different IP addresses (FXP tells servers apart by address)")
		return exitConfig
	}
	if opts.size < 0 {
		fmt.Fprintln(stderr, "ftpd lab: -size must not be negative")
		return exitConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := lab(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ftpd lab: %v\n", err)
		return exitFail
	}
	return exitOK
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// labServer is one running lab instance.
type labServer struct {
	name string
	srv  *server.Server
	addr netip.AddrPort
	pass string
	root string
}

func (s *labServer) endpoint(path string) fxp.Endpoint {
	return fxp.Endpoint{Host: s.addr.Addr().String(), Port: s.addr.Port(), User: labUser, Pass: s.pass, Path: path}
}

// url is the endpoint as a URL with the password in it (the lab prints
// its throw-away credentials on purpose).
func (s *labServer) url(path string) string {
	return fmt.Sprintf("ftp://%s:%s@%s/%s", labUser, s.pass, s.addr, path)
}

// lab runs the lab until ctx ends (or, with exit, once set up).
func lab(ctx context.Context, opts labOptions, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "ftpd-lab-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	a, err := startLabServer("A", opts.a, opts.b.Addr(), dir, opts, logger)
	if err != nil {
		return err
	}
	defer a.stop(logger)
	b, err := startLabServer("B", opts.b, a.addr.Addr(), dir, opts, logger)
	if err != nil {
		return err
	}
	defer b.stop(logger)

	sum, err := a.putSample(ctx, opts)
	if err != nil {
		return err
	}
	printLab(stdout, a, b, opts, sum)

	if opts.demo {
		if err := runDemo(ctx, a, b, opts, stdout); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(stdout, "ftpd lab: demo interrupted; shutting down")
				return nil // Ctrl-C: a clean shutdown
			}
			return err
		}
	}
	if opts.exit {
		return nil
	}
	fmt.Fprintln(stdout, "Serving until Ctrl-C.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "ftpd lab: shutting down")
	return nil
}

func startLabServer(name string, listen netip.AddrPort, peer netip.Addr, dir string, opts labOptions, logger *slog.Logger) (*labServer, error) {
	pass, hash, err := labPassword(opts.cost)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, strings.ToLower(name))
	text := labConfig(name, listen, peer, root, hash, opts.memory)
	cfg, err := conf.Parse("(lab "+name+")", []byte(text))
	if err != nil {
		return nil, fmt.Errorf("server %s: configuration: %w", name, err)
	}
	srv, err := server.New(cfg, server.Options{Logger: logger.With("server", name)})
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	addr, err := netip.ParseAddrPort(srv.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("server %s: address %s: %w", name, srv.Addr(), err)
	}
	return &labServer{name: name, srv: srv, addr: addr, pass: pass, root: root}, nil
}

func (s *labServer) stop(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		logger.Warn("lab shutdown", "server", s.name, "err", err)
	}
}

// labConfig is one lab server's TOML: FXP on, allowed only with the other
// server, named by its exact address (data connections leave from a
// server's own control address).
func labConfig(name string, listen netip.AddrPort, peer netip.Addr, root, hash string, memory bool) string {
	peers := fmt.Sprintf("%q", netip.PrefixFrom(peer, peer.BitLen()))
	backend := "os"
	if memory {
		backend = "memory"
	}
	return fmt.Sprintf(`[server]
listen = %q
banner = "ftpd lab %s"

[fxp]
enabled = true
peers = [%s]

[log]
level = "warn"

[[users]]
name = %q
password_hash = %q
root = %q
backend = %q
`, listen.String(), name, peers, labUser, hash, root, backend)
}

// labPassword returns a random password and its bcrypt hash.
func labPassword(cost int) (string, string, error) {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generate password: %w", err)
	}
	pass := base64.RawURLEncoding.EncodeToString(b[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), cost)
	if err != nil {
		return "", "", fmt.Errorf("hash password: %w", err)
	}
	return pass, string(hash), nil
}

// putSample stores size random bytes as the sample file on A (written to
// disk, or uploaded when A keeps its files in memory) and returns their
// SHA-256.
func (s *labServer) putSample(ctx context.Context, opts labOptions) (string, error) {
	data := make([]byte, opts.size)
	if _, err := rand.Read(data); err != nil {
		return "", fmt.Errorf("sample: %w", err)
	}
	sum := sha256.Sum256(data)
	if !opts.memory {
		if err := os.MkdirAll(s.root, 0o755); err != nil {
			return "", fmt.Errorf("sample: %w", err)
		}
		if err := os.WriteFile(filepath.Join(s.root, labSample), data, 0o644); err != nil {
			return "", fmt.Errorf("sample: %w", err)
		}
		return hex.EncodeToString(sum[:]), nil
	}
	c, err := ftpclient.Dial(ctx, s.addr.String(), ftpclient.Options{LocalAddr: opts.bind})
	if err != nil {
		return "", fmt.Errorf("sample upload: %w", err)
	}
	defer c.Close()
	if err := c.Login(labUser, s.pass); err != nil {
		return "", fmt.Errorf("sample upload: %w", err)
	}
	if _, err := c.Stor(labSample, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("sample upload: %w", err)
	}
	_ = c.Quit()
	return hex.EncodeToString(sum[:]), nil
}

func printLab(w io.Writer, a, b *labServer, opts labOptions, sum string) {
	storage := "temporary directories (removed at exit)"
	if opts.memory {
		storage = "memory"
	}
	fmt.Fprintf(w, "ftpd lab: two servers that allow FXP only between each other; files in %s\n", storage)
	for _, s := range []*labServer{a, b} {
		fmt.Fprintf(w, "  %s  ftp://%s  user %s  password %s\n", s.name, s.addr, labUser, s.pass)
	}
	fmt.Fprintf(w, "  sample on A: %s (%d bytes, sha256 %s)\n\n", labSample, opts.size, sum)
	fmt.Fprintf(w, "Try (from a checkout, go run ./cmd/fxp instead of fxp):\n")
	fmt.Fprintf(w, "  fxp copy --verify %s %s\n\n", a.url(labSample), b.url(""))
}

// runDemo copies the sample from A to B with a progress bar (or log lines
// when stdout is not a terminal) and verifies it.
func runDemo(ctx context.Context, a, b *labServer, opts labOptions, stdout io.Writer) error {
	var rep fxp.Reporter = fxp.NewLogReporter(stdout, time.Second, nil)
	if opts.tty {
		rep = fxp.NewBarReporter(stdout)
	}
	fmt.Fprintln(stdout, "Demo: fxp copy A -> B")
	client := fxp.New(fxp.Options{Verify: true, Bind: opts.bind, Reporter: rep})
	sum, err := client.Copy(ctx, a.endpoint(labSample), b.endpoint(labSample))
	rep.Close()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "Demo done: %d bytes from A to B, PASV on the %s, verified on both servers.\n\n", sum.Bytes, sum.Passive)
	return nil
}
