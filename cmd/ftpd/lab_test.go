package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/conf"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLabConfig(t *testing.T) {
	_, hash, err := labPassword(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, memory := range []bool{false, true} {
		text := labConfig("A", netip.MustParseAddrPort("127.0.0.2:2121"), netip.MustParseAddr("127.0.0.3"), "/tmp/lab/a", hash, memory)
		cfg, err := conf.Parse("lab", []byte(text))
		if err != nil {
			t.Fatalf("memory=%v: %v\n%s", memory, err, text)
		}
		if !cfg.FXP.Enabled || len(cfg.FXP.Peers) != 1 || cfg.FXP.Peers[0].String() != "127.0.0.3/32" {
			t.Fatalf("fxp: %+v, want peers = the other server's /32 only", cfg.FXP)
		}
		if len(cfg.Users) != 1 || cfg.Users[0].Name != labUser || (cfg.Users[0].Backend == conf.BackendMemory) != memory {
			t.Fatalf("users: %+v", cfg.Users)
		}
	}
}

func TestLabFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-a", "127.0.0.2"},
		{"-b", "nowhere:21"},
		{"-a", "127.0.0.2:0", "-b", "127.0.0.2:0"},
		{"-size", "lots"},
		{"-bind", "x"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"lab"}, args...), nil, &out, &errOut); code != exitConfig {
			t.Errorf("lab %q: exit %d, want %d\n%s", args, code, exitConfig, errOut.String())
		}
	}
}

func testLabOptions(demo, exit, memory bool) labOptions {
	return labOptions{
		a: netip.MustParseAddrPort("127.0.0.2:0"), b: netip.MustParseAddrPort("127.0.0.3:0"),
		size: 3 << 20, demo: demo, exit: exit, memory: memory,
		bind: netip.MustParseAddr("127.0.0.10"), cost: bcrypt.MinCost,
	}
}

func TestLabDemoExits(t *testing.T) {
	for _, memory := range []bool{false, true} {
		var out, errOut syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := lab(ctx, testLabOptions(true, true, memory), &out, &errOut)
		cancel()
		if err != nil {
			t.Fatalf("memory=%v: %v\n%s", memory, err, errOut.String())
		}
		for _, want := range []string{"fxp copy --verify ftp://lab:", "verified sha256:", "Demo done: 3145728 bytes"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("memory=%v: output lacks %q:\n%s", memory, want, out.String())
			}
		}
	}
}

func TestLabServesUntilCancelled(t *testing.T) {
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lab(ctx, testLabOptions(false, false, true), &out, &errOut) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Serving until Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("lab did not start:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lab did not stop after cancel")
	}
	if !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("output:\n%s", out.String())
	}
}
