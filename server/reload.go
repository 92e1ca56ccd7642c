package server

import (
	"fmt"
	"os"

	"github.com/ftpd/ftpd/conf"
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

// prepareRoots creates the directories of os-backed users.
func prepareRoots(cfg *conf.Config) error {
	for _, u := range cfg.Users {
		if u.Backend != conf.BackendOS {
			continue
		}
		if err := os.MkdirAll(u.Root, 0o755); err != nil {
			return fmt.Errorf("users %q: create root: %w", u.Name, err)
		}
	}
	return nil
}
