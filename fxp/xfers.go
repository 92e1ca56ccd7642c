package fxp

import (
	"fmt"
	"strconv"
	"strings"
)

// Xfer is one running transfer as ftpd reports it in SITE XFERS.
type Xfer struct {
	ID      uint64
	Cmd     string // RETR, STOR or APPE
	Dir     string // send or receive
	Bytes   int64  // moved by this transfer (after any REST offset)
	Size    int64  // -1 when unknown
	Rate    int64  // average, bytes/s
	Elapsed float64
	Peer    string // ip:port
	FXP     bool
	Path    string
}

// xfersKeys is the order of the keys on a SITE XFERS line; path is last
// and runs to the end of the line.
var xfersKeys = [...]string{"id", "cmd", "dir", "bytes", "size", "rate", "elapsed", "peer", "fxp", "path"}

// ParseXfers reads the text of a 200 reply to SITE XFERS:
//
//	200-N transfer(s) in progress
//	200- id=7 cmd=RETR dir=send bytes=1048576 size=5242880 rate=52428800 elapsed=0.020 peer=127.0.0.3:40011 fxp=yes path=/big file.bin
//	200 End
//
// Lines may keep their "200-" prefix or lose it (as net/textproto does)
// and start with a space. The count line and End are checked.
func ParseXfers(msg string) ([]Xfer, error) {
	lines := strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n")
	var out []Xfer
	want := -1
	ended := false
	for i, l := range lines {
		l = strings.TrimPrefix(l, "200-")
		l = strings.TrimPrefix(l, "200 ")
		l = strings.TrimSpace(l)
		switch {
		case l == "":
			continue
		case i == 0:
			n, rest, _ := strings.Cut(l, " ")
			c, err := strconv.Atoi(n)
			if err != nil || !strings.HasPrefix(rest, "transfer") {
				return nil, fmt.Errorf("SITE XFERS: unexpected first line %q", l)
			}
			want = c
		case l == "End":
			ended = true
		default:
			x, err := parseXferLine(l)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
	}
	if want < 0 || !ended {
		return nil, fmt.Errorf("SITE XFERS: incomplete reply %q", msg)
	}
	if want != len(out) {
		return nil, fmt.Errorf("SITE XFERS: announced %d transfer(s), listed %d", want, len(out))
	}
	return out, nil
}

func parseXferLine(line string) (Xfer, error) {
	var x Xfer
	rest := line
	for i, key := range xfersKeys {
		prefix := key + "="
		if !strings.HasPrefix(rest, prefix) {
			return Xfer{}, fmt.Errorf("SITE XFERS: want %q in %q", prefix, line)
		}
		rest = rest[len(prefix):]
		var val string
		if i == len(xfersKeys)-1 {
			val = rest
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		if err := x.set(key, val); err != nil {
			return Xfer{}, fmt.Errorf("SITE XFERS: %s in %q: %w", key, line, err)
		}
	}
	return x, nil
}

func (x *Xfer) set(key, val string) error {
	var err error
	switch key {
	case "id":
		x.ID, err = strconv.ParseUint(val, 10, 64)
	case "cmd":
		x.Cmd = val
	case "dir":
		x.Dir = val
	case "bytes":
		x.Bytes, err = strconv.ParseInt(val, 10, 64)
	case "size":
		x.Size, err = strconv.ParseInt(val, 10, 64)
	case "rate":
		x.Rate, err = strconv.ParseInt(val, 10, 64)
	case "elapsed":
		x.Elapsed, err = strconv.ParseFloat(val, 64)
	case "peer":
		x.Peer = val
	case "fxp":
		switch val {
		case "yes":
			x.FXP = true
		case "no":
		default:
			err = fmt.Errorf("want yes or no, got %q", val)
		}
	case "path":
		x.Path = val
	}
	return err
}

// findXfer picks the transfer of path (relative to the login directory or
// absolute) among xs, for one of the commands given.
func findXfer(xs []Xfer, path string, cmds ...string) (Xfer, bool) {
	want := "/" + strings.TrimPrefix(path, "/")
	var suffix *Xfer
	for i, x := range xs {
		ok := false
		for _, c := range cmds {
			ok = ok || strings.EqualFold(x.Cmd, c)
		}
		switch {
		case !ok:
		case x.Path == path || x.Path == want:
			return x, true
		case suffix == nil && strings.HasSuffix(x.Path, want):
			suffix = &xs[i] // the login directory is not the root
		}
	}
	if suffix != nil {
		return *suffix, true
	}
	return Xfer{}, false
}
