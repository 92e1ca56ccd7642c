package main

// -only s3: ftpd on an S3 store (versitygw) against the AWS SDK's direct
// GET and PUT to the same store, and ftpd's peak memory during parallel
// uploads.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/ftpd/ftpd/bench/peers"
	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/storage/s3store"
)

const (
	// storeHost is versitygw's address.
	storeHost = "127.0.0.6"
	s3Bucket  = "ftp"
	s3Prefix  = "bench/" // the S3 user's root
	s3Key     = "k"      // versitygw's root credentials (loopback only)
	s3Secret  = "bench-s3-secret"
	// rssMargin is the allowance above upload_memory for the rest
	// of the process (runtime, sessions, the SDK's buffers).
	rssMargin = 64 << 20
)

var (
	flagS3Size    = flag.Int64("s3-size", 256<<20, "object size in bytes for -only s3 (RETR/STOR against direct GET/PUT)")
	flagS3Part    = flag.Int64("s3-part-size", 16<<20, "[s3] part_size of the benched ftpd (-only s3)")
	flagS3Memory  = flag.Int64("s3-upload-memory", 128<<20, "[s3] upload_memory of the benched ftpd (-only s3): below 16 parts, so the parallel uploads wait for it")
	flagS3Par     = flag.Int("s3-par", 16, "parallel uploads for ftpd's peak RSS (-only s3)")
	flagS3ParSize = flag.Int64("s3-par-size", 64<<20, "size of each parallel upload (-only s3)")
	flagS3Gw      = flag.String("versitygw", "", "versitygw binary (\"\" = PATH, then $FTPD_PEERS_DIR/bin or /opt/ftpd-peers/bin)")
)

// s3Sample is one timed transfer: throughput and who spent CPU on it,
// per GB moved.
type s3Sample struct {
	mbs       float64
	ftpd      float64 // ftpd's CPU s/GB (0 for the direct SDK)
	store     float64 // versitygw's CPU s/GB
	clientCPU float64 // this process's CPU s/GB (the FTP client or the SDK)
}

type s3Cell struct {
	name    string
	samples []s3Sample
}

func (c *s3Cell) field(f func(s3Sample) float64) summary {
	v := make([]float64, len(c.samples))
	for i, s := range c.samples {
		v[i] = f(s)
	}
	return summarize(v)
}

type s3Result struct {
	size                 int64
	get, retr, put, stor *s3Cell
	mpu                  *s3Cell // direct multipart upload, for reference
	partSize, memory     int64
	par                  int
	parSize              int64
	parMBs               float64
	rssIdle, rssPeak     int64 // VmRSS before, VmHWM during the parallel uploads
	rssSampled           int64 // the highest VmRSS seen by sampling every 10 ms
}

// s3Env is a running versitygw and an ftpd with one S3 user on it.
type s3Env struct {
	gw, ftpd       *exec.Cmd
	dir            string
	gwPid, ftpdPid int
	endpoint       string
	ftpdAddr       string
	client         *s3.Client // the SDK client ftpd's own storage builds
	user, pass     string
}

