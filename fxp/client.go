package fxp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"
)

// Passive picks the side that gets PASV (or EPSV).
type Passive int

const (
	// PassiveAuto tries PASV on the destination, then on the source (as
	// lftp does).
	PassiveAuto Passive = iota
	PassiveDst
	PassiveSrc
)

// ParsePassive reads "auto", "src"/"source" or "dst"/"destination".
func ParsePassive(s string) (Passive, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return PassiveAuto, nil
	case "dst", "destination":
		return PassiveDst, nil
	case "src", "source":
		return PassiveSrc, nil
	}
	return 0, fmt.Errorf("--passive %q: want src, dst or auto", s)
}

func (p Passive) String() string {
	return [...]string{"auto", "dst", "src"}[p]
}

// Options configure a Client. The zero value works: one file at a time,
// PASV side chosen automatically, no resume, no verification.
type Options struct {
	Passive Passive
	// Resume continues the temporary file an interrupted copy left
	// beside the target (REST + APPE); with InPlace, the target itself.
	Resume bool
	// InPlace writes the target directly instead of a temporary file
	// renamed onto it (for destinations that refuse RNFR/RNTO, such as
	// an ftpd receive token for a subtree). A destination that refuses
	// to create the temporary file gets the target written directly
	// anyway.
	InPlace   bool
	Verify    bool // compare HASH (or SIZE) of both ends after each file
	Recursive bool // copy a directory tree (MLSD on the source, MKD on the destination)
	Jobs      int  // files copied in parallel, each with its own connections; <1 means 1

	// Retries is how many times a failed file is tried again; Backoff the
	// wait before the first retry, doubled each time up to MaxBackoff
	// (0 = 5 minutes).
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Ledger, if set, skips files it lists as finished and records each
	// file that finishes; LedgerPrefix (a job name) is part of its keys.
	Ledger       Ledger
	LedgerPrefix string

	Bind    netip.Addr    // local address of control and data connections
	Timeout time.Duration // dialing and each command's reply; 0 = 30s
	TLS     *tls.Config   // base config for ftps:// (ServerName is set per host)
	// Secure protects the data between the servers (secure FXP): PROT P
	// on both, and one server made the TLS client with SSCN ON (or CPSV
	// when it offers CPSV but not SSCN). Both endpoints must use TLS.
	Secure bool
	// SSCN picks the server that takes the TLS client role: SSCNPassive
	// (the default), SSCNActive, SSCNSource or SSCNDestination. If that
	// server offers neither SSCN nor CPSV, the other one is asked.
	SSCN SSCNSide

	Reporter Reporter     // nil = NopReporter
	Log      *slog.Logger // protocol notes at debug level; nil = discard
	Now      func() time.Time

	// PollInterval is how often the progress connection asks; 0 = 250ms.
	PollInterval time.Duration
	// Grace is how long the other side may take to give its own final
	// reply once one side has failed, before it is aborted; 0 = 6s (ftpd
	// answers 5s after its passive gate turned a refused peer away).
	Grace time.Duration
	// Settle is how long the other side may take to finish once one side
	// has succeeded; 0 = Timeout.
	Settle time.Duration
	// AbortWait bounds the wait for replies after ABOR; 0 = 3s.
	AbortWait time.Duration

	// AllowForeignPasv hands the destination a PASV address other than
	// the passive server's control address (a NATed server announcing
	// its inside address, or one pointing elsewhere). Off: refused.
	AllowForeignPasv bool
	// MaxEntries caps the entries a tree listing (copy -r, mirror) may
	// hold; 0 = DefaultMaxEntries.
	MaxEntries int
	// MaxListing caps the bytes of one directory listing; 0 =
	// ftpclient.DefaultMaxListing.
	MaxListing int64
	// DataTimeout bounds how long a listing's data connection may move
	// no byte; 0 = Timeout.
	DataTimeout time.Duration
}

// DefaultMaxEntries is the default cap on a tree listing's entries.
const DefaultMaxEntries = 4_000_000

// Client copies between FTP servers.
type Client struct {
	opts Options
	log  *slog.Logger
	rep  Reporter
}

