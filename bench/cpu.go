package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procStat is what the bench reads from /proc/PID/stat.
type procStat struct {
	ppid int
	pgrp int
	// cpu is utime+stime+cutime+cstime in seconds: the process's own CPU
	// time plus that of every child it has reaped, so a forking server's
	// finished sessions count once the master has waited for them.
	cpu float64
	// user and sys split cpu (own plus reaped children), for diagnosis.
	user, sys float64
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(data))
}

// parseProcStat parses one /proc/PID/stat line. The command name (field 2)
// is in parentheses and may hold spaces and parentheses itself, so fields
// are counted after its last ')'.
func parseProcStat(line string) (procStat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state); pgrp is field 5, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc stat: %d fields after the name", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc stat ppid: %w", err)
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc stat pgrp: %w", err)
	}
	var t [4]int64 // utime, stime, cutime, cstime
	for i, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("/proc stat times: %w", err)
		}
		t[i] = n
	}
	user, sys := float64(t[0]+t[2])/clockTicks, float64(t[1]+t[3])/clockTicks
	return procStat{ppid: ppid, pgrp: pgrp, cpu: user + sys, user: user, sys: sys}, nil
}

// cpuEach reads every master's times.
func cpuEach(pids ...int) ([]procStat, error) {
	out := make([]procStat, len(pids))
	for i, pid := range pids {
		st, err := readProcStat(pid)
		if err != nil {
			return nil, fmt.Errorf("server cpu time: %w", err)
		}
		out[i] = st
	}
	return out, nil
}

// cpuOf sums the CPU seconds of the given master processes.
func cpuOf(pids ...int) (float64, error) {
	var sum float64
	for _, pid := range pids {
		st, err := readProcStat(pid)
		if err != nil {
			return 0, fmt.Errorf("server cpu time: %w", err)
		}
		sum += st.cpu
	}
	return sum, nil
}

// quiesce waits (up to within) until no process other than the masters
// is left in the masters' process groups or below them (vsftpd's sessions
// call setsid, so the group alone misses them): the session processes of
// forking servers have exited and been reaped, so their CPU time is in the
// masters' cutime/cstime. It reports whether that happened.
func quiesce(within time.Duration, pids ...int) bool {
	groups := map[int]bool{}
	masters := map[int]bool{}
	for _, p := range pids {
		groups[p] = true // every server is started as its own group leader
		masters[p] = true
	}
	deadline := time.Now().Add(within)
	for {
		if !othersInGroups(groups, masters) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func othersInGroups(groups, masters map[int]bool) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || masters[pid] {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // gone
		}
		if groups[st.pgrp] {
			return true
		}
		parent[pid] = st.ppid
	}
	return hasDescendant(parent, masters)
}

// hasDescendant reports whether any process in parent (pid → ppid) has an
// ancestor among masters.
func hasDescendant(parent map[int]int, masters map[int]bool) bool {
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if masters[p] {
				return true
			}
		}
	}
	return false
}
