package server

import (
	"fmt"
	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/driver"
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
	return keys
}

// keepRestartOnly returns next with the restart-only values of running.
func keepRestartOnly(running, next conf.Server) conf.Server {
	next.Listen = running.Listen
	next.PublicHost = running.PublicHost
	next.PassivePorts = running.PassivePorts
	next.IdleTimeout = running.IdleTimeout
	if (running.TLS.Mode == conf.TLSImplicit) != (next.TLS.Mode == conf.TLSImplicit) {
		next.TLS.Mode = running.TLS.Mode
	}
	return next
}

// prepareRoots creates and opens the directories of os-backed users, as a
// login will, so that a root the server cannot use fails the start (or
// -check-config, or a reload), not a login.
func prepareRoots(cfg *conf.Config) error {
	for _, u := range cfg.Users {
		if u.Backend != conf.BackendOS {
			continue
		}
		root, err := driver.OpenRootFs(u.Root)
		if err != nil {
			return fmt.Errorf("users %q: %w", u.Name, err)
		}
		if err := root.Close(); err != nil {
			return fmt.Errorf("users %q: close root: %w", u.Name, err)
		}
	}
	return nil
}

// dropAndPrepare runs once the listeners are bound: it drops privileges
// (when asked), then creates the roots as the account the server runs as.
func (s *Server) dropAndPrepare(cfg *conf.Config) error {
	if s.drop != nil {
		if err := s.drop(); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}
	return prepareRoots(cfg)
}
