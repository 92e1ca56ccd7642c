package main

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/privilege"
	"github.com/ftpd/ftpd/server"
)

//go:embed default.toml
var defaultConfig string

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1 // runtime failure
	exitConfig = 2 // bad config or usage
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], time.Now(), stdout, stderr)
	}
	if len(args) > 0 && args[0] == "lab" {
		return runLab(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ftpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (TOML); without it ftpd serves its built-in default")
	check := fs.Bool("check-config", false, "validate the config and exit: 0 if valid, 2 with every problem listed")
	version := fs.Bool("version", false, "print the version and exit")
	grace := fs.Duration("grace", 30*time.Second, "on SIGINT/SIGTERM, how long running transfers may take to finish")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ftpd [-config FILE] [-check-config] [-grace 30s] [-version]\n       ftpd hash-password < password\n       ftpd lab [-demo] [-h]   (two paired servers on 127.0.0.2/127.0.0.3)\n       ftpd token -config FILE -user U -path P -fxp send -ttl 1h   (one-time FXP link)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ftpd: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitConfig
	}
	if *version {
		fmt.Fprintln(stdout, "ftpd", buildVersion())
		return exitOK
	}

	var (
		cfg          *conf.Config
		err          error
		demoPassword string
	)
	if *configPath != "" {
		cfg, err = conf.Load(*configPath)
	} else {
		cfg, demoPassword, err = loadDefault()
	}
	if err != nil {
		fmt.Fprintf(stderr, "ftpd: invalid configuration:\n%s\n", indent(err.Error()))
		return exitConfig
	}
	drop, err := privilegeDropper(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ftpd: invalid configuration:\n%s\n", indent(err.Error()))
		return exitConfig
	}
	privilege.SetUmask(uint32(cfg.Server.Umask))
	if *check {
		if warning := rootWarning(cfg); warning != "" {
			fmt.Fprintf(stderr, "ftpd: warning: %s\n", warning)
		}
		for _, pair := range cfg.S3PrefixOverlaps() {
			fmt.Fprintf(stderr, "ftpd: warning: S3 users %q and %q have overlapping roots: they see each other's files\n", pair[0], pair[1])
		}
		if err := server.Check(cfg, drop); err != nil {
			fmt.Fprintf(stderr, "ftpd: invalid configuration:\n%s\n", indent(err.Error()))
			return exitConfig
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", cfg.Source)
		return exitOK
	}

	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level.SlogLevel())
	logger := newLogger(stderr, cfg.Log.Format, level)

	// Signals are caught before the server says it listens, so that a
	// signal sent as soon as it does is handled, not fatal.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if warning := rootWarning(cfg); warning != "" {
		logger.Warn(warning)
	}
	srv, err := server.New(cfg, server.Options{Logger: logger, DropPrivileges: drop})
	if err != nil {
		fmt.Fprintf(stderr, "ftpd: %v\n", err)
		return exitConfig
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "ftpd: %v\n", err)
		return exitFail
	}
	if demoPassword != "" {
		fmt.Fprintf(stdout, "ftpd: serving ./ftproot on ftp://%s (built-in config)\n", srv.Addr())
		fmt.Fprintf(stdout, "ftpd: login \"anonymous\" (read-only), or \"demo\" with password %s\n", demoPassword)
	}

	for {
		select {
		case <-hup:
			reload(srv, *configPath, cfg.Log.Format, level, logger)
		case <-ctx.Done():
			logger.Info("shutting down", "grace", grace.String())
			sctx, cancel := context.WithTimeout(context.Background(), *grace)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				logger.Warn("shutdown cut running transfers short", "err", err)
			}
			return exitOK
		}
	}
}

// privilegeDropper returns the function that drops to server.run_as, or
// nil when run_as is not set. The account is looked up now, so an unknown
// one is a config error.
func privilegeDropper(cfg *conf.Config) (func() error, error) {
	if cfg.Server.RunAs.IsZero() {
		return nil, nil
	}
	acct, err := privilege.Lookup(cfg.Server.RunAs.User, cfg.Server.RunAs.Group)
	if err != nil {
		return nil, fmt.Errorf("%s: server.run_as: %w", cfg.Source, err)
	}
	return func() error { return privilege.Drop(acct) }, nil
}

// rootWarning is the warning for running as root without run_as.
func rootWarning(cfg *conf.Config) string {
	if os.Geteuid() != 0 || !cfg.Server.RunAs.IsZero() {
		return ""
	}
	return "running as root without server.run_as: every session would run as root; set run_as = \"ftp\" (or start ftpd unprivileged, e.g. with the systemd unit in contrib/)"
}

func reload(srv *server.Server, path string, format conf.LogFormat, level *slog.LevelVar, logger *slog.Logger) {
	if path == "" {
		logger.Warn("SIGHUP ignored: running the built-in config, there is no file to re-read")
		return
	}
	cfg, err := conf.Load(path)
	if err != nil {
		logger.Error("reload rejected; the running configuration stays in force", "config", path, "err", err.Error())
		return
	}
	if err := srv.Reload(cfg); err != nil {
		logger.Error("reload rejected; the running configuration stays in force", "config", path, "err", err.Error())
		return
	}
	if cfg.Log.Format != format {
		logger.Warn("config change needs a restart to take effect; keeping the running value", "key", "log.format")
	}
	level.Set(cfg.Log.Level.SlogLevel())
}

func newLogger(w io.Writer, format conf.LogFormat, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == conf.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadDefault parses the embedded config with a fresh random demo password.
func loadDefault() (*conf.Config, string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("generate demo password: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(b[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, "", fmt.Errorf("hash demo password: %w", err)
	}
	text := strings.Replace(defaultConfig, "@DEMO_PASSWORD_HASH@", string(hash), 1)
	cfg, err := conf.Parse("(built-in default)", []byte(text))
	return cfg, password, err
}

func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftpd hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (4-31)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "ftpd hash-password: read password: %v\n", err)
		return exitFail
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		fmt.Fprintln(stderr, "ftpd hash-password: empty password on stdin")
		return exitConfig
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "ftpd hash-password: %v\n", err)
		return exitConfig
	}
	fmt.Fprintln(stdout, string(hash))
	return exitOK
}

func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
