package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePORT reads the argument of PORT strictly (RFC 959 4.1.2):
// "h1,h2,h3,h4,p1,p2", six decimal numbers 0-255 of one to three digits,
// no signs, no spaces inside, and a port from 1 to 65535. Surrounding
// spaces are ignored.
func ParsePORT(arg string) (netip.AddrPort, error) {
	parts := strings.Split(strings.TrimSpace(arg), ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, fmt.Errorf("want h1,h2,h3,h4,p1,p2, got %d fields", len(parts))
	}
	var b [6]byte
	for i, p := range parts {
		n, err := decimal(p, 3, 255)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("field %d %q: %w", i+1, p, err)
		}
		b[i] = byte(n)
	}
	port := uint16(b[4])<<8 | uint16(b[5])
	if port == 0 {
		return netip.AddrPort{}, errors.New("port 0 is not a port")
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port), nil
}

// ParseEPRT reads the argument of EPRT strictly (RFC 2428 2):
// "<d>1<d>dotted-quad<d>port<d>" or "<d>2<d>IPv6<d>port<d>", where <d> is
// one printable ASCII character (33-126) used for all four delimiters. An
// IPv4-mapped IPv6 address under protocol 2 is the IPv4 address it maps;
// zones are refused. Surrounding spaces are ignored.
func ParseEPRT(arg string) (netip.AddrPort, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return netip.AddrPort{}, errors.New("empty argument")
	}
	d := arg[0]
	if d < 33 || d > 126 {
		return netip.AddrPort{}, fmt.Errorf("delimiter %q is not printable ASCII", d)
	}
	if strings.ContainsAny(d2s(d), "0123456789abcdefABCDEF.:") {
		return netip.AddrPort{}, fmt.Errorf("delimiter %q can occur inside an address or port", d)
	}
	fields := strings.Split(arg, d2s(d))
	// "|2|::1|5282|" splits into "", "2", "::1", "5282", "".
	if len(fields) != 5 || fields[0] != "" || fields[4] != "" {
		return netip.AddrPort{}, fmt.Errorf("want %c<proto>%c<address>%c<port>%c", d, d, d, d)
	}
	addr, err := netip.ParseAddr(fields[2])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: not an IP address", fields[2])
	}
	if addr.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("address %q: zones are not accepted", fields[2])
	}
	switch fields[1] {
	case "1":
		if !addr.Is4() {
			return netip.AddrPort{}, fmt.Errorf("protocol 1 needs an IPv4 address, got %q", fields[2])
		}
	case "2":
		if !addr.Is6() {
			return netip.AddrPort{}, fmt.Errorf("protocol 2 needs an IPv6 address, got %q", fields[2])
		}
		addr = addr.Unmap()
	default:
		return netip.AddrPort{}, fmt.Errorf("network protocol %q: only 1 (IPv4) and 2 (IPv6) exist", fields[1])
	}
	port, err := decimal(fields[3], 5, 65535)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", fields[3], err)
	}
	if port == 0 {
		return netip.AddrPort{}, errors.New("port 0 is not a port")
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Parse reads the argument of PORT or EPRT.
func Parse(verb, arg string) (netip.AddrPort, error) {
	switch verb {
	case "PORT":
		return ParsePORT(arg)
	case "EPRT":
		return ParseEPRT(arg)
	}
	return netip.AddrPort{}, fmt.Errorf("%s is not PORT or EPRT", verb)
}

// FormatPORT is the canonical PORT argument for an IPv4 target.
func FormatPORT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", a[0], a[1], a[2], a[3], ap.Port()>>8, ap.Port()&0xff)
}

// FormatEPRT is the canonical EPRT argument.
func FormatEPRT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	proto := 2
	if a.Is4() {
		proto = 1
	}
	return fmt.Sprintf("|%d|%s|%d|", proto, a, ap.Port())
}

// decimal reads an unsigned decimal number of 1 to maxDigits ASCII digits
// (no sign, no spaces) that is at most limit.
func decimal(s string, maxDigits int, limit uint64) (uint64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("want 1 to %d digits", maxDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > limit {
		return 0, fmt.Errorf("more than %d", limit)
	}
	return n, nil
}

func d2s(d byte) string { return string([]byte{d}) }

// ParsePassiveReply extracts the port from a 227 (PASV) or 229 (EPSV)
// reply line of the FTP library.
func ParsePassiveReply(line string) (int, bool) {
	open, close := strings.LastIndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || close < open {
		return 0, false
	}
	inner := line[open+1 : close]
	if strings.HasPrefix(line, "229") {
		fields := strings.Split(inner, "|") // (|||port|)
		if len(fields) != 5 {
			return 0, false
		}
		port, err := decimal(fields[3], 5, 65535)
		return int(port), err == nil && port > 0
	}
	parts := strings.Split(inner, ",")
	if len(parts) != 6 {
		return 0, false
	}
	hi, err1 := decimal(parts[4], 3, 255)
	lo, err2 := decimal(parts[5], 3, 255)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	port := int(hi<<8 | lo)
	return port, port > 0
}
