// Package logsafe escapes what clients send before it reaches a log.
// File names, user names, command lines and the error texts that carry
// them can hold bytes a terminal or log viewer acts on: C0 controls (ESC
// starts an escape sequence), DEL, C1 controls (0x9B is CSI on 8-bit
// terminals), bidirectional overrides and isolates (U+202A-U+202E,
// U+2066-U+2069) that show a line reversed, and invalid UTF-8 (which a
// JSON encoder would replace, losing what was sent). Handler wraps any
// slog.Handler, text or JSON, so that every string value, message, key
// and group name is escaped in one place.
package logsafe

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every byte or character a viewer could act on
// written as a Go-style escape (\x1b, \u202e, \x9b for an invalid byte),
// and backslashes doubled so that the escaping is unambiguous. A string
// with nothing to escape is returned as it is.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafe(r, size) || r == '\\' {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x80 && unsafe(r, size):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r, size):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafe reports whether the rune r (size bytes of input) must be escaped.
func unsafe(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return true // invalid UTF-8
	case r < 0x20 || r == 0x7f:
		return true // C0, DEL
	case r >= 0x80 && r <= 0x9f:
		return true // C1
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidi embeddings, overrides, isolates
	case r == 0x200e || r == 0x200f || r == 0x061c:
		return true // bidi marks
	case r == 0x2028 || r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}

// Handler escapes the strings of every record before its inner handler
// formats it.
type Handler struct{ inner slog.Handler }

// Wrap returns h wrapped by a Handler (h itself if it already is one).
func Wrap(h slog.Handler) slog.Handler {
	if _, ok := h.(*Handler); ok {
		return h
	}
	return &Handler{inner: h}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Escape(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = attr(a)
	}
	return &Handler{inner: h.inner.WithAttrs(out)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(Escape(name))}
}

// attr escapes a's key and value: strings, and the text of errors,
// Stringers and byte slices (which a handler would print as they are).
func attr(a slog.Attr) slog.Attr {
	a.Key = Escape(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Escape(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = attr(ga)
		}
		a.Value = slog.GroupValue(out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(Escape(x.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(Escape(x.String()))
		case []byte:
			a.Value = slog.StringValue(Escape(string(x)))
		default:
			a.Value = v
		}
	default:
		a.Value = v
	}
	return a
}
