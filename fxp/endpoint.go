// Package fxp copies files between two FTP servers directly, server to
// server (FXP): it logs in to both, gives PASV to one and PORT to the other,
// sends STOR (or APPE) to the destination and RETR to the source, and
// watches the copy from a third control connection. It resumes partial
// copies, verifies results with HASH (or SIZE), copies trees in parallel,
// and explains refusals with the servers' own replies.
package fxp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Endpoint is one side of a copy: a server, a login and a path.
type Endpoint struct {
	TLS bool // ftps://: explicit TLS (AUTH TLS) on the control connection
	// ImplicitTLS starts the control connection with a TLS handshake
	// (a site with tls = "implicit"); TLS is set too.
	ImplicitTLS bool
	// TLSConfig, when set (a site's ca_file or fingerprint), replaces the
	// client's base TLS config for this endpoint.
	TLSConfig *tls.Config
	// Site is the sites-file name the endpoint came from, if any.
	Site string
	Host string // name or IP literal, without brackets
	Port uint16
	User string
	Pass string
	// Path is relative to the login directory, as with curl: the URL
	// ftp://h/dir/f names "dir/f"; ftp://h//abs/f (or ftp://h/%2Fabs/f)
	// names "/abs/f". It may be empty (the login directory).
	Path string
	// UserFromURL and PassFromURL record what the URL itself carried;
	// credentials from other sources fill the rest (see Login).
	UserFromURL, PassFromURL bool
	// AllowForeignPasv (a site's allow_foreign_pasv) lets this server's
	// PASV reply name an address other than its control address.
	AllowForeignPasv bool
}

// Addr is host:port for dialing.
func (e Endpoint) Addr() string {
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// Scheme is "ftp" or "ftps".
func (e Endpoint) Scheme() string {
	if e.TLS {
		return "ftps"
	}
	return "ftp"
}

// String is the endpoint as a URL with the password masked: safe to print.
func (e Endpoint) String() string {
	var b strings.Builder
	b.WriteString(e.Scheme() + "://")
	if e.User != "" {
		b.WriteString(url.User(e.User).String())
		if e.Pass != "" {
			b.WriteString(":****")
		}
		b.WriteString("@")
	}
	b.WriteString(e.Addr())
	b.WriteString("/")
	b.WriteString(e.Path)
	return b.String()
}

// WithPath returns a copy of e naming another path on the same server.
func (e Endpoint) WithPath(p string) Endpoint {
	e.Path = p
	return e
}

// DefaultPort is the FTP control port (explicit TLS uses it too).
const DefaultPort = 21

// ParseURL reads ftp://[user[:pass]@]host[:port]/path or ftps://... .
// IPv6 literals go in brackets. Errors never contain the password.
func ParseURL(raw string) (Endpoint, error) {
	masked := MaskURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: say why
		// without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Endpoint{}, fmt.Errorf("bad URL %s: %v", masked, scrub(err.Error(), raw))
	}
	var e Endpoint
	switch strings.ToLower(u.Scheme) {
	case "ftp":
	case "ftps":
		e.TLS = true
	case "":
		return Endpoint{}, fmt.Errorf("bad URL %s: want ftp://user:pass@host:port/path", masked)
	default:
		return Endpoint{}, fmt.Errorf("bad URL %s: want an ftp:// or ftps:// URL", masked)
	}
	if u.Opaque != "" || u.Host == "" {
		return Endpoint{}, fmt.Errorf("bad URL %s: no host (want ftp://host/path)", masked)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Endpoint{}, fmt.Errorf("bad URL %s: queries and fragments are not allowed", masked)
	}
	e.Host = u.Hostname()
	if e.Host == "" {
		return Endpoint{}, fmt.Errorf("bad URL %s: no host", masked)
	}
	e.Port = DefaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return Endpoint{}, fmt.Errorf("bad URL %s: bad port %q", masked, p)
		}
		e.Port = uint16(n)
	}
	if u.User != nil {
		e.User, e.UserFromURL = u.User.Username(), true
		e.Pass, e.PassFromURL = u.User.Password()
	}
	// u.Path is already unescaped; a leading "/" is the separator after
	// the host, so "/f" is "f" and "//abs" (or "/%2Fabs") is "/abs".
	e.Path = strings.TrimPrefix(u.Path, "/")
	if strings.ContainsAny(e.Path, "\r\n") {
		return Endpoint{}, fmt.Errorf("bad URL %s: path contains a line break", masked)
	}
	return e, nil
}

// userinfoPassword matches the password part of a URL's userinfo.
var userinfoPassword = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:)([^/@]*)@`)

// MaskURL replaces a URL's password with ****. It works on text that does
// not parse as a URL, for error messages.
func MaskURL(raw string) string {
	if userinfoPassword.MatchString(raw) {
		return userinfoPassword.ReplaceAllString(raw, "${1}****@")
	}
	if i := strings.LastIndexByte(raw, '@'); i >= 0 && !strings.Contains(raw[:i], "://") {
		return "****" + raw[i:] // not a URL: hide all that may be userinfo
	}
	return raw
}

// scrub removes the password of raw from an error text.
func scrub(text, raw string) string {
	if m := userinfoPassword.FindStringSubmatch(raw); m != nil && m[2] != "" {
		text = strings.ReplaceAll(text, m[2], "****")
	}
	return text
}
