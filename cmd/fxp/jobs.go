package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ftpd/ftpd/fxp"
)

const runUsage = `usage: fxp run [flags] JOBS.toml

Runs the copy and mirror jobs of JOBS.toml one after another, retrying
each failed file (retries, with a backoff doubling each time) and
resuming it (REST + APPE) when the source supports it. With --state, files
finished are recorded, so that a run that was interrupted continues where
it stopped (the file is removed once a run finishes everything). With
--lock, a second run while one holds the lock exits at once.

Exit status: 0 all done, 1 some file failed after its retries,
2 usage or job-file error, 3 another run holds the lock.

Flags:
`

type runFlags struct {
	state, lock string
}

func runJobs(ctx context.Context, args []string, e env) int {
	var f copyFlags
	var rf runFlags
	fs := newCopyFlags(e.stderr, &f)
	fs.StringVar(&rf.state, "state", "", "file recording finished transfers, to continue an interrupted run")
	fs.StringVar(&rf.lock, "lock", "", "lock file (flock): a run that finds it locked exits 3 at once")
	pos, code, done := parseCommand(fs, runUsage, args, e)
	if done {
		return code
	}
	usage := usageError(e, "run", "")
	if len(pos) != 1 {
		return usage("want one job file, got %d argument(s) (fxp run -h for more)", len(pos))
	}
	if rf.lock != "" {
		lk, err := lockFile(rf.lock)
		if errors.Is(err, errLocked) {
			fmt.Fprintf(e.stderr, "fxp run: another fxp run holds the lock %s: exiting\n", rf.lock)
			return exitLocked
		}
		if err != nil {
			return usage("%v", err)
		}
		defer lk.Close()
	}
	jf, err := fxp.LoadJobFile(pos[0])
	if err != nil {
		return usage("%v", err)
	}
	base, err := options(&f, e)
	if err != nil {
		return usage("%v", err)
	}
	sitesPath := f.sites
	if sitesPath == "" {
		sitesPath = jf.Sites
	}
	r := &resolver{e: e, sitesFlag: sitesPath, netrcFlag: f.netrc}
	type resolved struct{ src, dst fxp.Endpoint }
	ends := make([]resolved, len(jf.Jobs))
	for i, j := range jf.Jobs {
		src, err := r.endpoint(j.Src, "", "")
		if err != nil {
			return usage("job %s: src: %v", j.Name, err)
		}
		dst, err := r.endpoint(j.Dst, "", "")
		if err != nil {
			return usage("job %s: dst: %v", j.Name, err)
		}
		ends[i] = resolved{src, dst}
	}
	var state *fxp.StateFile
	if rf.state != "" {
		if state, err = fxp.OpenState(rf.state); err != nil {
			return usage("%v", err)
		}
		if n := state.Len(); n > 0 {
			fmt.Fprintf(e.stderr, "fxp run: %s: %d file(s) finished by an earlier run are skipped\n", rf.state, n)
		}
	}

	failed := false
	for i, j := range jf.Jobs {
		if ctx.Err() != nil {
			failed = true
			break
		}
		opts := base
		opts.Passive, _ = fxp.ParsePassive(j.Passive)
		opts.Jobs, opts.Retries, opts.Backoff = j.Parallel, *j.Retries, j.Backoff.Duration
		if jf.MaxBackoff.Duration > 0 {
			opts.MaxBackoff = jf.MaxBackoff.Duration
		}
		opts.Verify = opts.Verify || j.Verify
		if state != nil {
			opts.Ledger, opts.LedgerPrefix = state, j.Name
		}
		rep := newReporter(&f, e)
		opts.Reporter = rep
		cl := fxp.New(opts)
		var err error
		if j.Mode == "mirror" {
			var sum fxp.MirrorSummary
			sum, err = cl.Mirror(ctx, ends[i].src, ends[i].dst, fxp.MirrorOptions{
				Checksum: j.Checksum, Delete: j.Delete, AllowEmptySource: j.AllowEmptySource,
				Include: j.Include, Exclude: j.Exclude,
			})
			rep.Close()
			printMirrorSummary(e.stdout, f.jsonOut, j.Name, sum, err)
		} else {
			opts.Recursive, opts.Resume = j.Recursive, j.Resume
			cl = fxp.New(opts)
			start := e.now()
			var sum fxp.Summary
			sum, err = cl.Copy(ctx, ends[i].src, ends[i].dst)
			rep.Close()
			printCopyJobSummary(e, f.jsonOut, j.Name, sum, e.now().Sub(start), err)
		}
		if err != nil {
			failed = true
			fmt.Fprintf(e.stderr, "fxp run: job %s: %v\n", j.Name, printable(err))
		}
	}
	if state != nil {
		if err := state.Close(!failed); err != nil {
			fmt.Fprintf(e.stderr, "fxp run: %v\n", printable(err))
		}
	}
	if failed {
		return exitFail
	}
	return exitOK
}

// copyJobJSON is the --json summary of a copy job.
type copyJobJSON struct {
	Event   string  `json:"event"`
	Job     string  `json:"job"`
	Copied  int     `json:"copied"`
	Skipped int     `json:"skipped"`
	Failed  int     `json:"failed"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

func printCopyJobSummary(e env, jsonOut bool, name string, s fxp.Summary, took time.Duration, err error) {
	if jsonOut {
		o := copyJobJSON{Event: "summary", Job: name, Copied: s.Files - s.Skipped, Skipped: s.Skipped, Failed: s.Failed,
			Bytes: s.Bytes, Seconds: float64(took.Milliseconds()) / 1000}
		if err != nil {
			o.Error = printable(err)
		}
		_ = json.NewEncoder(e.stdout).Encode(o)
		return
	}
	fmt.Fprintf(e.stdout, "fxp run: job %s: %d copied, %d skipped, %d failed, %d bytes, %s\n",
		name, s.Files-s.Skipped, s.Skipped, s.Failed, s.Bytes, took.Round(time.Millisecond))
}
