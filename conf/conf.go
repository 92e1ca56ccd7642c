package conf

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Error is one problem in a configuration file.
type Error struct {
	File string // file name as given to Parse or Load
	Line int    // 1-based; 0 when unknown (Validate on a Config built in code)
	Key  string // "server.listen", "users[1].fxp" (0-based index); may be empty
	Msg  string
}

// Error returns "FILE:LINE: KEY: MSG", leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads the file at path and parses it (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a TOML configuration; name is the file name
// used in messages and stored in Config.Source. Keys the file leaves out
// get their defaults. On failure it returns every problem found as
// errors.Join of *Error values sorted by line; a TOML syntax error is
// reported alone.
func Parse(name string, data []byte) (*Config, error) {
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		return nil, syntaxError(name, err)
	}
	pos := scanPositions(string(data))

	cfg := defaults()
	cfg.Source = name
	d := newDecoder()
	d.table("", tree, reflect.ValueOf(&cfg).Elem())
	cfg.userDefaults(d.seen, pos)
	if !d.seen["limits.max_passive_per_ip"] {
		cfg.Limits.MaxPassivePerIP = PassivePerIPDefault(cfg.Server.PassivePorts)
	}

	errs := d.errs
	for _, e := range cfg.validate(pos.line) {
		if !d.failedUnder(e.Key) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			e.File = name
			if e.Line == 0 {
				e.Line = pos.line(e.Key)
			}
		}
		return nil, joinSorted(errs)
	}
	return &cfg, nil
}

func syntaxError(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: "TOML syntax: " + pe.Message}
	}
	return &Error{File: name, Msg: err.Error()}
}

// joinSorted returns errs, ordered by line then key, as one error.
func joinSorted(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// defaults is the configuration of a file that sets nothing.
func defaults() Config {
	return Config{
		Server: Server{
			IdleTimeout:            Duration{5 * time.Minute},
			DataTimeout:            Duration{2 * time.Minute},
			PassiveListenerTimeout: Duration{30 * time.Second},
			Banner:                 "ftpd ready",
			TLS:                    TLS{Mode: TLSOff, RequireDataSessionReuse: true},
			LoginTimeout:           Duration{30 * time.Second},
			Umask:                  0o022,
		},
		Limits: Limits{
			MaxConnections:      200,
			MaxConnectionsPerIP: 20,
			MaxLoginFailures:    5,
			BanDuration:         Duration{15 * time.Minute},
			BanIPv6Prefix:       64,
			MaxPassivePerIP:     DefaultMaxPassivePerIP,
		},
		Log:    Log{Format: LogText, Level: LevelInfo},
		Tokens: Tokens{MintBurst: 10, MintInterval: Duration{6 * time.Second}},
		S3:     S3{Region: "us-east-1", PartSize: 16 << 20, UploadMemory: 512 << 20},
	}
}

// userDefaults fills what [[users]] entries leave out and records their
// lines: fxp is both for named users and none for anonymous ones, and
// anonymous users are read-only (saying read_only = false is an error,
// reported by validate). backend defaults to os, the zero value.
func (c *Config) userDefaults(seen map[string]bool, pos positions) {
	for i := range c.Users {
		u := &c.Users[i]
		key := indexKey("users", i)
		u.Line = pos.line(key)
		if u.FXP == FXPUnset && !seen[key+".fxp"] {
			u.FXP = FXPBoth
			if u.Anonymous() {
				u.FXP = FXPNone
			}
		}
		if u.Anonymous() && !seen[key+".read_only"] {
			u.ReadOnly = true
		}
	}
}
