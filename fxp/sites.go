package fxp

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Site is one named server of a sites file. It holds no secret: the
// password comes from an environment variable, a netrc file or a password
// file, read when the site is used.
type Site struct {
	Name        string `toml:"-"`
	Host        string `toml:"host"`
	Port        uint16 `toml:"port"`
	User        string `toml:"user"`
	TLS         string `toml:"tls"`         // off (default), explicit, implicit
	CAFile      string `toml:"ca_file"`     // PEM CA certificates to trust
	Fingerprint string `toml:"fingerprint"` // sha256 of the server certificate (hex, colons allowed)
	Insecure    bool   `toml:"insecure"`    // do not verify the certificate
	// AllowForeignPasv passes on a PASV address other than the site's
	// control address (a server behind NAT), as --allow-foreign-pasv.
	AllowForeignPasv bool `toml:"allow_foreign_pasv"`

	PasswordEnv  string `toml:"password_env"`  // name of an environment variable
	PasswordFile string `toml:"password_file"` // first line is the password; mode 0600 or stricter
	Netrc        bool   `toml:"netrc"`         // look the password up in the netrc file
}

// Sites is a parsed sites file.
type Sites struct {
	Path  string
	sites map[string]Site
}

// DefaultSitesPath is $XDG_CONFIG_HOME/fxp/sites.toml, else
// ~/.config/fxp/sites.toml.
func DefaultSitesPath(lookupEnv func(string) (string, bool), home func() (string, error)) (string, error) {
	if v, ok := lookupEnv("XDG_CONFIG_HOME"); ok && v != "" {
		return filepath.Join(v, "fxp", "sites.toml"), nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("sites file: no home directory: %w", err)
	}
	return filepath.Join(h, ".config", "fxp", "sites.toml"), nil
}

// LoadSites reads a sites file. With missingOK, a file that does not exist
// is an empty list.
func LoadSites(path string, missingOK bool) (*Sites, error) {
	s := &Sites{Path: path, sites: map[string]Site{}}
	data, err := os.ReadFile(path)
	if err != nil {
		if missingOK && errors.Is(err, os.ErrNotExist) {
			return s, nil
		}
		return nil, fmt.Errorf("sites file: %w", err)
	}
	return s, s.parse(string(data))
}

// ParseSites reads sites from TOML text (path names it in errors).
func ParseSites(path, text string) (*Sites, error) {
	s := &Sites{Path: path, sites: map[string]Site{}}
	return s, s.parse(text)
}

func (s *Sites) parse(text string) error {
	var file struct {
		Site map[string]Site `toml:"site"`
	}
	md, err := toml.Decode(text, &file)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	errs := []error{unknownKeys(md)}
	for name, site := range file.Site {
		site.Name = name
		if err := site.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		s.sites[name] = site
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	return nil
}

func (st *Site) check() error {
	if !validSiteName(st.Name) {
		return fmt.Errorf("site %q: a name is letters, digits, '-', '_' and '.'", st.Name)
	}
	if st.Host == "" {
		return fmt.Errorf("site %s: host is missing", st.Name)
	}
	switch st.TLS {
	case "":
		st.TLS = "off"
	case "off", "explicit", "implicit":
	default:
		return fmt.Errorf("site %s: tls %q: want off, explicit or implicit", st.Name, st.TLS)
	}
	if st.Port == 0 {
		st.Port = DefaultPort
		if st.TLS == "implicit" {
			st.Port = 990
		}
	}
	n := 0
	for _, set := range []bool{st.PasswordEnv != "", st.PasswordFile != "", st.Netrc} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("site %s: password_env, password_file and netrc: pick one", st.Name)
	}
	if st.Fingerprint != "" {
		if _, err := parseFingerprint(st.Fingerprint); err != nil {
			return fmt.Errorf("site %s: %w", st.Name, err)
		}
	}
	if st.TLS == "off" && (st.CAFile != "" || st.Fingerprint != "" || st.Insecure) {
		return fmt.Errorf("site %s: ca_file, fingerprint and insecure need tls = \"explicit\" or \"implicit\"", st.Name)
	}
	return nil
}

