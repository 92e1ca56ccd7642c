package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
	"github.com/ftpd/ftpd/server/dataplane"
)

// restartOnlyChanges lists the keys whose change a reload cannot apply: the
// FTP library reads them once, when it starts listening.
func restartOnlyChanges(old, cfg *conf.Config) []string {
	var keys []string
	if old.Server.Listen != cfg.Server.Listen {
		keys = append(keys, "server.listen")
	}
	if old.Server.PublicHost != cfg.Server.PublicHost {
		keys = append(keys, "server.public_host")
	}
	if old.Server.PassivePorts != cfg.Server.PassivePorts {
		keys = append(keys, "server.passive_ports")
	}
	if old.Server.IdleTimeout != cfg.Server.IdleTimeout {
		keys = append(keys, "server.idle_timeout")
	}
	if (old.Server.TLS.Mode == conf.TLSImplicit) != (cfg.Server.TLS.Mode == conf.TLSImplicit) {
		keys = append(keys, "server.tls.mode")
	}
	if old.Server.ActivePort20 != cfg.Server.ActivePort20 {
		keys = append(keys, "server.active_port20")
	}
	if old.Server.ProxyProtocol != cfg.Server.ProxyProtocol {
		keys = append(keys, "server.proxy_protocol")
	}
	if !slices.Equal(old.Server.TrustedProxies, cfg.Server.TrustedProxies) {
		keys = append(keys, "server.trusted_proxies")
	}
	if old.Tokens.SpentStore != cfg.Tokens.SpentStore {
		keys = append(keys, "tokens.spent_store")
	}
	if old.S3 != cfg.S3 {
		// The store (client, part buffers, shares) is built at start.
		keys = append(keys, "s3")
	}

	return keys
}

// keepRestartOnly returns next with the restart-only values of running.
func keepRestartOnly(running, next conf.Server) conf.Server {
	next.Listen = running.Listen
	next.PublicHost = running.PublicHost
	next.PassivePorts = running.PassivePorts
	next.IdleTimeout = running.IdleTimeout
	next.ActivePort20 = running.ActivePort20
	next.ProxyProtocol = running.ProxyProtocol
	next.TrustedProxies = running.TrustedProxies
	if (running.TLS.Mode == conf.TLSImplicit) != (next.TLS.Mode == conf.TLSImplicit) {
		next.TLS.Mode = running.TLS.Mode
	}
	return next
}

// prepareRoots creates and opens the directories of os-backed users, as a
// login will, so that a root the server cannot use fails the start (or a
// reload), not a login.
func prepareRoots(cfg *conf.Config) error { return checkRoots(cfg, true) }

// checkRoots opens every os root. With create, missing roots are created
// first (a start, a reload); without, a missing root passes if its nearest
// existing parent is a directory this process may create it in
// (-check-config creates nothing).
func checkRoots(cfg *conf.Config, create bool) error {
	var errs []error
	for i, u := range cfg.Users {
		if u.Backend != conf.BackendOS {
			continue
		}
		if err := checkRoot(u.Root, create); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: users[%d].root: %w", cfg.Source, u.Line, i, err))
		}
	}
	return errors.Join(errs...)
}

func checkRoot(dir string, create bool) error {
	if !create {
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			return creatable(dir)
		}
	}
	root, err := driver.OpenRootFs(dir) // creates it if missing
	if err != nil {
		return err
	}
	return root.Close()
}

// creatable reports whether MkdirAll(dir) could succeed: the nearest
// existing ancestor is a directory this process may write into.
func creatable(dir string) error {
	parent := filepath.Dir(filepath.Clean(dir))
	for {
		info, err := os.Stat(parent)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("cannot create %s: %s is not a directory", dir, parent)
			}
			if err := syscall.Access(parent, 0x2|0x1); err != nil { // W_OK|X_OK
				return fmt.Errorf("cannot create %s in %s: %w", dir, parent, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
			return fmt.Errorf("cannot create %s: %w", dir, err)
		}
		parent = filepath.Dir(parent)
	}
}

// dropAndPrepare runs once the listeners are bound: it drops privileges
// (when asked), then creates the roots as the account the server runs as.
func (s *Server) dropAndPrepare(cfg *conf.Config) error { return asServing(cfg, s.drop, true) }

// asServing drops privileges (drop may be nil), then checks, as the
// account ftpd serves as, what depends on it: the port-20 privilege, the
// roots (created when create is set, else only checked) and the token
// key (outside every root, readable; tokenfiles.go). A start and
// -check-config both go through it.
func asServing(cfg *conf.Config, drop func() error, create bool) error {
	if drop != nil {
		if err := drop(); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}
	if err := checkActivePort20(cfg); err != nil {
		return err
	}
	if err := checkRoots(cfg, create); err != nil {
		return err
	}
	return checkTokenFiles(cfg, create)
}

// checkActivePort20 makes sure that, with active_port20, this process (as
// it will serve, after any privilege drop) may bind port 20 on the listen
// address: a start or -check-config fails now rather than every active
// transfer later.
func checkActivePort20(cfg *conf.Config) error {
	if !cfg.Server.ActivePort20 {
		return nil
	}
	if err := dataplane.ProbePort20(cfg.Server.Listen.Addr()); err != nil {
		return fmt.Errorf("server.active_port20: %w (needs root or CAP_NET_BIND_SERVICE after run_as; set active_port20 = false otherwise)", err)
	}
	return nil
}
