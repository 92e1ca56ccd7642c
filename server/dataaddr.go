package server

import (
	"net/netip"
	"strconv"
	"strings"
)

// parseDataAddress reads the argument of PORT (h1,h2,h3,h4,p1,p2) or EPRT
// (|af|addr|port|, RFC 2428; any delimiter).
func parseDataAddress(verb, arg string) (netip.AddrPort, bool) {
	arg = strings.TrimSpace(arg)
	if verb == "PORT" {
		parts := strings.Split(arg, ",")
		if len(parts) != 6 {
			return netip.AddrPort{}, false
		}
		var b [6]byte
		for i, p := range parts {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
			if err != nil {
				return netip.AddrPort{}, false
			}
			b[i] = byte(n)
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])), true
	}
	if len(arg) < 2 {
		return netip.AddrPort{}, false
	}
	d := arg[:1]
	fields := strings.Split(arg, d)
	// "|2|::1|5282|" splits into "", "2", "::1", "5282", ""
	if len(fields) != 5 || fields[0] != "" || fields[4] != "" {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(fields[2])
	if err != nil || addr.Zone() != "" {
		return netip.AddrPort{}, false
	}
	switch fields[1] {
	case "1":
		if !addr.Is4() {
			return netip.AddrPort{}, false
		}
	case "2":
		if !addr.Is6() {
			return netip.AddrPort{}, false
		}
	default:
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(fields[3], 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// parsePassiveReply extracts the port from a 227 or 229 reply line.
func parsePassiveReply(line string) (int, bool) {
	open, close := strings.LastIndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || close < open {
		return 0, false
	}
	inner := line[open+1 : close]
	if strings.HasPrefix(line, "229") {
		// (|||port|)
		fields := strings.Split(inner, "|")
		if len(fields) != 5 {
			return 0, false
		}
		port, err := strconv.Atoi(fields[3])
		return port, err == nil && port > 0 && port < 65536
	}
	parts := strings.Split(inner, ",")
	if len(parts) != 6 {
		return 0, false
	}
	hi, err1 := strconv.Atoi(parts[4])
	lo, err2 := strconv.Atoi(parts[5])
	if err1 != nil || err2 != nil || hi < 0 || hi > 255 || lo < 0 || lo > 255 {
		return 0, false
	}
	return hi<<8 | lo, true
}