// New returns a client with defaults filled in.
func New(opts Options) *Client {
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.Grace <= 0 {
		opts.Grace = 6 * time.Second
	}
	if opts.Settle <= 0 {
		opts.Settle = opts.Timeout
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.AbortWait <= 0 {
		opts.AbortWait = 3 * time.Second
	}
	c := &Client{opts: opts, log: opts.Log, rep: opts.Reporter}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.rep == nil {
		c.rep = NopReporter{}
	}
	return c
}

// Summary counts what a Copy did.
type Summary struct {
	Files   int   // copied (or found complete)
	Skipped int   // of Files, already complete (--resume)
	Failed  int   // files that failed
	Refused int   // listed names skipped: not one plain path element
	Bytes   int64 // moved by the copies
	// Passive is the side that got PASV in the last successful copy
	// ("source" or "destination").
	Passive string
}

// job is one file to copy.
type job struct {
	id       int
	src, dst Endpoint
	size     int64     // from the source listing; -1 when unknown
	mtime    time.Time // source modification time to set with MFMT; zero = none
	resume   bool      // a retry: continue the partial file our last attempt left
	before   int64     // destination size before the first try; -1 unknown
}

// Copy copies src to dst (a file, or with Recursive a tree). With a
// destination path that is empty or ends in "/", a file keeps its name.
// Every file's failure is in the returned error (errors.Join); the copy
// goes on with the other files unless ctx is cancelled.
func (c *Client) Copy(ctx context.Context, src, dst Endpoint) (Summary, error) {
	var (
		jobs   []job
		budget *listBudget
	)
	if c.opts.Recursive {
		var err error
		if jobs, budget, err = c.plan(ctx, src, dst); err != nil {
			return Summary{}, err
		}
	} else {
		if src.Path == "" || strings.HasSuffix(src.Path, "/") {
			return Summary{}, fmt.Errorf("%s names a directory, not a file (use -r for trees)", src)
		}
		if dst.Path == "" || strings.HasSuffix(dst.Path, "/") {
			dst.Path += path.Base(src.Path)
		}
		if err := c.makeParent(ctx, dst); err != nil {
			return Summary{}, err
		}
		jobs = []job{{id: 1, src: src, dst: dst, size: -1}}
	}
	// Refused names are skipped with an error each: the rest of the tree
	// is copied, and the copy ends as failed (exit 1) all the same.
	refused := budget.errs()
	for _, err := range refused {
		c.log.Warn("skipped", "error", err.Error())
	}
	sum, err := c.run(ctx, jobs, runHooks{})
	if budget != nil {
		sum.Refused = budget.refused
	}
	return sum, errors.Join(append(refused, err)...)
}

// makeParent creates the directory that will hold dst's file, and its
// missing parents, on the destination (mkdir -p).
func (c *Client) makeParent(ctx context.Context, dst Endpoint) error {
	dir := path.Dir(dst.Path)
	if dir == "." || dir == "/" {
		return nil
	}
	d, err := c.dialRetrying(ctx, roleDst, dst)
	if err != nil {
		return err
	}
	defer d.close()
	return d.mkdirAll(dir)
}

// runHooks let a caller follow and filter a run's files.
type runHooks struct {
	// done, if set, is called after each file's last try.
	done func(job, fileResult, error)
}

// run copies jobs with up to Jobs workers.
func (c *Client) run(ctx context.Context, jobs []job, hooks runHooks) (Summary, error) {
	if p, ok := c.rep.(Planner); ok {
		p.Plan(len(jobs), plannedBytes(jobs))
	}
	queue := make(chan job)
	var (
		mu   sync.Mutex
		sum  Summary
		errs []error
		wg   sync.WaitGroup
	)
	for range min(c.opts.Jobs, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{cl: c}
			defer w.close()
			for j := range queue {
				if ctx.Err() != nil {
					continue // interrupted: drain without starting
				}
				key := ledgerKey(c.opts.LedgerPrefix, j)
				if c.opts.Ledger != nil && c.opts.Ledger.Finished(key) {
					c.log.Debug("finished in an earlier run", "src", j.src.String(), "dst", j.dst.String())
					if hooks.done != nil {
						hooks.done(j, fileResult{skipped: true}, nil)
					}
					mu.Lock()
					sum.Files++
					sum.Skipped++
					mu.Unlock()
					continue
				}
				res, err := w.copyRetrying(ctx, j)
				if err == nil && c.opts.Ledger != nil {
					err = c.opts.Ledger.Record(key)
				}
				if hooks.done != nil {
					hooks.done(j, res, err)
				}
				mu.Lock()
				if err != nil {
					sum.Failed++
					errs = append(errs, err)
				} else {
					sum.Files++
					sum.Bytes += res.moved
					if res.skipped {
						sum.Skipped++
					} else {
						sum.Passive = res.passive
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if ctx.Err() != nil && len(errs) == 0 {
		errs = append(errs, interrupted(ctx))
	}
	return sum, errors.Join(errs...)
}

// interrupted is the error of a copy stopped by its context (Ctrl-C).
func interrupted(ctx context.Context) error {
	return fmt.Errorf("interrupted: transfers aborted on both servers: %w", context.Cause(ctx))
}
