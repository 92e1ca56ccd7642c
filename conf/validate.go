package conf

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Validate checks a Config built in code (Parse already validates what it
// returns). It reports every problem at once, as errors.Join of *Error
// values; their Line is the user's Line for [[users]] keys, else 0.
func (c *Config) Validate() error {
	errs := c.validate(func(string) int { return 0 })
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs {
		e.File = c.Source
	}
	return joinSorted(errs)
}

// PlainPasswordUsers returns the names of the users that log in with a
// plain-text password rather than a bcrypt hash, for a warning at start.
// Anonymous users are left out: their password is ignored.
func (c *Config) PlainPasswordUsers() []string {
	var names []string
	for i := range c.Users {
		if u := &c.Users[i]; u.Password != "" && !u.Anonymous() {
			names = append(names, u.Name)
		}
	}
	return names
}

// validator collects problems; line gives the line of a key, 0 if unknown.
type validator struct {
	line func(key string) int
	errs []*Error
}

func (v *validator) errorf(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Line: v.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate(line func(key string) int) []*Error {
	v := &validator{line: line}
	c.Server.validate(v)
	c.Limits.validate(v)
	if !enumValid(logFormats, c.Log.Format) {
		v.errorf("log.format", "invalid format %d (want %s)", c.Log.Format, enumChoices(logFormats))
	}
	if !enumValid(logLevels, c.Log.Level) {
		v.errorf("log.level", "invalid level %d (want %s)", c.Log.Level, enumChoices(logLevels))
	}
	// metrics.listen port 0 picks a free port, like server.listen.
	if !enumValid(prevKeys, c.Tokens.PreviousKey) {
		v.errorf("tokens.previous_key", "invalid value %d (want %s)", c.Tokens.PreviousKey, enumChoices(prevKeys))
	}
	if c.Tokens.MintBurst < 1 {
		v.errorf("tokens.mint_burst", "must be 1 or more, got %d", c.Tokens.MintBurst)
	}
	if c.Tokens.MintInterval.Duration <= 0 {
		v.errorf("tokens.mint_interval", "must be above 0")
	}
	c.validateTokens(v)
	c.validateUsers(v)
	c.validateS3(v)
	return v.errs
}

func (s *Server) validate(v *validator) {
	// Port 0 picks a free port (tests, labs); the log says which.
	if !s.Listen.IsValid() {
		v.errorf("server.listen", `required: IP:port like "127.0.0.1:2121"`)
	}
	if s.PublicHost.IsValid() && !s.PublicHost.Is4() {
		v.errorf("server.public_host", "must be an IPv4 address (PASV announces IPv4 only), got %s", s.PublicHost)
	}
	switch r := s.PassivePorts; {
	case r.IsZero():
	case r.Start > r.End:
		v.errorf("server.passive_ports", "start %d is above end %d", r.Start, r.End)
	case r.Start < 1024:
		v.errorf("server.passive_ports", "%q: passive ports must not be below 1024", r.String())
	}
	if b := s.DataSocketBuffer; b < 0 || b > MaxDataSocketBuffer {
		v.errorf("server.data_socket_buffer", "must be between 0 (kernel autotuning) and 256MiB, got %d bytes", int64(b))
	}
	if s.IdleTimeout.Duration <= 0 {
		v.errorf("server.idle_timeout", "must be above 0 (there is no \"never\")")
	}
	if s.DataTimeout.Duration <= 0 {
		v.errorf("server.data_timeout", "must be above 0 (there is no \"never\")")
	}
	if s.PassiveListenerTimeout.Duration <= 0 {
		v.errorf("server.passive_listener_timeout", "must be above 0 (there is no \"never\")")
	}
	if s.LoginTimeout.Duration <= 0 {
		v.errorf("server.login_timeout", "must be above 0 (there is no \"never\")")
	}
	t := &s.TLS
	switch t.Mode {
	case TLSOff:
	case TLSExplicit, TLSImplicit:
		if t.CertFile == "" {
			v.errorf("server.tls.cert_file", "required with mode = %q", t.Mode)
		}
		if t.KeyFile == "" {
			v.errorf("server.tls.key_file", "required with mode = %q", t.Mode)
		}
	default:
		v.errorf("server.tls.mode", "invalid mode %d (want %s)", t.Mode, enumChoices(tlsModes))
	}
	if t.Required && t.Mode != TLSExplicit {
		v.errorf("server.tls.required", `only applies to mode = "explicit" (mode is %q)`, t.Mode)
	}
	if s.ProxyProtocol {
		if len(s.TrustedProxies) == 0 {
			v.errorf("server.proxy_protocol", "needs trusted_proxies: the balancers' addresses (anything else is closed without a reply)")
		}
		if s.Listen.IsValid() && s.Listen.Addr().IsUnspecified() {
			v.errorf("server.listen", "must name this instance's address with proxy_protocol = true (active data connections leave from it), got %s", s.Listen.Addr())
		}
	} else if len(s.TrustedProxies) > 0 {
		v.errorf("server.trusted_proxies", "only applies with proxy_protocol = true")
	}
}

// validateTokens checks [tokens]. spent_store = "s3" records spends in the
// [s3] section's bucket; s3Configured says whether there is one.
func (c *Config) validateTokens(v *validator) {
	switch c.Tokens.SpentStore {
	case SpentFile:
	case SpentS3:
		if !c.s3Configured() {
			v.errorf("tokens.spent_store", `"s3" needs an [s3] section (the bucket every instance shares)`)
		}
	default:
		v.errorf("tokens.spent_store", "invalid store %d (want %s)", c.Tokens.SpentStore, enumChoices(spentStores))
	}
}

// s3Configured reports whether the config names an [s3] bucket.
func (c *Config) s3Configured() bool { return c.S3.Bucket != "" }

func (l *Limits) validate(v *validator) {
	for _, f := range []struct {
		key string
		n   int
	}{
		{"limits.max_connections", l.MaxConnections},
		{"limits.max_connections_per_ip", l.MaxConnectionsPerIP},
		{"limits.max_login_failures", l.MaxLoginFailures},
		{"limits.max_passive_per_ip", l.MaxPassivePerIP},
	} {
		if f.n < 0 {
			v.errorf(f.key, "must not be negative (0 = no limit), got %d", f.n)
		}
	}
	if l.BanDuration.Duration < 0 || l.MaxLoginFailures > 0 && l.BanDuration.Duration == 0 {
		v.errorf("limits.ban_duration", "must be above 0 when max_login_failures is set (0 = no bans)")
	}
	if l.MaxConnections > 0 && l.MaxConnectionsPerIP > l.MaxConnections {
		v.errorf("limits.max_connections_per_ip", "%d is above max_connections (%d)", l.MaxConnectionsPerIP, l.MaxConnections)
	}
	checkRate(v, "limits.download_rate", l.DownloadRate)
	checkRate(v, "limits.upload_rate", l.UploadRate)
	if l.BanIPv6Prefix < 1 || l.BanIPv6Prefix > 128 {
		v.errorf("limits.ban_ipv6_prefix", "must be 1-128 (64 bans the /64 a host usually owns), got %d", l.BanIPv6Prefix)
	}
}

func checkRate(v *validator, key string, s Size) {
	if s < 0 {
		v.errorf(key, "must not be negative")
	}
}

// validateUsers checks the [[users]] entries. An anonymous user ("anonymous"
// or "ftp") accepts any password: a password or password_hash on it is
// ignored, not an error.
func (c *Config) validateUsers(v *validator) {
	if len(c.Users) == 0 {
		v.errorf("users", "at least one [[users]] entry is required")
	}
	first := map[string]int{} // name -> index of its first entry
	for i := range c.Users {
		u := &c.Users[i]
		key := indexKey("users", i)
		// uv places problems at the entry's line when the key has none.
		uv := &validator{line: func(k string) int {
			if n := v.line(k); n > 0 {
				return n
			}
			return u.Line
		}}
		u.validate(uv, key)
		if j, dup := first[u.Name]; dup && u.Name != "" {
			uv.errorf(key+".name", "duplicate user %q (first at line %d)", u.Name, uv.line(indexKey("users", j)+".name"))
		} else if !dup {
			first[u.Name] = i
		}
		v.errs = append(v.errs, uv.errs...)
	}
}

func (u *User) validate(v *validator, key string) {
	switch {
	case u.Name == "":
		v.errorf(key+".name", "required")
	case !validName(u.Name):
		v.errorf(key+".name", "%q: no spaces or control characters allowed", u.Name)
	}
	if !u.Anonymous() {
		switch {
		case u.Password == "" && u.PasswordHash == "":
			v.errorf(key, "user %q needs password_hash (bcrypt) or password", u.Name)
		case u.Password != "" && u.PasswordHash != "":
			v.errorf(key+".password", "set password_hash or password, not both")
		case u.PasswordHash != "":
			if err := checkBcrypt(u.PasswordHash); err != nil {
				v.errorf(key+".password_hash", "%v", err)
			}
		}
	}
	if u.Anonymous() && !u.ReadOnly {
		v.errorf(key+".read_only", "anonymous logins are always read-only")
	}
	switch {
	case u.Backend == BackendS3:
		if why := S3PrefixProblem(u.Root); why != "" {
			v.errorf(key+".root", "%q: %s", u.Root, why)
		}
	case u.Root == "":
		v.errorf(key+".root", "required")
	}
	if !enumValid(backends, u.Backend) {
		v.errorf(key+".backend", "invalid backend %d (want %s)", u.Backend, enumChoices(backends))
	}
	if !enumValid(fxpModes, u.FXP) {
		v.errorf(key+".fxp", "not set or invalid (want %s)", enumChoices(fxpModes))
	}
	checkRate(v, key+".download_rate", u.DownloadRate)
	checkRate(v, key+".upload_rate", u.UploadRate)
	if u.MaxSessions < 0 {
		v.errorf(key+".max_sessions", "must not be negative (0 = no limit), got %d", u.MaxSessions)
	}
}

func validName(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// checkBcrypt accepts "$2a$", "$2b$" or "$2y$", a two-digit cost, "$" and
// 53 characters of bcrypt's base64: 60 in all.
func checkBcrypt(h string) error {
	const want = "want a bcrypt hash: 60 characters starting with $2a$, $2b$ or $2y$"
	if len(h) != 60 || !(strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) || h[6] != '$' {
		return fmt.Errorf("%s (got %d characters)", want, len(h))
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("%s: %v", want, err)
	}
	for _, c := range []byte(h[7:]) {
		if !(c == '.' || c == '/' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("%s: invalid character %q", want, c)
		}
	}
	return nil
}
