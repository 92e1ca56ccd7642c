package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// A name with spaces and a ')' must not shift the fields.
	line := "1234 (a b) c)) S 1 777 777 0 -1 4194560 100 0 0 0 150 50 30 20 20 0 1 0 100 0 0\n"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 1 {
		t.Errorf("ppid = %d, want 1", st.ppid)
	}
	if st.pgrp != 777 {
		t.Errorf("pgrp = %d, want 777", st.pgrp)
	}
	if want := 2.5; st.cpu != want { // (150+50+30+20) ticks
		t.Errorf("cpu = %v, want %v", st.cpu, want)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 z 3 0 -1 0 0 0 0 0 1 1 1 1"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

// A reaped child's CPU time shows in its parent's cutime/cstime: the
// reason the bench reads the master of a forking server.
func TestCPUOfCountsReapedChildren(t *testing.T) {
	before, err := cpuOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Skipf("sh busy loop: %v", err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if child < 50*time.Millisecond {
		t.Skipf("child used only %v (in %v): too little to see in 10 ms ticks", child, time.Since(start))
	}
	after, err := cpuOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got < child.Seconds()*0.8 {
		t.Errorf("parent's cpu grew by %.2fs, the reaped child used %.2fs", got, child.Seconds())
	}
}

func TestHasDescendant(t *testing.T) {
	masters := map[int]bool{100: true}
	// 300 -> 200 -> 100 (a session that left the group with setsid).
	if !hasDescendant(map[int]int{200: 100, 300: 200, 400: 1}, masters) {
		t.Error("grandchild of the master not found")
	}
	if hasDescendant(map[int]int{400: 1, 500: 400}, masters) {
		t.Error("unrelated processes counted")
	}
	if hasDescendant(map[int]int{600: 700, 700: 600}, masters) { // a cycle ends
		t.Error("cycle counted")
	}
}
