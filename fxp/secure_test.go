package fxp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// fakeFTP is a control connection that lists feats in FEAT, answers SSCN
// only if it lists SSCN, answers CPSV with a 227, and records what it got.
type fakeFTP struct {
	mu   sync.Mutex
	cmds []string
}

func startFake(t *testing.T, feats ...string) (*fakeFTP, *ftpclient.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeFTP{}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		w := bufio.NewWriter(c)
		reply := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
		reply("220 fake")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimSpace(line)
			f.mu.Lock()
			f.cmds = append(f.cmds, cmd)
			f.mu.Unlock()
			switch {
			case cmd == "FEAT":
				reply("211-Features")
				for _, ft := range feats {
					reply(" " + ft)
				}
				reply("211 End")
			case strings.HasPrefix(cmd, "SSCN") && hasFeature(feats, "SSCN"):
				reply("200 SSCN:CLIENT METHOD")
			case cmd == "CPSV" && hasFeature(feats, "CPSV"):
				reply("227 Entering Passive Mode (127,0,0,2,10,0)")
			default:
				reply("500 unknown command")
			}
		}
	}()
	conn, err := ftpclient.Dial(context.Background(), ln.Addr().String(), ftpclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return f, conn
}

func (f *fakeFTP) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

// TestSecureChoosesTLSClient: --secure asks the chosen server to be the
// TLS client with SSCN ON; a passive server that lists CPSV but not SSCN
// gets CPSV instead of PASV; a chosen server with neither hands the role
// to the other; with neither server able, the copy fails before any data
// command.
func TestSecureChoosesTLSClient(t *testing.T) {
	cases := []struct {
		name           string
		side           SSCNSide
		srcFeat        []string // the source is the passive side here
		dstFeat        []string
		wantCPSV       bool
		wantSrc, wantD []string // commands after FEAT
		wantErr        error
	}{
		{"sscn on the passive source", SSCNPassive, []string{"SSCN", "CPSV"}, []string{"SSCN"}, false, []string{"SSCN ON"}, nil, nil},
		{"sscn on the active destination", SSCNActive, []string{"SSCN"}, []string{"SSCN"}, false, nil, []string{"SSCN ON"}, nil},
		{"cpsv when the passive side lacks SSCN", SSCNPassive, []string{"CPSV"}, []string{"SSCN"}, true, nil, nil, nil},
		{"the other side when the chosen lacks both", SSCNDestination, []string{"SSCN"}, nil, false, []string{"SSCN ON"}, nil, nil},
		{"neither can", SSCNPassive, nil, []string{"CPSV"}, false, nil, nil, errNoTLSClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, cs := startFake(t, tc.srcFeat...)
			fd, cd := startFake(t, tc.dstFeat...)
			w := &worker{
				cl:  &Client{opts: Options{Secure: true, SSCN: tc.side}},
				src: &server{role: roleSrc, ep: Endpoint{Host: "127.0.0.2"}, c: cs},
				dst: &server{role: roleDst, ep: Endpoint{Host: "127.0.0.2"}, c: cd},
			}
			cpsv, err := w.secure(w.src, w.dst) // PASV on the source
			if !errors.Is(err, tc.wantErr) || cpsv != tc.wantCPSV {
				t.Fatalf("cpsv=%v err=%v, want %v %v", cpsv, err, tc.wantCPSV, tc.wantErr)
			}
			if tc.wantCPSV {
				ap, err := w.src.cpsv()
				if err != nil || ap != netip.MustParseAddrPort("127.0.0.2:2560") {
					t.Fatalf("CPSV: %v %v", ap, err)
				}
				tc.wantSrc = []string{"CPSV"}
			}
			for _, x := range []struct {
				f    *fakeFTP
				want []string
			}{{fs, tc.wantSrc}, {fd, tc.wantD}} {
				var after []string
				for _, c := range x.f.got() {
					if c != "FEAT" {
						after = append(after, c)
					}
				}
				if strings.Join(after, "|") != strings.Join(x.want, "|") {
					t.Fatalf("commands %q, want %q", after, x.want)
				}
			}
		})
	}
}