// findVersitygw locates versitygw as storage/s3store/s3test does.
func findVersitygw() (string, error) {
	if *flagS3Gw != "" {
		return *flagS3Gw, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	dir := os.Getenv("FTPD_PEERS_DIR")
	if dir == "" {
		dir = "/opt/ftpd-peers"
	}
	p := filepath.Join(dir, "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("versitygw not found on PATH or in %s (%s)", filepath.Dir(p), peers.InstallHint)
	}
	return p, nil
}

// startS3 starts versitygw on storeHost and an ftpd (binary bin) on hostA
// whose user "bench" lives under s3Prefix in s3Bucket.
func (w *workspace) startS3(bin string) (*s3Env, error) {
	gw, err := findVersitygw()
	if err != nil {
		return nil, err
	}
	// The SDK (here and in ftpd, which inherits the environment) takes
	// the credentials from the environment only.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": s3Key, "AWS_SECRET_ACCESS_KEY": s3Secret,
		"AWS_CONFIG_FILE":             filepath.Join(w.dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(w.dir, "s3")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	port, err := freePort(storeHost)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(storeHost, strconv.Itoa(port))
	cmd := exec.Command(gw, "-p", addr, "-q", "posix", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3Key, "ROOT_SECRET_KEY="+s3Secret)
	if err := w.spawn(cmd, filepath.Join(dir, "versitygw.log")); err != nil {
		return nil, err
	}
	env := &s3Env{gw: cmd, dir: dir, gwPid: cmd.Process.Pid, endpoint: "http://" + addr, user: ftpUser, pass: ftpPass}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("versitygw did not listen on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The direct client is the one ftpd's storage builds (path style,
	// checksums only when required), so both sides speak alike.
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: env.endpoint, Region: "us-east-1", Bucket: s3Bucket, PathStyle: true,
		PartSize: *flagS3Part, UploadMemory: *flagS3Memory,
	})
	if err != nil {
		return nil, err
	}
	env.client = st.Client()
	if _, err := env.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}

	hash, err := bcrypt.GenerateFromPassword([]byte(ftpPass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	fport, err := freePort(hostA)
	if err != nil {
		return nil, err
	}
	env.ftpdAddr = net.JoinHostPort(hostA, strconv.Itoa(fport))
	cfg := fmt.Sprintf(`[server]
listen = %q
passive_ports = "23600-23663"
idle_timeout = "1h"

[limits]
max_connections = 0
max_connections_per_ip = 0
max_login_failures = 0

[log]
level = "warn"

[s3]
endpoint = %q
region = "us-east-1"
bucket = %q
path_style = true
part_size = "%d"
upload_memory = "%d"

[[users]]
name = %q
password_hash = %q
backend = "s3"
root = %q
`, env.ftpdAddr, env.endpoint, s3Bucket, *flagS3Part, *flagS3Memory, ftpUser, hash, s3Prefix)
	fdir := filepath.Join(dir, "ftpd")
	if err := os.MkdirAll(fdir, 0o755); err != nil {
		return nil, err
	}
	fcmd, err := w.startFtpd(bin, fdir, cfg, env.ftpdAddr)
	if err != nil {
		return nil, err
	}
	env.ftpd, env.ftpdPid = fcmd, fcmd.Process.Pid
	return env, nil
}

// s3Measure times op and charges the CPU that ftpd, versitygw and this
// process spent meanwhile to the bytes moved.
func (e *s3Env) measure(size int64, op func() error) (s3Sample, error) {
	before, err := cpuEach(e.ftpdPid, e.gwPid)
	if err != nil {
		return s3Sample{}, err
	}
	selfBefore := selfCPU()
	start := time.Now()
	if err := op(); err != nil {
		return s3Sample{}, err
	}
	d := time.Since(start)
	self := selfCPU() - selfBefore
	after, err := cpuEach(e.ftpdPid, e.gwPid)
	if err != nil {
		return s3Sample{}, err
	}
	gb := float64(size) / 1e9
	return s3Sample{
		mbs:       mbps(size, d),
		ftpd:      (after[0].cpu - before[0].cpu) / gb,
		store:     (after[1].cpu - before[1].cpu) / gb,
		clientCPU: self / gb,
	}, nil
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// s3Run runs the S3 measurements: per run, direct GET and RETR of the same
// object, then direct PUT and STOR of the same bytes, each pair in
// alternating order; then the parallel uploads.
func (r *report) s3Run(w *workspace) error {
	size := *flagS3Size
	env, err := w.startS3(*flagFtpd)
	if err != nil {
		return err
	}
	defer func() {
		// The other measurements run without them (and without the
		// objects on disk).
		w.stopProcs(env.ftpd, env.gw)
		_ = os.RemoveAll(env.dir)
	}()
	data := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{3}).Read(data) // incompressible
	ctx := context.Background()
	bucket := aws.String(s3Bucket)
	put := func(key string) error {
		_, err := env.client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(size)})
		return err
	}
	del := func(key string) {
		_, _ = env.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String(key)})
	}
	if err := put(s3Prefix + "src.bin"); err != nil {
		return fmt.Errorf("put the source object: %w", err)
	}
	conn, err := dial(env.ftpdAddr, env.user, env.pass, client, false)
	if err != nil {
		return fmt.Errorf("ftpd (s3) login: %w", err)
	}
	defer conn.Quit()

	res := &s3Result{size: size, partSize: *flagS3Part, memory: *flagS3Memory, par: *flagS3Par, parSize: *flagS3ParSize,
		get: &s3Cell{name: "direct GET (SDK)"}, retr: &s3Cell{name: "RETR through ftpd"},
		put: &s3Cell{name: "direct PUT (SDK)"}, stor: &s3Cell{name: "STOR through ftpd"},
		mpu: &s3Cell{name: "direct multipart PUT (SDK)"}}
	sink := &discarder{buf: make([]byte, 256<<10)}
	check := func(what string, n int64, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n != size {
			return fmt.Errorf("%s: moved %d bytes, want %d", what, n, size)
		}
		return nil
	}
	type op struct {
		cell *s3Cell
		run  func() error
		pre  func()
	}
	get := op{cell: res.get, run: func() error {
		out, err := env.client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(s3Prefix + "src.bin")})
		if err != nil {
			return fmt.Errorf("GET: %w", err)
		}
		n, err := io.Copy(sink, out.Body)
		out.Body.Close()
		return check("GET", n, err)
	}}
	retr := op{cell: res.retr, run: func() error {
		n, err := conn.Retr("src.bin", sink)
		return check("RETR", n, err)
	}}
	putOp := op{cell: res.put, pre: func() { del(s3Prefix + "put.bin") }, run: func() error {
		return check("PUT", size, put(s3Prefix+"put.bin"))
	}}
	stor := op{cell: res.stor, pre: func() { del(s3Prefix + "stor.bin") }, run: func() error {
		n, err := conn.Stor("stor.bin", bytes.NewReader(data))
		return check("STOR", n, err)
	}}
	// What ftpd asks of the store for a file over one part: the same
	// requests, parts in sequence.
	mpu := op{cell: res.mpu, pre: func() { del(s3Prefix + "mpu.bin") }, run: func() error {
		return check("multipart PUT", size, multipartPut(ctx, env.client, s3Prefix+"mpu.bin", data, *flagS3Part))
	}}
	for run := 0; run < r.runs; run++ {
		for _, pair := range [][]op{{get, retr}, {putOp, stor, mpu}} {
			for _, o := range rotate(pair, run) {
				if o.pre != nil {
					o.pre()
				}
				syscall.Sync()
				s, err := env.measure(size, o.run)
				if err != nil {
					return err
				}
				o.cell.samples = append(o.cell.samples, s)
				fmt.Fprintf(os.Stderr, "s3 run %d %-18s %7.0f MB/s  CPU s/GB ftpd %.2f versitygw %.2f client %.2f\n",
					run+1, o.cell.name, s.mbs, s.ftpd, s.store, s.clientCPU)
			}
		}
	}
	_ = conn.Quit()
	if err := r.s3Parallel(env, res, data); err != nil {
		return err
	}
	r.s3 = res
	return nil
}

