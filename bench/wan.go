package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ftpd/ftpd/bench/peers"
)

// The emulated WAN: each server of a pair in a network namespace of its
// own (A, B), joined by a link that delays and rate-limits both directions
// (a user-space delay line between two TUN devices, see delayline.go: this
// kernel has no netem); the client in a third namespace (C) with a plain
// veth to each. Every address lives only inside these namespaces. Nothing
// is added to the namespace the bench runs in.
//
//	C 10.117.0.3 ──veth── A 10.117.0.1 ══TUN·delay line·TUN══ B 10.117.0.2 ──veth── C
const (
	wanAddrA = "10.117.0.1"
	wanAddrB = "10.117.0.2"
	wanAddrC = "10.117.0.3"
	wanPort  = 2121
	wanNet   = "10.117.0.0/24"
)

// wanLink is one emulated link: one-way delay and rate.
type wanLink struct {
	spec  string
	delay time.Duration
	bits  float64 // bits per second
}

// parseWAN reads "25ms:1gbit,25ms:10gbit".
func parseWAN(s string) ([]wanLink, error) {
	var out []wanLink
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, r, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("wan link %q: want delay:rate, e.g. 25ms:1gbit", part)
		}
		delay, err := time.ParseDuration(d)
		if err != nil || delay < 0 || delay > 10*time.Second {
			return nil, fmt.Errorf("wan link %q: bad one-way delay %q", part, d)
		}
		bits, err := parseRate(r)
		if err != nil {
			return nil, fmt.Errorf("wan link %q: %w", part, err)
		}
		out = append(out, wanLink{spec: part, delay: delay, bits: bits})
	}
	if len(out) == 0 {
		return nil, errors.New("no wan links")
	}
	return out, nil
}

// parseRate reads tc's rate units kbit, mbit, gbit.
func parseRate(s string) (float64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, u := range []struct {
		suffix string
		mul    float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("bad rate %q", s)
			}
			return v * u.mul, nil
		}
	}
	return 0, fmt.Errorf("rate %q: want a number with kbit, mbit or gbit", s)
}

// wanLab owns the three namespaces.
type wanLab struct {
	ip        string
	a, b, c   string // namespace names
	created   []string
	extraFtpd string   // extra [server] lines for ftpd (e.g. data_socket_buffer)
	tunA      *os.File // the A–B link's ends
	tunB      *os.File
	mtu       int
	link      *link
}

