package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/bench/rawlimit"
	"github.com/ftpd/ftpd/ftpclient"
)

// passiveSide says which server of an FXP copy gets PASV.
type passiveSide string

const (
	pasvOnDst passiveSide = "dst"
	pasvOnSrc passiveSide = "src"
)

// fxpCopy copies big.bin from c.a to c.b as copy.bin with PASV on the
// given side and returns the time from the transfer commands to both final
// replies.
func fxpCopy(c *contender, side passiveSide) (time.Duration, error) {
	src, err := dial(c.a, c.user, c.pass, c.clientA, c.secure)
	if err != nil {
		return 0, fmt.Errorf("%s source: %w", c.name, err)
	}
	defer src.Quit()
	dst, err := dial(c.b, c.user, c.pass, c.clientB, c.secure)
	if err != nil {
		return 0, fmt.Errorf("%s destination: %w", c.name, err)
	}
	defer dst.Quit()
	listener, dialer := dst, src
	if side == pasvOnSrc {
		listener, dialer = src, dst
	}
	if c.secure {
		// The passive side is the TLS client of the data connection.
		if _, err := listener.Expect(200, "SSCN ON"); err != nil {
			return 0, fmt.Errorf("%s SSCN ON: %w", c.name, err)
		}
	}
	var addr netip.AddrPort
	if addr, err = listener.Pasv(); err != nil {
		return 0, fmt.Errorf("%s PASV: %w", c.name, err)
	}
	if err := dialer.Port(addr, false); err != nil {
		return 0, fmt.Errorf("%s PORT: %w", c.name, err)
	}
	start := time.Now()
	// The passive side's command first, so it is listening before the
	// active side dials.
	first, second := func() error { return dst.Send("STOR copy.bin") }, func() error { return src.Send("RETR big.bin") }
	if side == pasvOnSrc {
		first, second = second, first
	}
	if err := first(); err != nil {
		return 0, err
	}
	if err := second(); err != nil {
		return 0, err
	}
	if err := finalReplies(src, dst); err != nil {
		return 0, fmt.Errorf("%s FXP (PASV on %s): %w", c.name, side, err)
	}
	took := time.Since(start)
	st, err := os.Stat(filepath.Join(c.rootB, "copy.bin"))
	if err != nil || st.Size() != *flagSize {
		return 0, fmt.Errorf("%s FXP: destination %v (%v)", c.name, st, err)
	}
	return took, nil
}

