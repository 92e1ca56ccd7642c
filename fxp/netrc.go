package fxp

import (
	"bufio"
	"fmt"
	"strings"
)

// Netrc is a parsed .netrc file: machine entries and an optional default.
type Netrc struct {
	machines []netrcEntry
	def      *netrcEntry
}

type netrcEntry struct {
	machine, login, password string
}

// ParseNetrc reads the .netrc format: whitespace-separated tokens
// "machine NAME", "default", "login NAME", "password PW", "account X" and
// "macdef NAME" (whose body, up to an empty line, is skipped). Comments
// start with # at the beginning of a token.
func ParseNetrc(text string) (*Netrc, error) {
	n := &Netrc{}
	var cur *netrcEntry
	flush := func() {
		if cur == nil {
			return
		}
		if cur.machine == "" {
			e := *cur
			n.def = &e
		} else {
			n.machines = append(n.machines, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	inMacro := false
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if inMacro {
			if strings.TrimSpace(line) == "" {
				inMacro = false
			}
			continue
		}
		fields := strings.Fields(line)
		for i := 0; i < len(fields); i++ {
			tok := fields[i]
			if strings.HasPrefix(tok, "#") {
				break // comment to the end of the line
			}
			arg := func() (string, error) {
				if i+1 >= len(fields) {
					return "", fmt.Errorf("netrc line %d: %q needs a value on the same line", lineNo, tok)
				}
				i++
				return fields[i], nil
			}
			switch tok {
			case "machine":
				flush()
				name, err := arg()
				if err != nil {
					return nil, err
				}
				cur = &netrcEntry{machine: name}
			case "default":
				flush()
				cur = &netrcEntry{}
			case "login", "password", "account":
				v, err := arg()
				if err != nil {
					return nil, err
				}
				if cur == nil {
					return nil, fmt.Errorf("netrc line %d: %q before any machine or default", lineNo, tok)
				}
				switch tok {
				case "login":
					cur.login = v
				case "password":
					cur.password = v
				}
			case "macdef":
				if _, err := arg(); err != nil {
					return nil, err
				}
				inMacro = true
				i = len(fields)
			default:
				return nil, fmt.Errorf("netrc line %d: unknown token %q", lineNo, tok)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read netrc: %w", err)
	}
	flush()
	return n, nil
}

// Lookup finds the login and password for host. With user set, only an
// entry for that login matches. The first matching machine wins; default
// applies when no machine does.
func (n *Netrc) Lookup(host, user string) (login, password string, ok bool) {
	if n == nil {
		return "", "", false
	}
	for _, m := range n.machines {
		if strings.EqualFold(m.machine, host) && (user == "" || m.login == user) {
			return m.login, m.password, true
		}
	}
	if n.def != nil && (user == "" || n.def.login == user) {
		return n.def.login, n.def.password, true
	}
	return "", "", false
}

// HasPasswords reports whether any entry (or the default) holds a password.
func (n *Netrc) HasPasswords() bool {
	if n.def != nil && n.def.password != "" {
		return true
	}
	for _, m := range n.machines {
		if m.password != "" {
			return true
		}
	}
	return false
}