// multipartPut uploads data as key in parts of partSize, one after
// another, as ftpd's storage does.
func multipartPut(ctx context.Context, c *s3.Client, key string, data []byte, partSize int64) error {
	bucket := aws.String(s3Bucket)
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < int64(len(data)); off, num = off+partSize, num+1 {
		end := min(off+partSize, int64(len(data)))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String(key), UploadId: mp.UploadId,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(data[off:end]), ContentLength: aws.Int64(end - off)})
		if err != nil {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: mp.UploadId})
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// discarder is where GET and RETR bytes go: io.Copy hands it the source
// (the SDK's body, or the data connection through TCPConn.WriteTo), and
// it reads 256 KiB at a time and drops them (io.Discard alone reads
// 8 KiB at a time).
type discarder struct{ buf []byte }

func (d *discarder) Write(p []byte) (int, error) { return len(p), nil }

func (d *discarder) ReadFrom(r io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, d.buf)
}

// s3Parallel runs par uploads at once and records ftpd's resident memory:
// VmHWM (reset first through /proc/PID/clear_refs) and VmRSS sampled
// every 10 ms.
func (r *report) s3Parallel(env *s3Env, res *s3Result, data []byte) error {
	n, size := res.par, min(res.parSize, int64(len(data)))
	res.parSize = size
	conns := make([]*ftpclient.Conn, n)
	for i := range conns {
		c, err := dial(env.ftpdAddr, env.user, env.pass, clientIP(i), false)
		if err != nil {
			return fmt.Errorf("parallel upload %d login: %w", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	time.Sleep(time.Second)
	idle, err := procStatus(env.ftpdPid, "VmRSS")
	if err != nil {
		return err
	}
	// "5" resets the peak resident set size (Linux ≥ 4.0).
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", env.ftpdPid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset VmHWM: %w", err)
	}
	var sampled atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if v, err := procStatus(env.ftpdPid, "VmRSS"); err == nil && v > sampled.Load() {
				sampled.Store(v)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Stor(fmt.Sprintf("par%d.bin", i), bytes.NewReader(data[:size]))
			if err == nil && got != size {
				err = fmt.Errorf("sent %d bytes, want %d", got, size)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	sampler.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("parallel uploads: %w", err)
	}
	peak, err := procStatus(env.ftpdPid, "VmHWM")
	if err != nil {
		return err
	}
	res.rssIdle, res.rssPeak, res.rssSampled = idle, peak, sampled.Load()
	res.parMBs = mbps(int64(n)*size, took)
	fmt.Fprintf(os.Stderr, "s3 %d parallel uploads of %d MiB: %.0f MB/s; ftpd VmRSS %d MiB idle, VmHWM %d MiB, sampled peak %d MiB\n",
		n, size>>20, res.parMBs, idle>>20, peak>>20, res.rssSampled>>20)
	for _, c := range conns {
		_ = c.Quit()
	}
	return nil
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) < 2 {
				break
			}
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// s3Table prints the S3 section of the report.
func (r *report) s3Table(out io.Writer) {
	res := r.s3
	if res == nil {
		return
	}
	fmt.Fprintf(out, "\nS3 (versitygw posix on loopback, %.3g MiB object, ftpd part_size %d MiB, upload_memory %d MiB): ftpd against the AWS SDK's direct GET/PUT to the same store; both read into a 256 KiB buffer and discard, both send from memory\n\n",
		float64(res.size)/(1<<20), res.partSize>>20, res.memory>>20)
	fmt.Fprintln(out, "| transfer | MB/s median [min–max] | ftpd CPU s/GB | versitygw CPU s/GB | client CPU s/GB | MB/s runs in order |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---|")
	for _, c := range []*s3Cell{res.get, res.retr, res.put, res.stor, res.mpu} {
		ftpdCPU := "—"
		if c == res.retr || c == res.stor {
			ftpdCPU = c.field(func(s s3Sample) float64 { return s.ftpd }).format(2)
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", c.name,
			c.field(func(s s3Sample) float64 { return s.mbs }).format(0), ftpdCPU,
			c.field(func(s s3Sample) float64 { return s.store }).format(2),
			c.field(func(s s3Sample) float64 { return s.clientCPU }).format(2),
			joinS3(c.samples))
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintln(out, "\n| S3 target | ratio of medians | per-run ratios [min–max] | goal |")
	fmt.Fprintln(out, "|---|---:|---:|---|")
	for _, t := range []struct {
		what       string
		via, plain *s3Cell
		goal       float64
	}{{"RETR ÷ direct GET", res.retr, res.get, 0.8}, {"STOR ÷ direct PUT", res.stor, res.put, 0.7},
		{"STOR ÷ direct multipart PUT (same requests; no goal)", res.stor, res.mpu, 0}} {
		vm := t.via.field(func(s s3Sample) float64 { return s.mbs }).median
		pm := t.plain.field(func(s s3Sample) float64 { return s.mbs }).median
		var per []float64
		for i := range min(len(t.via.samples), len(t.plain.samples)) {
			per = append(per, t.via.samples[i].mbs/t.plain.samples[i].mbs)
		}
		ratio := 0.0
		if pm > 0 {
			ratio = vm / pm
		}
		goal := "—"
		if t.goal > 0 {
			goal = fmt.Sprintf("≥ %.1f — %s", t.goal, met(ratio >= t.goal))
		}
		fmt.Fprintf(out, "| %s | %.2f | %s | %s |\n", t.what, ratio, summarize(per).format(2), goal)
	}
	limit := res.memory + rssMargin
	fmt.Fprintf(out, "| ftpd peak RSS, %d parallel %d MiB uploads (%.0f MB/s together) | %d MiB (VmHWM; sampled %d MiB; %d MiB idle) | | ≤ upload_memory + 64 MiB = %d MiB — %s |\n",
		res.par, res.parSize>>20, res.parMBs, res.rssPeak>>20, res.rssSampled>>20, res.rssIdle>>20, limit>>20, met(res.rssPeak <= limit))
}

func joinS3(ss []s3Sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.FormatFloat(s.mbs, 'f', 0, 64)
	}
	return strings.Join(parts, ", ")
}