// finalReplies reads both connections' replies up to the final one, at
// once, and fails unless both are 226/250.
func finalReplies(conns ...*ftpclient.Conn) error {
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				code, msg, err := conn.ReadReply()
				if err != nil {
					errs[i] = err
					return
				}
				if code >= 200 {
					if code != 226 && code != 250 {
						errs[i] = fmt.Errorf("%d %s", code, msg)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// measure runs one timed operation against servers (master pids) and
// returns its throughput and the servers' CPU per GB. The CPU window
// spans the whole operation including logins and QUIT, and closes only
// once forking servers have reaped their sessions.
func measure(bytes int64, pids []int, op func() (time.Duration, error)) (sample, error) {
	if !quiesce(5*time.Second, pids...) {
		return sample{}, errors.New("sessions of an earlier run still alive after 5 s")
	}
	before, err := cpuEach(pids...)
	if err != nil {
		return sample{}, err
	}
	d, err := op()
	if err != nil {
		return sample{}, err
	}
	if !quiesce(5*time.Second, pids...) {
		return sample{}, errors.New("session processes still alive 5 s after the transfer")
	}
	after, err := cpuEach(pids...)
	if err != nil {
		return sample{}, err
	}
	gb := float64(bytes) / 1e9
	s := sample{mbs: mbps(bytes, d)}
	for i := range after {
		s.cpu += (after[i].cpu - before[i].cpu) / gb
		s.detail += fmt.Sprintf(" [%s usr %.2f sys %.2f]", serverRole(i), (after[i].user-before[i].user)/gb, (after[i].sys-before[i].sys)/gb)
	}
	return s, nil
}

func serverRole(i int) string { return [...]string{"A", "B"}[min(i, 1)] }

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

// rotate returns cs starting at index k mod len(cs): each run starts with
// another contender, so none always runs first (or right after the raw
// copy).
func rotate[T any](cs []T, k int) []T {
	if len(cs) == 0 {
		return nil
	}
	k %= len(cs)
	return append(append([]T(nil), cs[k:]...), cs[:k]...)
}

// fxp interleaves the contenders and both passive sides run by run, so
// machine noise hits all.
func (r *report) fxp(w *workspace, cs []*contender) error {
	sides := []passiveSide{pasvOnDst, pasvOnSrc}
	cells := map[passiveSide][]*cell{}
	for _, side := range sides {
		for _, c := range cs {
			cells[side] = append(cells[side], &cell{name: c.name})
		}
	}
	raw := &cell{name: "raw (sendfile → TCP → splice)"}
	rawDst := filepath.Join(w.dir, "raw-copy.bin")
	idx := map[*contender]int{}
	for i, c := range cs {
		idx[c] = i
	}
	for run := 0; run < r.runs; run++ {
		settle(rawDst)
		d, err := rawlimit.Copy(w.big, rawDst, hostB, hostA)
		if err != nil {
			return fmt.Errorf("raw copy: %w", err)
		}
		raw.samples = append(raw.samples, sample{mbs: mbps(r.size, d)})
		settle(rawDst)
		for k, side := range rotate(sides, run) {
			for _, c := range rotate(cs, run+k) {
				out := filepath.Join(c.rootB, "copy.bin")
				if *flagOverwrite {
					if err := ensureCopy(w.big, out, r.size); err != nil {
						return err
					}
					settle()
				} else {
					settle(out)
				}
				s, err := measure(r.size, c.pids, func() (time.Duration, error) { return fxpCopy(c, side) })
				if err != nil {
					return err
				}
				cl := cells[side][idx[c]]
				cl.samples = append(cl.samples, s)
				fmt.Fprintf(os.Stderr, "%s fxp run %d pasv-%s %-10s %7.0f MB/s %5.2f CPU s/GB%s\n", time.Now().Format("15:04:05.000"), run+1, side, c.name, s.mbs, s.cpu, s.detail)
				if !*flagOverwrite {
					settle(out)
				}
			}
		}
	}
	r.fxpDst, r.fxpSrc, r.fxpRaw = cells[pasvOnDst], cells[pasvOnSrc], raw
	return nil
}

// ensureCopy makes dst a file of size bytes of its own (not a link to
// src: a server truncating it in place must not touch src), owned like
// its directory.
func ensureCopy(src, dst string, size int64) error {
	if st, err := os.Stat(dst); err == nil && st.Size() == size {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	dir, err := os.Stat(filepath.Dir(dst))
	if err != nil {
		return err
	}
	if sys, ok := dir.Sys().(*syscall.Stat_t); ok {
		return os.Chown(dst, int(sys.Uid), int(sys.Gid))
	}
	return nil
}

// --- downloads ---

func curlDownload(c *contender) (time.Duration, error) {
	curl, err := peers.Find("curl")
	if err != nil {
		return 0, err
	}
	url := fmt.Sprintf("ftp://%s:%s@%s/big.bin", c.user, c.pass, c.a)
	start := time.Now()
	out, err := exec.Command(curl, "-sS", "--fail", "--interface", c.clientA, "-o", "/dev/null",
		"-w", "%{size_download}", url).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("curl %s: %v: %s", c.name, err, out)
	}
	if n, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); n != *flagSize {
		return 0, fmt.Errorf("curl %s: got %s bytes", c.name, out)
	}
	return took, nil
}

func (r *report) download(w *workspace, cs []*contender) error {
	raw := &cell{name: "raw (sendfile → TCP → 256 KiB reads)"}
	res := make([]*cell, len(cs))
	idx := map[*contender]int{}
	for i, c := range cs {
		res[i] = &cell{name: c.name}
		idx[c] = i
	}
	for run := 0; run < r.runs; run++ {
		d, err := rawlimit.Download(w.big, hostA, client)
		if err != nil {
			return err
		}
		raw.samples = append(raw.samples, sample{mbs: mbps(r.size, d)})
		for _, c := range rotate(cs, run) {
			s, err := measure(r.size, c.pids[:1], func() (time.Duration, error) { return curlDownload(c) })
			if err != nil {
				return err
			}
			res[idx[c]].samples = append(res[idx[c]].samples, s)
			fmt.Fprintf(os.Stderr, "download run %d %-10s %7.0f MB/s %5.2f CPU s/GB%s\n", run+1, c.name, s.mbs, s.cpu, s.detail)
		}
	}
	r.dl, r.dlRaw = res, raw
	return nil
}

// --- many copies at once ---

const (
	parFiles = 8
	parDir   = "par"
)

// writeParTree writes parFiles random files of size bytes into dir.
func writeParTree(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < parFiles; i++ {
		p := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		if err := writeRandomSeed(p, size, byte(i+10)); err != nil {
			return err
		}
		if err := warm(p); err != nil {
			return err
		}
	}
	return nil
}

// linkParTree hard-links the tree into a source root (one page cache for
// every contender).
func linkParTree(tree, root string) error {
	dst := filepath.Join(root, parDir)
	_ = os.RemoveAll(dst)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for i := 0; i < parFiles; i++ {
		name := fmt.Sprintf("f%d.bin", i)
		if err := os.Link(filepath.Join(tree, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// fxpTree runs `fxp copy -r -j 8` from c.a's par/ into c.b's root.
func fxpTree(c *contender, fxpBin string, size int64) (time.Duration, error) {
	src := fmt.Sprintf("ftp://%s:%s@%s/%s", c.user, c.pass, c.a, parDir)
	dst := fmt.Sprintf("ftp://%s:%s@%s/", c.user, c.pass, c.b)
	start := time.Now()
	cmd := exec.Command(fxpBin, "copy", "-r", "-j", strconv.Itoa(parFiles), "--passive", "dst",
		"--bind", c.clientA, src, dst)
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("fxp copy -r %s: %v: %s", c.name, err, tail(out, 2000))
	}
	for i := 0; i < parFiles; i++ {
		st, err := os.Stat(filepath.Join(c.rootB, parDir, fmt.Sprintf("f%d.bin", i)))
		if err != nil || st.Size() != size {
			return 0, fmt.Errorf("fxp copy -r %s: file %d: %v %v", c.name, i, st, err)
		}
	}
	return took, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (r *report) parallel(w *workspace, all []*contender, fxpBin string) error {
	// fxp copy -r lists the source tree with MLSD, which vsftpd lacks.
	var cs []*contender
	for _, c := range all {
		if c.name == string(peers.Vsftpd) {
			r.notes = append(r.notes, "vsftpd is not in the parallel table: it has no MLSD, which fxp copy -r needs to list the source tree.")
			continue
		}
		cs = append(cs, c)
	}
	size := *flagParSize
	tree := filepath.Join(w.dir, "partree")
	fmt.Fprintf(os.Stderr, "writing %d × %d random bytes\n", parFiles, size)
	if err := writeParTree(tree, size); err != nil {
		return err
	}
	res := make([]*cell, len(cs))
	idx := map[*contender]int{}
	for i, c := range cs {
		res[i] = &cell{name: c.name}
		idx[c] = i
		if err := linkParTree(tree, c.rootA); err != nil {
			return err
		}
	}
	total := size * parFiles
	for run := 0; run < r.runs; run++ {
		for _, c := range rotate(cs, run) {
			out := filepath.Join(c.rootB, parDir)
			_ = os.RemoveAll(out)
			settle()
			s, err := measure(total, c.pids, func() (time.Duration, error) { return fxpTree(c, fxpBin, size) })
			if err != nil {
				return err
			}
			res[idx[c]].samples = append(res[idx[c]].samples, s)
			fmt.Fprintf(os.Stderr, "parallel run %d %-10s %7.0f MB/s %5.2f CPU s/GB%s\n", run+1, c.name, s.mbs, s.cpu, s.detail)
			_ = os.RemoveAll(out)
		}
	}
	r.par = res
	r.parSize = size
	return nil
}

// --- report ---

// table prints one measurement: MB/s and CPU per GB, median [min–max],
// the spread and the runs in order.
func (r *report) table(out io.Writer, title, cpuWhat string, cells []*cell, raw *cell) {
	fmt.Fprintf(out, "\n%s\n\n", title)
	fmt.Fprintf(out, "| contender | MB/s median [min–max] | spread max/min | CPU s/GB median [min–max] (%s) | MB/s runs in order | CPU s/GB runs in order |\n", cpuWhat)
	fmt.Fprintln(out, "|---|---:|---:|---:|---|---|")
	for _, c := range cells {
		m := c.mbs()
		fmt.Fprintf(out, "| %s | %s | %.2f | %s | %s | %s |\n", c.name, m.format(0), m.spread(), c.cpu().format(2),
			joinRuns(c.samples, func(s sample) float64 { return s.mbs }, 0),
			joinRuns(c.samples, func(s sample) float64 { return s.cpu }, 2))
	}
	if raw != nil && len(raw.samples) > 0 {
		m := raw.mbs()
		fmt.Fprintf(out, "| %s | %s | %.2f | — | %s | |\n", raw.name, m.format(0), m.spread(),
			joinRuns(raw.samples, func(s sample) float64 { return s.mbs }, 0))
	}
}

func joinRuns(ss []sample, f func(sample) float64, prec int) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.FormatFloat(f(s), 'f', prec, 64)
	}
	return strings.Join(parts, ", ")
}

func findCell(cells []*cell, name string) *cell {
	for _, c := range cells {
		if c.name == name {
			return c
		}
	}
	return nil
}

// bestPeer is the third-party contender with the highest median MB/s.
func bestPeer(cells []*cell) *cell {
	var b *cell
	for _, c := range cells {
		if c.name == "ftpd" {
			continue
		}
		if b == nil || c.mbs().median > b.mbs().median {
			b = c
		}
	}
	return b
}

// targets prints the targets against this run's medians.
func (r *report) targets(out io.Writer) {
	type row struct{ what, got, target string }
	var rows []row
	ratio := func(a, b float64) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for _, t := range []struct {
		side  string
		cells []*cell
	}{{"PASV on dst", r.fxpDst}, {"PASV on src", r.fxpSrc}} {
		f, p := findCell(t.cells, "ftpd"), findCell(t.cells, string(peers.PureFTPd))
		if f == nil || p == nil {
			continue
		}
		fm, pm := f.mbs(), p.mbs()
		fc, pc := f.cpu(), p.cpu()
		rows = append(rows,
			row{"FXP " + t.side + ": ftpd ÷ Pure-FTPd, MB/s", ratio(fm.median, pm.median), "≥ 1.2× — " + met(fm.median >= 1.2*pm.median)},
			row{"FXP " + t.side + ": ftpd ÷ Pure-FTPd, CPU s/GB", ratio(fc.median, pc.median), "≤ 0.8× — " + met(fc.median <= 0.8*pc.median)},
			row{"FXP " + t.side + ": spread ftpd / Pure-FTPd", fmt.Sprintf("%.2f / %.2f", fm.spread(), pm.spread()), "ftpd ≤ Pure-FTPd — " + met(fm.spread() <= pm.spread())})
	}
	if f, b := findCell(r.dl, "ftpd"), bestPeer(r.dl); f != nil && b != nil {
		bestCPU := b.cpu().median
		for _, c := range r.dl {
			if c.name != "ftpd" && c.cpu().median < bestCPU {
				bestCPU = c.cpu().median
			}
		}
		rows = append(rows,
			row{"download: ftpd ÷ best peer (" + b.name + "), MB/s", ratio(f.mbs().median, b.mbs().median), "≥ 1.1× — " + met(f.mbs().median >= 1.1*b.mbs().median)},
			row{"download: ftpd CPU s/GB vs lowest peer", fmt.Sprintf("%.2f vs %.2f", f.cpu().median, bestCPU), "≤ — " + met(f.cpu().median <= bestCPU)})
	}
	if f, p := findCell(r.par, "ftpd"), findCell(r.par, string(peers.PureFTPd)); f != nil && p != nil {
		rows = append(rows,
			row{"8 parallel: ftpd ÷ Pure-FTPd, MB/s", ratio(f.mbs().median, p.mbs().median), ""},
			row{"8 parallel: ftpd ÷ Pure-FTPd, CPU s/GB", ratio(f.cpu().median, p.cpu().median), ""})
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(out, "\nTargets (medians of this run):")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| | result | target |")
	fmt.Fprintln(out, "|---|---:|---|")
	for _, rw := range rows {
		fmt.Fprintf(out, "| %s | %s | %s |\n", rw.what, rw.got, rw.target)
	}
}
