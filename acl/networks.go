// Package acl holds ftpd's pure access decisions: may this data connection
// go to or come from this address, may this IP log in, is it banned. It opens
// no sockets and knows nothing of FTP commands or of the config file: callers
// translate their own types into the small values here, once, and ask.
package acl

import (
	"net/netip"
	"strings"
)

// Networks is a list of prefixes. What an empty list means (anything, or
// nothing) is the caller's rule, so Networks only answers Contains.
type Networks []netip.Prefix

// Contains reports whether addr is inside one of the prefixes. IPv4-mapped
// IPv6 addresses are compared as IPv4. An invalid address is in nothing.
func (n Networks) Contains(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range n {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AllowsOrEmpty is the "[] = any" rule: true when the list is empty or holds
// addr. An invalid address is never allowed, even by an empty list.
func (n Networks) AllowsOrEmpty(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	return len(n) == 0 || n.Contains(addr)
}

// String lists the prefixes, comma-separated, for messages.
func (n Networks) String() string {
	parts := make([]string, len(n))
	for i, p := range n {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}
