package conf

import (
	"fmt"
	"log/slog"
	"strings"
)

// enumName ties an enum value to its spelling in the file.
type enumName[T ~int] struct {
	name  string
	value T
}

// Spellings of the enums, in the order error messages list them.
var (
	tlsModes    = []enumName[TLSMode]{{"off", TLSOff}, {"explicit", TLSExplicit}, {"implicit", TLSImplicit}}
	fxpModes    = []enumName[FXPMode]{{"none", FXPNone}, {"send", FXPSend}, {"receive", FXPReceive}, {"both", FXPBoth}}
	backends    = []enumName[Backend]{{"os", BackendOS}, {"memory", BackendMemory}, {"s3", BackendS3}}
	logFormats  = []enumName[LogFormat]{{"text", LogText}, {"json", LogJSON}}
	logLevels   = []enumName[LogLevel]{{"debug", LevelDebug}, {"info", LevelInfo}, {"warn", LevelWarn}, {"error", LevelError}}
	prevKeys    = []enumName[PreviousKey]{{"accept", PreviousAccept}, {"drop", PreviousDrop}}
	spentStores = []enumName[SpentStore]{{"file", SpentFile}, {"s3", SpentS3}}
)

// setEnum stores the value spelled text in *dst; on error *dst is unchanged.
func setEnum[T ~int](table []enumName[T], dst *T, text []byte) error {
	for _, e := range table {
		if e.name == string(text) {
			*dst = e.value
			return nil
		}
	}
	return fmt.Errorf("unknown value %q (want %s)", text, enumChoices(table))
}

// enumChoices lists the spellings: "none, send, receive or both".
func enumChoices[T ~int](table []enumName[T]) string {
	names := make([]string, len(table))
	for i, e := range table {
		names[i] = e.name
	}
	last := len(names) - 1
	return strings.Join(names[:last], ", ") + " or " + names[last]
}

func enumLookup[T ~int](table []enumName[T], v T) (string, bool) {
	for _, e := range table {
		if e.value == v {
			return e.name, true
		}
	}
	return "", false
}

func enumString[T ~int](table []enumName[T], v T, typ string) string {
	if name, ok := enumLookup(table, v); ok {
		return name
	}
	return fmt.Sprintf("%s(%d)", typ, int(v))
}

func enumMarshal[T ~int](table []enumName[T], v T, typ string) ([]byte, error) {
	if name, ok := enumLookup(table, v); ok {
		return []byte(name), nil
	}
	return nil, fmt.Errorf("conf: invalid %s %d", typ, int(v))
}

func enumValid[T ~int](table []enumName[T], v T) bool {
	_, ok := enumLookup(table, v)
	return ok
}

// String returns off, explicit or implicit.
func (m TLSMode) String() string { return enumString(tlsModes, m, "TLSMode") }

// MarshalText returns the mode's name; an unknown mode is an error.
func (m TLSMode) MarshalText() ([]byte, error) { return enumMarshal(tlsModes, m, "TLSMode") }

// UnmarshalText accepts off, explicit or implicit.
func (m *TLSMode) UnmarshalText(text []byte) error { return setEnum(tlsModes, m, text) }

// String returns none, send, receive or both (FXPMode(0) when unset).
func (m FXPMode) String() string { return enumString(fxpModes, m, "FXPMode") }

// MarshalText returns the mode's name; FXPUnset and unknown modes are errors.
func (m FXPMode) MarshalText() ([]byte, error) { return enumMarshal(fxpModes, m, "FXPMode") }

// UnmarshalText accepts none, send, receive or both.
func (m *FXPMode) UnmarshalText(text []byte) error { return setEnum(fxpModes, m, text) }

// CanSend reports whether data may go to a foreign address (RETR).
func (m FXPMode) CanSend() bool { return m == FXPSend || m == FXPBoth }

// CanReceive reports whether data may come from a foreign address (STOR, APPE).
func (m FXPMode) CanReceive() bool { return m == FXPReceive || m == FXPBoth }

// String returns os or memory.
func (b Backend) String() string { return enumString(backends, b, "Backend") }

// MarshalText returns the backend's name; an unknown backend is an error.
func (b Backend) MarshalText() ([]byte, error) { return enumMarshal(backends, b, "Backend") }

// UnmarshalText accepts os or memory.
func (b *Backend) UnmarshalText(text []byte) error { return setEnum(backends, b, text) }

// String returns text or json.
func (f LogFormat) String() string { return enumString(logFormats, f, "LogFormat") }

// MarshalText returns the format's name; an unknown format is an error.
func (f LogFormat) MarshalText() ([]byte, error) { return enumMarshal(logFormats, f, "LogFormat") }

// UnmarshalText accepts text or json.
func (f *LogFormat) UnmarshalText(text []byte) error { return setEnum(logFormats, f, text) }

// String returns debug, info, warn or error.
func (l LogLevel) String() string { return enumString(logLevels, l, "LogLevel") }

// MarshalText returns the level's name; an unknown level is an error.
func (l LogLevel) MarshalText() ([]byte, error) { return enumMarshal(logLevels, l, "LogLevel") }

// UnmarshalText accepts debug, info, warn or error.
func (l *LogLevel) UnmarshalText(text []byte) error { return setEnum(logLevels, l, text) }

// SlogLevel returns the matching log/slog level.
func (l LogLevel) SlogLevel() slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// String returns accept or drop.
func (p PreviousKey) String() string { return enumString(prevKeys, p, "PreviousKey") }

// MarshalText returns the policy's name; an unknown one is an error.
func (p PreviousKey) MarshalText() ([]byte, error) { return enumMarshal(prevKeys, p, "PreviousKey") }

// UnmarshalText accepts accept or drop.
func (p *PreviousKey) UnmarshalText(text []byte) error { return setEnum(prevKeys, p, text) }

// String returns file or s3.
func (s SpentStore) String() string { return enumString(spentStores, s, "SpentStore") }

// MarshalText returns the store's name; an unknown store is an error.
func (s SpentStore) MarshalText() ([]byte, error) { return enumMarshal(spentStores, s, "SpentStore") }

// UnmarshalText accepts file or s3.
func (s *SpentStore) UnmarshalText(text []byte) error { return setEnum(spentStores, s, text) }
