package conf

import (
	"sort"
	"strconv"
	"strings"
)

// positions maps keys, spelled as error messages spell them
// ("server.listen", "users[1].fxp", "fxp.peers[0]"), to the line that
// defines them.
//
// BurntSushi/toml keeps key positions private, and what it does expose
// (ParseError.Position for a failed UnmarshalText) is keyed by the path
// without array indexes, so for [[users]] it names the line of the last
// entry's key, not the failing one. Hence this small scanner.
type positions map[string]int

// line returns the line of key, or of the nearest enclosing key that the
// file defines, or 1.
func (p positions) line(key string) int {
	for key != "" {
		if n, ok := p[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 1
}

// joinKey appends one key segment, quoting it unless it is a bare key.
func joinKey(base, seg string) string {
	if !isBareKey(seg) {
		seg = strconv.Quote(seg)
	}
	if base == "" {
		return seg
	}
	return base + "." + seg
}

// indexKey names element i of the array key.
func indexKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isBareKeyChar(c) {
			return false
		}
	}
	return true
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// scanPositions finds where each key of src is defined. src must already
// have parsed as TOML; on other input the result is incomplete but the
// scanner still terminates without panicking.
func scanPositions(src string) positions {
	s := &scanner{src: src, pos: positions{}, arrays: map[string]int{}}
	for i := range len(src) {
		if src[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.i = len(src) - len(strings.TrimPrefix(src, "\ufeff"))
	s.document()
	return s.pos
}

type scanner struct {
	src      string
	i        int
	newlines []int // offsets of '\n'
	pos      positions
	arrays   map[string]int // array-of-tables key -> entries seen so far
}

func (s *scanner) peek() byte {
	if s.i < len(s.src) {
		return s.src[s.i]
	}
	return 0
}

func (s *scanner) rest() string {
	if s.i < len(s.src) {
		return s.src[s.i:]
	}
	return ""
}

func (s *scanner) lineAt(off int) int { return 1 + sort.SearchInts(s.newlines, off) }

// mark records key at offset off. A key defined implicitly (the "a" of
// "[a.b]") keeps its first line; an explicit definition always wins.
func (s *scanner) mark(key string, off int, explicit bool) {
	if _, ok := s.pos[key]; explicit || !ok {
		s.pos[key] = s.lineAt(off)
	}
}

// define marks the key made of segs under base and returns it, resolving
// array-of-tables prefixes to their last entry; with array set, the last
// segment starts a new entry ("[[users]]").
func (s *scanner) define(base string, segs []string, off int, array bool) string {
	key := base
	for i, seg := range segs {
		key = joinKey(key, seg)
		last := i == len(segs)-1
		switch n, isArray := s.arrays[key]; {
		case last && array:
			s.arrays[key] = n + 1
			s.mark(key, off, false)
			key = indexKey(key, n)
		case isArray && !last:
			key = indexKey(key, n-1)
		}
		s.mark(key, off, last)
	}
	return key
}

func (s *scanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.i >= len(s.src) {
			return
		}
		start := s.i
		switch {
		case strings.HasPrefix(s.rest(), "[["):
			s.i += 2
			table = s.define("", s.key(), start, true)
		case s.peek() == '[':
			s.i++
			table = s.define("", s.key(), start, false)
		default:
			segs := s.key()
			s.skipSpace(false)
			if s.peek() == '=' {
				s.i++
			}
			s.skipSpace(false)
			s.value(s.define(table, segs, start, false))
		}
		// Whatever is left on the line is a comment, "]" or "]]".
		s.skipLine()
	}
}

// key reads a dotted key: bare, "basic" or 'literal' segments.
func (s *scanner) key() []string {
	var segs []string
	for {
		s.skipSpace(false)
		var seg string
		switch c := s.peek(); {
		case c == '"' || c == '\'':
			start := s.i
			s.skipString()
			seg = unquoteKey(s.src[start:s.i])
		case isBareKeyChar(c):
			start := s.i
			for s.i < len(s.src) && isBareKeyChar(s.src[s.i]) {
				s.i++
			}
			seg = s.src[start:s.i]
		default:
			return segs
		}
		segs = append(segs, seg)
		s.skipSpace(false)
		if s.peek() != '.' {
			return segs
		}
		s.i++
	}
}

func unquoteKey(q string) string {
	if len(q) >= 2 && q[0] == '\'' && q[len(q)-1] == '\'' {
		return q[1 : len(q)-1]
	}
	if u, err := strconv.Unquote(q); err == nil {
		return u
	}
	return strings.Trim(q, `"`)
}

func (s *scanner) value(key string) {
	switch s.peek() {
	case '"', '\'':
		s.skipString()
	case '[':
		s.array(key)
	case '{':
		s.inlineTable(key)
	default:
		s.scalar()
	}
}

func (s *scanner) array(key string) {
	s.i++ // [
	for n := 0; ; {
		s.skipSpace(true)
		switch s.peek() {
		case 0:
			return
		case ']':
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		elem := indexKey(key, n)
		n++
		s.mark(elem, s.i, true)
		start := s.i
		s.value(elem)
		if s.i == start { // not a value: step over it
			s.i++
		}
	}
}

func (s *scanner) inlineTable(key string) {
	s.i++ // {
	for {
		s.skipSpace(true)
		switch s.peek() {
		case 0:
			return
		case '}':
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		start := s.i
		segs := s.key()
		if len(segs) == 0 { // not a key: step over it
			s.i++
			continue
		}
		s.skipSpace(false)
		if s.peek() == '=' {
			s.i++
		}
		s.skipSpace(false)
		s.value(s.define(key, segs, start, false))
	}
}

// skipString steps over a basic, literal or multi-line string.
func (s *scanner) skipString() {
	q := s.src[s.i]
	triple := strings.Repeat(string(q), 3)
	if strings.HasPrefix(s.rest(), triple) {
		s.i += 3
		for s.i < len(s.src) {
			switch {
			case q == '"' && s.src[s.i] == '\\':
				s.i += 2
			case strings.HasPrefix(s.rest(), triple):
				s.i += 3
				// Up to two more quotes belong to the content.
				for k := 0; k < 2 && s.peek() == q; k++ {
					s.i++
				}
				return
			default:
				s.i++
			}
		}
		s.i = len(s.src)
		return
	}
	s.i++
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		switch s.src[s.i] {
		case '\\':
			if q == '"' {
				s.i++
			}
		case q:
			s.i++
			return
		}
		s.i++
	}
	s.i = min(s.i, len(s.src))
}

// scalar steps over a number, boolean or date-time.
func (s *scanner) scalar() {
	start := s.i
	for s.i < len(s.src) && !strings.ContainsRune(" \t\r\n,]}#", rune(s.src[s.i])) {
		s.i++
	}
	// "1979-05-27 07:32:00Z": a date and a time may be split by a space.
	if s.i-start == 10 && s.src[start+4] == '-' && s.src[start+7] == '-' &&
		strings.HasPrefix(s.rest(), " ") && s.i+1 < len(s.src) && s.src[s.i+1] >= '0' && s.src[s.i+1] <= '9' {
		s.i++
		s.scalar()
	}
}

// skipSpace steps over blanks and, with lines set, newlines and comments.
func (s *scanner) skipSpace(lines bool) {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			if !lines {
				return
			}
			s.i++
		case '#':
			if !lines {
				return
			}
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine steps to the next newline, leaving it unread.
func (s *scanner) skipLine() {
	if n := strings.IndexByte(s.rest(), '\n'); n >= 0 {
		s.i += n
	} else {
		s.i = len(s.src)
	}
}
