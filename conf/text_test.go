package conf

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string // substring; "" = no error
		str     string // String() of the result
	}{
		{"", 0, "", "0B"},
		{"0", 0, "", "0B"},
		{"1048576", 1 << 20, "", "1MiB"},
		{"100MiB", 100 << 20, "", "100MiB"},
		{"512KiB", 512 << 10, "", "512KiB"},
		{"512 kib", 512 << 10, "", "512KiB"},
		{" 1GB ", 1e9, "", "1GB"},
		{"1.5MiB", 3 << 19, "", "1536KiB"},
		{"1.5MB", 1500000, "", "1500KB"},
		{"2TiB", 2 << 40, "", "2TiB"},
		{"7B", 7, "", "7B"},
		{"1000", 1000, "", "1KB"},
		{"1023", 1023, "", "1023B"},
		{"8388607TiB", 8388607 << 40, "", "8388607TiB"},
		{"8388608TiB", 0, "too large", ""},
		{"9223372036854775807", 1<<63 - 1, "", "9223372036854775807B"},
		{"9223372036854775808", 0, "too large", ""},
		{"-1", 0, "negative", ""},
		{"-1KiB", 0, "negative", ""},
		{"1.1KiB", 0, "whole number of bytes", ""},
		{"0.5", 0, "whole number of bytes", ""},
		{"1.", 0, "invalid size", ""},
		{".5MiB", 0, "invalid size", ""},
		{"1.2.3MB", 0, "invalid size", ""},
		{"MiB", 0, "invalid size", ""},
		{"10 MB/s", 0, `unknown unit "MB/s"`, ""},
		{"1e6", 0, `unknown unit "e6"`, ""},
		{"+5", 0, "invalid size", ""},
	}
	for _, tt := range tests {
		var s Size
		err := s.UnmarshalText([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Size(%q): err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || s != tt.want || s.String() != tt.str {
			t.Errorf("Size(%q) = %d %q, %v; want %d %q", tt.in, s, s, err, tt.want, tt.str)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5m", 5 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"-1s", 0, false},
		{"", 0, false},
		{"5", 0, false},
		{"5 min", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || d.Duration != tt.want {
			t.Errorf("Duration(%q) = %v, %v; want %v ok=%v", tt.in, d, err, tt.want, tt.ok)
		}
	}
	if b, _ := (Duration{90 * time.Second}).MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestPortRange(t *testing.T) {
	tests := []struct {
		in   string
		want PortRange
		ok   bool
	}{
		{"", PortRange{}, true},
		{"40000-40100", PortRange{40000, 40100}, true},
		{"40000", PortRange{40000, 40000}, true},
		{" 21 - 22 ", PortRange{21, 22}, true},
		{"1-65535", PortRange{1, 65535}, true},
		{"0-10", PortRange{}, false},
		{"10-0", PortRange{}, false},
		{"2-1", PortRange{}, false},
		{"1-65536", PortRange{}, false},
		{"-5", PortRange{}, false},
		{"5-", PortRange{}, false},
		{"1-2-3", PortRange{}, false},
		{"+5", PortRange{}, false},
		{"abc", PortRange{}, false},
	}
	for _, tt := range tests {
		var r PortRange
		err := r.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || r != tt.want {
			t.Errorf("PortRange(%q) = %v, %v; want %v ok=%v", tt.in, r, err, tt.want, tt.ok)
		}
	}
	for r, want := range map[PortRange]string{{}: "", {21, 21}: "21", {40000, 40100}: "40000-40100"} {
		if r.String() != want {
			t.Errorf("%#v.String() = %q, want %q", r, r.String(), want)
		}
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		in      string
		want    string // prefix, or "" for an error
		wantErr string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"127.0.0.2", "127.0.0.2/32", ""},
		{"::1", "::1/128", ""},
		{"fd00::/8", "fd00::/8", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"10.1.2.3/8", "", `use "10.0.0.0/8"`},
		{"::ffff:0.0.0.0/95", "", "at least /96"},
		{"10.0.0.0/33", "", "invalid CIDR"},
		{"fe80::1%eth0", "", "zones"},
		{"localhost", "", "invalid address"},
		{"", "", "empty"},
		{" 10.0.0.0/8", "", "invalid CIDR"},
	}
	for _, tt := range tests {
		var p Prefix
		err := p.UnmarshalText([]byte(tt.in))
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Prefix(%q): err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p.Prefix != netip.MustParsePrefix(tt.want) {
			t.Errorf("Prefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

func TestEnums(t *testing.T) {
	var m FXPMode
	if err := m.UnmarshalText([]byte("both")); err != nil || m != FXPBoth || !m.CanSend() || !m.CanReceive() {
		t.Errorf("FXPMode(both) = %v, %v", m, err)
	}
	err := m.UnmarshalText([]byte("Both"))
	if err == nil || err.Error() != `unknown value "Both" (want none, send, receive or both)` || m != FXPBoth {
		t.Errorf("FXPMode(Both): %v, value now %v", err, m)
	}
	if FXPSend.CanReceive() || !FXPSend.CanSend() || FXPReceive.CanSend() || FXPNone.CanSend() {
		t.Error("CanSend/CanReceive disagree with the modes")
	}
	if FXPUnset.String() != "FXPMode(0)" {
		t.Errorf("FXPUnset.String() = %q", FXPUnset.String())
	}
	if _, err := FXPUnset.MarshalText(); err == nil {
		t.Error("FXPUnset.MarshalText succeeded")
	}
	for _, tt := range []struct {
		v    interface{ MarshalText() ([]byte, error) }
		want string
	}{
		{TLSImplicit, "implicit"}, {BackendMemory, "memory"}, {LogJSON, "json"}, {LevelWarn, "warn"}, {FXPReceive, "receive"},
	} {
		if b, err := tt.v.MarshalText(); err != nil || string(b) != tt.want {
			t.Errorf("MarshalText(%v) = %q, %v", tt.v, b, err)
		}
	}
	for l, want := range map[LogLevel]slog.Level{LevelDebug: slog.LevelDebug, LevelInfo: slog.LevelInfo, LevelWarn: slog.LevelWarn, LevelError: slog.LevelError} {
		if l.SlogLevel() != want {
			t.Errorf("%v.SlogLevel() = %v", l, l.SlogLevel())
		}
	}
}

func TestRunAsAndUmask(t *testing.T) {
	for in, want := range map[string]RunAs{"": {}, "ftp": {User: "ftp"}, "ftp:nogroup": {User: "ftp", Group: "nogroup"}, "65534:65534": {User: "65534", Group: "65534"}} {
		var r RunAs
		if err := r.UnmarshalText([]byte(in)); err != nil || r != want {
			t.Errorf("RunAs(%q) = %+v, %v; want %+v", in, r, err, want)
		}
	}
	for _, in := range []string{":", "ftp:", ":grp", "a b", "-x", "ftp:g:h", "root\n"} {
		var r RunAs
		if err := r.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("RunAs(%q) accepted: %+v", in, r)
		}
	}
	for in, want := range map[string]Umask{"022": 0o22, "0o027": 0o27, "77": 0o77, "0777": 0o777, "0": 0} {
		var m Umask
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("Umask(%q) = %v, %v; want %v", in, m, err, want)
		}
	}
	for _, in := range []string{"", "8", "1000", "-1", "0o", "abc", "0x12"} {
		var m Umask
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Umask(%q) accepted: %v", in, m)
		}
	}
}
