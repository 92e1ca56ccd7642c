package conf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// UnmarshalText parses a Go duration ("90s", "5m", "1h30m"); negative
// durations are refused.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf(`invalid duration %q (want e.g. "90s", "5m" or "1h30m")`, text)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", text)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration the way time.Duration prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// sizeUnit is one unit a Size may be written in.
type sizeUnit struct {
	name string
	mult int64
}

// sizeUnits lists the accepted units; String prefers them in this order
// (largest binary unit first), so only exact multiples get a unit.
var sizeUnits = []sizeUnit{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

const sizeHint = `want bytes, or a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) like "512KiB" or "1.5MiB"`

// UnmarshalText parses "", "1048576", "512KiB", "1.5 MiB", "1GB": KB, MB,
// GB and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024. Unit
// letters are case-insensitive. The result must be a whole number of bytes.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := parseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func parseSize(text string) (Size, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return 0, nil
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("negative size %q", text)
	}
	n := 0
	for n < len(t) && (t[n] >= '0' && t[n] <= '9' || t[n] == '.') {
		n++
	}
	num, unit := t[:n], strings.TrimLeft(t[n:], " \t")
	if !validDecimal(num) {
		return 0, fmt.Errorf("invalid size %q (%s)", text, sizeHint)
	}
	mult := int64(1)
	if unit != "" {
		u, ok := findSizeUnit(unit)
		if !ok {
			return 0, fmt.Errorf("invalid size %q: unknown unit %q (%s)", text, unit, sizeHint)
		}
		mult = u.mult
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q (%s)", text, sizeHint)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", text)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("invalid size %q: too large", text)
	}
	return Size(r.Num().Int64()), nil
}

// validDecimal reports whether s is digits with at most one inner '.'.
func validDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	return whole != "" && (!hasDot || frac != "") && !strings.Contains(frac, ".")
}

func findSizeUnit(name string) (sizeUnit, bool) {
	for _, u := range sizeUnits {
		if strings.EqualFold(u.name, name) {
			return u, true
		}
	}
	return sizeUnit{}, false
}

// String writes the size with the largest unit that divides it exactly
// ("100MiB", "1500KB", "1023B"); it parses back to the same value.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return "0B"
}

// MarshalText writes the size as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "" (not set), "40000-40100" (inclusive) or a single
// port "40000" (meaning 40000-40000). Ports are 1..65535.
func (r *PortRange) UnmarshalText(text []byte) error {
	t := strings.TrimSpace(string(text))
	if t == "" {
		*r = PortRange{}
		return nil
	}
	first, last, isRange := strings.Cut(t, "-")
	start, err := parsePort(first)
	if err != nil {
		return fmt.Errorf("invalid port range %q: %w", text, err)
	}
	end := start
	if isRange {
		if end, err = parsePort(last); err != nil {
			return fmt.Errorf("invalid port range %q: %w", text, err)
		}
	}
	if start > end {
		return fmt.Errorf("invalid port range %q: start %d is above end %d", text, start, end)
	}
	*r = PortRange{Start: start, End: end}
	return nil
}

func parsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf(`want ports 1-65535 like "40000-40100", got %q`, s)
	}
	return uint16(n), nil
}

// IsZero reports whether the range is not set.
func (r PortRange) IsZero() bool { return r == PortRange{} }

// String writes "40000-40100", "40000" for a single port, "" when not set.
func (r PortRange) String() string {
	switch {
	case r.IsZero():
		return ""
	case r.Start == r.End:
		return strconv.Itoa(int(r.Start))
	}
	return strconv.Itoa(int(r.Start)) + "-" + strconv.Itoa(int(r.End))
}

// MarshalText writes the range as String does.
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a CIDR ("10.0.0.0/8") or a single address
// ("127.0.0.2" = /32, "::1" = /128). Host bits must be zero, zones are
// refused, and IPv4-mapped IPv6 is turned into plain IPv4.
func (p *Prefix) UnmarshalText(text []byte) error {
	v, err := parsePrefix(string(text))
	if err != nil {
		return err
	}
	p.Prefix = v
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New(`empty address (want a CIDR like "10.0.0.0/8" or an IP like "127.0.0.2")`)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf(`invalid address %q (want a CIDR like "10.0.0.0/8" or an IP like "127.0.0.2")`, s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid address %q: zones are not allowed", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf(`invalid CIDR %q (want e.g. "10.0.0.0/8" or "fd00::/8")`, s)
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: an IPv4-mapped prefix needs at least /96", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set; use %q", s, m.String())
	}
	return p, nil
}

// UnmarshalText parses "" (do not drop), "user" or "user:group". Names
// follow the usual account-name rules; numeric ids are accepted too.
func (r *RunAs) UnmarshalText(text []byte) error {
	t := string(text)
	if t == "" {
		*r = RunAs{}
		return nil
	}
	u, g, hasGroup := strings.Cut(t, ":")
	if !validAccount(u) || hasGroup && !validAccount(g) {
		return fmt.Errorf(`invalid run_as %q (want "user" or "user:group")`, t)
	}
	*r = RunAs{User: u, Group: g}
	return nil
}

// validAccount accepts letters, digits, '_', '-' and '.', not starting
// with '-', at most 32 bytes: what useradd accepts, and numeric ids.
func validAccount(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// IsZero reports whether no account is set.
func (r RunAs) IsZero() bool { return r.User == "" }

// String writes "user" or "user:group".
func (r RunAs) String() string {
	if r.Group == "" {
		return r.User
	}
	return r.User + ":" + r.Group
}

// MarshalText writes the account as String does.
func (r RunAs) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses an octal mask 0-0777: "022", "0o027", "77".
func (m *Umask) UnmarshalText(text []byte) error {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(string(text)), "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || t == "" || n > 0o777 {
		return fmt.Errorf(`invalid umask %q (want octal 000-777 like "022")`, text)
	}
	*m = Umask(n)
	return nil
}

// String writes the mask as four octal digits ("0022").
func (m Umask) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalText writes the mask as String does.
func (m Umask) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a SHA-256 fingerprint: 64 hex digits, in any case,
// optionally as colon-separated pairs and after "sha256:" or "SHA256:".
func (f *Fingerprint) UnmarshalText(text []byte) error {
	t := strings.TrimSpace(string(text))
	if rest, ok := strings.CutPrefix(strings.ToLower(t), "sha256:"); ok {
		t = rest
	}
	t = strings.ReplaceAll(t, ":", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != len(f) {
		return fmt.Errorf("invalid SHA-256 fingerprint %q: want 64 hex digits (pairs may be separated by colons)", string(text))
	}
	copy(f[:], b)
	return nil
}

// MarshalText writes the fingerprint as lower-case hex.
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(f[:])), nil }
