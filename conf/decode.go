package conf

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder fills a Config from the generic tree toml.Decode makes of the
// file. Doing this here rather than in toml.Decode lets one bad value not
// hide the others, names failing keys with their array index, and matches
// key names exactly (toml.Decode also accepts "Name" for "name").
type decoder struct {
	errs   []*Error
	failed []string        // keys whose value could not be decoded
	seen   map[string]bool // keys present in the file
}

func newDecoder() *decoder { return &decoder{seen: map[string]bool{}} }

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	d.failed = append(d.failed, key)
}

// failedUnder reports whether key is, or lies under, a key that failed
// to decode: checks on it would only repeat the problem.
func (d *decoder) failedUnder(key string) bool {
	for _, f := range d.failed {
		if key == f || strings.HasPrefix(key, f+".") || strings.HasPrefix(key, f+"[") {
			return true
		}
	}
	return false
}

// table decodes the TOML table m into the struct rv, key by key in name
// order; keys without a matching field are reported as unknown.
func (d *decoder) table(key string, m map[string]any, rv reflect.Value) {
	fields := tomlFields(rv.Type())
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		k := joinKey(key, name)
		i, ok := fields[name]
		if !ok {
			d.errs = append(d.errs, &Error{Key: k, Msg: "unknown key" + suggest(name, fields)})
			continue
		}
		d.value(k, m[name], rv.Field(i))
	}
}

// tomlFields maps the toml tag names of t's fields to their index.
func tomlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}

// suggest offers the known key closest to a misspelt one: same letters in
// another case, or one edit per three letters, at most two.
func suggest(name string, fields map[string]int) string {
	best, bestDist := "", min(2, len(name)/3)+1
	for f := range fields {
		dist := editDistance(strings.ToLower(name), f)
		if dist < bestDist || dist == bestDist && f < best {
			best, bestDist = f, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance counts the insertions, deletions, substitutions and
// swaps of adjacent bytes that turn a into b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// value decodes the TOML value v into rv, which must be addressable.
func (d *decoder) value(key string, v any, rv reflect.Value) {
	d.seen[key] = true
	switch dst := rv.Addr().Interface().(type) {
	case *netip.AddrPort:
		if s, ok := d.text(key, v); ok {
			if ap, err := parseAddrPort(s); err != nil {
				d.fail(key, "%v", err)
			} else {
				*dst = ap
			}
		}
		return
	case *netip.Addr:
		if s, ok := d.text(key, v); ok {
			if a, err := parseAddr(s); err != nil {
				d.fail(key, "%v", err)
			} else {
				*dst = a
			}
		}
		return
	case encoding.TextUnmarshaler:
		if s, ok := d.text(key, v); ok {
			if err := dst.UnmarshalText([]byte(s)); err != nil {
				d.fail(key, "%v", err)
			}
		}
		return
	}
	switch rv.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			rv.SetString(s)
			return
		}
		d.fail(key, "want a string, got %s", describe(v))
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			rv.SetBool(b)
			return
		}
		d.fail(key, "want true or false, got %s", describe(v))
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			d.fail(key, "want an integer, got %s", describe(v))
			return
		}
		if rv.OverflowInt(n) {
			d.fail(key, "%d is too large", n)
			return
		}
		rv.SetInt(n)
	case reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			d.table(key, m, rv)
			return
		}
		d.fail(key, "want a table, got %s", describe(v))
	case reflect.Slice:
		elems, ok := asArray(v)
		if !ok {
			d.fail(key, "want an array, got %s", describe(v))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(elems), len(elems))
		for i, e := range elems {
			d.value(indexKey(key, i), e, s.Index(i))
		}
		rv.Set(s)
	default:
		panic(fmt.Sprintf("conf: field %s has unsupported type %s", key, rv.Type()))
	}
}

// text returns a value meant for UnmarshalText: a string, or an integer
// spelled in decimal (download_rate = 1048576, passive_ports = 40000).
func (d *decoder) text(key string, v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	d.fail(key, "want a string, got %s", describe(v))
	return "", false
}

func asArray(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []map[string]any: // [[array.of.tables]]
		elems := make([]any, len(v))
		for i, m := range v {
			elems[i] = m
		}
		return elems, true
	}
	return nil, false
}

// describe names a TOML value's type, with the value for scalars.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case time.Time:
		return "date-time " + v.Format(time.RFC3339Nano)
	case []any:
		return "array"
	case []map[string]any:
		return "array of tables"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// parseAddrPort parses "IP:port" ("" = not set). IPv4-mapped IPv6 is
// turned into IPv4.
func parseAddrPort(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf(`want IP:port like "127.0.0.1:2121", got %q`, s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// parseAddr parses an IP address ("" = not set). IPv4-mapped IPv6 is
// turned into IPv4.
func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf(`want an IP address like "203.0.113.7", got %q`, s)
	}
	return a.Unmap(), nil
}