func (l *wanLab) run(prog string, args ...string) error {
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(prog), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newWANLab() (*wanLab, error) {
	ip, err := peers.Find("ip")
	if err != nil {
		return nil, fmt.Errorf("wan needs ip (iproute2): %w", err)
	}
	p := os.Getpid()
	l := &wanLab{ip: ip, mtu: *flagWANMTU, a: fmt.Sprintf("ftpdbench%d-a", p), b: fmt.Sprintf("ftpdbench%d-b", p), c: fmt.Sprintf("ftpdbench%d-c", p)}
	if err := l.setup(); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *wanLab) setup() error {
	for _, ns := range []string{l.a, l.b, l.c} {
		if err := l.run(l.ip, "netns", "add", ns); err != nil {
			return err
		}
		l.created = append(l.created, ns)
		if err := l.run(l.ip, "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	var err error
	if l.tunA, err = openTun(l.a, "wan"); err != nil {
		return err
	}
	if l.tunB, err = openTun(l.b, "wan"); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", l.a, "link", "set", "wan", "mtu", strconv.Itoa(l.mtu)},
		{"-n", l.b, "link", "set", "wan", "mtu", strconv.Itoa(l.mtu)},
		{"-n", l.c, "link", "add", "toa", "type", "veth", "peer", "name", "toc", "netns", l.a},
		{"-n", l.c, "link", "add", "tob", "type", "veth", "peer", "name", "toc", "netns", l.b},
		{"-n", l.a, "addr", "add", wanAddrA + "/32", "dev", "lo"},
		{"-n", l.b, "addr", "add", wanAddrB + "/32", "dev", "lo"},
		{"-n", l.c, "addr", "add", wanAddrC + "/32", "dev", "lo"},
	}
	for _, dev := range [][2]string{{l.a, "wan"}, {l.b, "wan"}, {l.a, "toc"}, {l.b, "toc"}, {l.c, "toa"}, {l.c, "tob"}} {
		steps = append(steps, []string{"-n", dev[0], "link", "set", dev[1], "up"})
	}
	steps = append(steps,
		[]string{"-n", l.a, "route", "add", wanAddrB + "/32", "dev", "wan", "src", wanAddrA},
		[]string{"-n", l.a, "route", "add", wanAddrC + "/32", "dev", "toc", "src", wanAddrA},
		[]string{"-n", l.b, "route", "add", wanAddrA + "/32", "dev", "wan", "src", wanAddrB},
		[]string{"-n", l.b, "route", "add", wanAddrC + "/32", "dev", "toc", "src", wanAddrB},
		[]string{"-n", l.c, "route", "add", wanAddrA + "/32", "dev", "toa", "src", wanAddrC},
		[]string{"-n", l.c, "route", "add", wanAddrB + "/32", "dev", "tob", "src", wanAddrC},
	)
	if *flagWANWmem != "" {
		for _, ns := range []string{l.a, l.b} {
			steps = append(steps, []string{"netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_wmem=" + *flagWANWmem})
		}
	}
	for _, s := range steps {
		if err := l.run(l.ip, s...); err != nil {
			return err
		}
	}
	return nil
}

// shape starts the delay line for link k between A and B (stopping the
// one before).
func (l *wanLab) shape(k wanLink) error {
	if l.link != nil {
		l.link.stop()
		<-l.link.done
	}
	l.link = startLink(l.tunA, l.tunB, k, l.mtu)
	return nil
}

// close deletes the namespaces; stop their servers first.
func (l *wanLab) close() {
	if l.link != nil {
		l.link.stop()
	}
	for _, f := range []*os.File{l.tunA, l.tunB} {
		if f != nil {
			f.Close()
		}
	}
	for _, ns := range l.created {
		_ = l.run(l.ip, "netns", "del", ns)
	}
	l.created = nil
}

// dialIn connects to addr from inside namespace ns.
func dialIn(ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	return c, err
}

// startWAN starts an ftpd pair and a Pure-FTPd pair in namespaces A and B.
func (l *wanLab) start(w *workspace) ([]*contender, error) {
	dial := func(addr string) (net.Conn, error) { return dialIn(l.c, addr) }
	ft := &contender{name: "ftpd", user: ftpUser, pass: ftpPass}
	hash, err := bcryptHash(ftpPass)
	if err != nil {
		return nil, err
	}
	for i, ns := range []string{l.a, l.b} {
		host := []string{wanAddrA, wanAddrB}[i]
		dir := filepath.Join(w.dir, "wan-ftpd-"+host)
		root := filepath.Join(dir, "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, err
		}
		cfg := ftpdConfig(net.JoinHostPort(host, strconv.Itoa(wanPort)), "30000-30015", wanNet, l.extraFtpd,
			[]ftpdUser{{ftpUser, string(hash), root, ""}})
		path := filepath.Join(dir, "ftpd.toml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		logf, err := os.Create(filepath.Join(dir, "ftpd.log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(l.ip, "netns", "exec", ns, *flagFtpd, "-config", path)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return nil, err
		}
		logf.Close()
		w.addProc(cmd)
		addr := net.JoinHostPort(host, strconv.Itoa(wanPort))
		if err := waitGreetVia(dial, addr, 10*time.Second); err != nil {
			out, _ := os.ReadFile(filepath.Join(dir, "ftpd.log"))
			return nil, fmt.Errorf("ftpd in %s on %s: %v\n%s", ns, addr, err, out)
		}
		ft.pids = append(ft.pids, cmd.Process.Pid)
		if i == 0 {
			ft.a, ft.rootA = addr, root
		} else {
			ft.b, ft.rootB = addr, root
		}
	}
	out := []*contender{ft}
	if !strings.Contains(*flagKinds, string(peers.PureFTPd)) {
		return out, nil
	}
	pc := &contender{name: string(peers.PureFTPd), user: peers.UserName, pass: peers.Password}
	nss := [2]string{l.a, l.b}
	err = w.startPeers(pc, [2]string{wanAddrA, wanAddrB}, "wan-pure", func(i int, o *peers.Options) {
		o.Kind, o.PassiveMin, o.PassiveMax = peers.PureFTPd, 30100, 30115
		o.NetNS, o.Port, o.Dial = nss[i], wanPort+1, dial
	})
	if err != nil {
		return nil, err
	}
	return append(out, pc), nil
}

func waitGreetVia(dial func(string) (net.Conn, error), addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := peers.GreetVia(dial, addr)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fxpCLI copies big.bin from c.a to c.b with the fxp client running in
// namespace ns.
func (l *wanLab) fxpCLI(c *contender, fxpBin string, side passiveSide, size int64) (time.Duration, error) {
	src := fmt.Sprintf("ftp://%s:%s@%s/big.bin", c.user, c.pass, c.a)
	dst := fmt.Sprintf("ftp://%s:%s@%s/copy.bin", c.user, c.pass, c.b)
	start := time.Now()
	out, err := exec.Command(l.ip, "netns", "exec", l.c, fxpBin, "copy", "--passive", string(side), src, dst).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("fxp copy %s over the wan: %v: %s", c.name, err, tail(out, 2000))
	}
	if st, err := os.Stat(filepath.Join(c.rootB, "copy.bin")); err != nil || st.Size() != size {
		return 0, fmt.Errorf("fxp copy %s over the wan: destination %v %v", c.name, st, err)
	}
	return took, nil
}

// wanResult is the contenders over one emulated link.
type wanResult struct {
	link  wanLink
	cells []*cell
}

func (r *report) wanRun(w *workspace) error {
	links, err := parseWAN(*flagWAN)
	if err != nil {
		return err
	}
	if *flagFxp == "" {
		return errors.New("-only wan needs -fxp (use bench/run)")
	}
	l, err := newWANLab()
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.after = append(w.after, l.close)
	w.mu.Unlock()
	defer w.stop() // every server, then the namespaces
	if *flagDataBuf != "" {
		l.extraFtpd = fmt.Sprintf("data_socket_buffer = %q\n", *flagDataBuf)
	}
	cs, err := l.start(w)
	if err != nil {
		return err
	}
	for _, c := range cs {
		dst := filepath.Join(c.rootA, "big.bin")
		_ = os.Remove(dst)
		if err := os.Link(w.big, dst); err != nil {
			return err
		}
	}
	for _, k := range links {
		if err := l.shape(k); err != nil {
			return err
		}
		res := wanResult{link: k}
		idx := map[*contender]int{}
		for i, c := range cs {
			res.cells = append(res.cells, &cell{name: c.name})
			idx[c] = i
		}
		for run := 0; run < *flagWANRuns; run++ {
			for _, c := range rotate(cs, run) {
				out := filepath.Join(c.rootB, "copy.bin")
				settle(out)
				s, err := measure(r.size, c.pids, func() (time.Duration, error) { return l.fxpCLI(c, *flagFxp, pasvOnDst, r.size) })
				if err != nil {
					return err
				}
				res.cells[idx[c]].samples = append(res.cells[idx[c]].samples, s)
				fmt.Fprintf(os.Stderr, "%s wan %s run %d %-10s %7.1f MB/s (%.2f of the link) %5.2f CPU s/GB%s\n",
					time.Now().Format("15:04:05.000"), k.spec, run+1, c.name, s.mbs, s.mbs*1e6*8/k.bits, s.cpu, s.detail)
				settle(out)
			}
		}
		r.wan = append(r.wan, res)
	}
	return nil
}

func (r *report) wanTable(out io.Writer) {
	fmt.Fprintf(out, "\nFXP over an emulated WAN (%.3g GiB, PASV on the destination, fxp client; each server in its own network namespace, the link between them a user-space delay line (one-way delay, rate, tail drop beyond max(2×delay, 20 ms) of queue) with MTU %d; %d runs):\n\n", float64(r.size)/(1<<30), *flagWANMTU, *flagWANRuns)
	if *flagWANWmem != "" {
		fmt.Fprintf(out, "net.ipv4.tcp_wmem in both servers' namespaces: %s.\n\n", *flagWANWmem)
	}
	fmt.Fprintln(out, "| link (one-way delay : rate) | RTT | contender | MB/s median [min–max] | ÷ link rate (median) | CPU s/GB median [min–max] |")
	fmt.Fprintln(out, "|---|---:|---|---:|---:|---:|")
	for _, res := range r.wan {
		for _, c := range res.cells {
			m := c.mbs()
			fmt.Fprintf(out, "| %s | %v | %s | %s | %.2f | %s |\n", res.link.spec, 2*res.link.delay, c.name, m.format(1),
				m.median*1e6*8/res.link.bits, c.cpu().format(2))
		}
	}
}
