package server

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/server/dataplane"
	"github.com/ftpd/ftpd/storage"
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

// prepareRoots creates and opens the roots of cfg's users, as a login
// will, so that a root the server cannot use fails the start (or a
// reload), not a login.
func prepareRoots(cfg *conf.Config, reg *storage.Registry) error { return checkRoots(cfg, reg, true) }

// checkRoots checks every user's root in the user's backend
// (storage.Backend.CheckRoot: an os root opens). With create, missing
// roots are created first (a start, a reload); without, nothing is
// created (-check-config).
func checkRoots(cfg *conf.Config, reg *storage.Registry, create bool) error {
	var errs []error
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if err := reg.CheckRoot(u, create); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: users[%d].root: %w", cfg.Source, u.Line, i, err))
		}
	}
	return errors.Join(errs...)
}

// dropAndPrepare runs once the listeners are bound: it drops privileges
// (when asked), then creates the roots as the account the server runs as.
func (s *Server) dropAndPrepare(cfg *conf.Config) error {
	return asServing(cfg, s.storage, s.drop, true)
}

// asServing drops privileges (drop may be nil), then checks, as the
// account ftpd serves as, what depends on it: the port-20 privilege, the
// roots (created when create is set, else only checked) and the token
// key (outside every root, readable; tokenfiles.go). A start and
// -check-config both go through it.
func asServing(cfg *conf.Config, reg *storage.Registry, drop func() error, create bool) error {
	if drop != nil {
		if err := drop(); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}
	if err := checkActivePort20(cfg); err != nil {
		return err
	}
	if err := checkRoots(cfg, reg, create); err != nil {
		return err
	}
	return checkTokenFiles(cfg, reg, create)
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

// newS3Overlaps are the pairs of S3 users whose prefixes overlap in cfg
// and did not in old: what a reload warns about (the start warns about
// all of them).
func newS3Overlaps(old, cfg *conf.Config) [][2]string {
	seen := map[[2]string]bool{}
	for _, p := range old.S3PrefixOverlaps() {
		seen[p] = true
	}
	var out [][2]string
	for _, p := range cfg.S3PrefixOverlaps() {
		if !seen[p] {
			out = append(out, p)
		}
	}
	return out
}