func validSiteName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Names lists the sites, sorted.
func (s *Sites) Names() []string {
	names := make([]string, 0, len(s.sites))
	for n := range s.sites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns a site by name.
func (s *Sites) Get(name string) (Site, bool) {
	st, ok := s.sites[name]
	return st, ok
}

// SplitSiteArg splits "name:path" when arg is not a URL; ok is false for
// URLs and for text without a colon.
func SplitSiteArg(arg string) (name, p string, ok bool) {
	if strings.Contains(arg, "://") {
		return "", "", false
	}
	name, p, ok = strings.Cut(arg, ":")
	if !ok || name == "" {
		return "", "", false
	}
	return name, p, true
}

// PasswordSource says where a site's password comes from, for listings
// (never the password itself).
func (st Site) PasswordSource() string {
	switch {
	case st.PasswordEnv != "":
		return "env " + st.PasswordEnv
	case st.PasswordFile != "":
		return "file " + st.PasswordFile
	case st.Netrc:
		return "netrc"
	case isAnonymous(st.User) || st.User == "":
		return "anonymous"
	}
	return "none"
}

// SiteEnv is what resolving a site's password may read.
type SiteEnv struct {
	LookupEnv func(string) (string, bool)
	Netrc     func() (*Netrc, error) // loads the netrc file when asked
}

// Endpoint turns the site and a path into an endpoint with its password
// and TLS settings. The path is taken as written: "/x" is absolute, "x"
// relative to the login directory.
func (st Site) Endpoint(p string, env SiteEnv) (Endpoint, error) {
	e := Endpoint{Host: st.Host, Port: st.Port, User: st.User, Path: p, Site: st.Name, AllowForeignPasv: st.AllowForeignPasv}
	if strings.ContainsAny(p, "\r\n") {
		return e, fmt.Errorf("site %s: path contains a line break", st.Name)
	}
	if e.User == "" {
		e.User = "anonymous"
	}
	if st.TLS != "off" {
		e.TLS, e.ImplicitTLS = true, st.TLS == "implicit"
		cfg, err := st.tlsConfig()
		if err != nil {
			return e, err
		}
		e.TLSConfig = cfg
	}
	pass, err := st.password(env)
	if err != nil {
		return e, err
	}
	e.Pass = pass
	return e, nil
}

func (st Site) password(env SiteEnv) (string, error) {
	switch {
	case st.PasswordEnv != "":
		if env.LookupEnv == nil {
			return "", fmt.Errorf("site %s: cannot read environment variable %s", st.Name, st.PasswordEnv)
		}
		v, ok := env.LookupEnv(st.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("site %s: environment variable %s is not set or empty", st.Name, st.PasswordEnv)
		}
		return v, nil
	case st.PasswordFile != "":
		return readPasswordFile(st.Name, st.PasswordFile)
	case st.Netrc:
		if env.Netrc == nil {
			return "", fmt.Errorf("site %s: no netrc file", st.Name)
		}
		n, err := env.Netrc()
		if err != nil {
			return "", fmt.Errorf("site %s: %w", st.Name, err)
		}
		if _, pass, ok := n.Lookup(st.Host, st.User); ok && pass != "" {
			return pass, nil
		}
		return "", fmt.Errorf("site %s: no netrc entry for %s at %s", st.Name, st.User, st.Host)
	case isAnonymous(st.User) || st.User == "":
		return anonymousPass, nil
	}
	return "", fmt.Errorf("site %s: no password source for %s (set password_env, password_file or netrc)", st.Name, st.User)
}

// readPasswordFile reads the first line of a file that only its owner may
// read: a file group or others can read (or write) is refused.
func readPasswordFile(site, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("site %s: password_file: %w", site, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("site %s: password_file: %w", site, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("site %s: password_file %s is not a regular file", site, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("site %s: password_file %s has mode %04o: group and others must have no access (chmod 600 %s)", site, path, perm, path)
	}
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return "", fmt.Errorf("site %s: password_file %s: %w", site, path, err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("site %s: password_file %s: empty first line", site, path)
	}
	return line, nil
}

func (st Site) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: st.Host}
	if st.CAFile != "" {
		pem, err := os.ReadFile(st.CAFile)
		if err != nil {
			return nil, fmt.Errorf("site %s: ca_file: %w", st.Name, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("site %s: ca_file %s: no PEM certificates", st.Name, st.CAFile)
		}
	}
	if st.Insecure {
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for in the sites file
	}
	if st.Fingerprint != "" {
		want, _ := parseFingerprint(st.Fingerprint)
		// The pinned certificate replaces the CA check.
		cfg.InsecureSkipVerify = true //nolint:gosec // checked below against the pin
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			got := sha256.Sum256(raw[0])
			if hex.EncodeToString(got[:]) != want {
				return fmt.Errorf("site %s: certificate sha256 %x does not match the pinned fingerprint", st.Name, got)
			}
			return nil
		}
	}
	return cfg, nil
}

// parseFingerprint reads a SHA-256 fingerprint: 64 hex digits, colons and
// a "sha256:" prefix allowed.
func parseFingerprint(s string) (string, error) {
	h := strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "sha256:"))
	h = strings.ReplaceAll(h, ":", "")
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want the certificate's SHA-256 as 64 hex digits", s)
	}
	return h, nil
}

// unknownKeys is an error naming the keys of a TOML file that no field
// took (typos), or nil.
func unknownKeys(md toml.MetaData) error {
	un := md.Undecoded()
	if len(un) == 0 {
		return nil
	}
	keys := make([]string, len(un))
	for i, k := range un {
		keys[i] = k.String()
	}
	return fmt.Errorf("unknown keys: %s", strings.Join(keys, ", "))
}
