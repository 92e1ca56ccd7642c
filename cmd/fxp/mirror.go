package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ftpd/ftpd/fxp"
)

const mirrorUsage = `usage: fxp mirror [flags] SRC DST

Makes the directory DST hold what the directory SRC holds, server to
server: copies files missing on DST or differing in size or modification
time (MLSD modify, else MDTM; --checksum compares HASH digests instead),
creates directories, and sets each copied file's time with MFMT where DST
supports it, so that the next run finds nothing to do. --delete removes
what SRC does not have, only below DST, and never when SRC lists nothing
(unless --allow-empty-source).

SRC and DST are ftp:// URLs or SITE:PATH names from the sites file.
Exit status: 0 done, 1 some file failed, 2 usage error.

Flags:
`

// globList is a repeatable flag.
type globList []string

func (g *globList) String() string     { return strings.Join(*g, ",") }
func (g *globList) Set(v string) error { *g = append(*g, v); return nil }

type mirrorFlags struct {
	checksum, del, allowEmpty, dryRun bool
	include, exclude                  globList
}

func addMirrorFlags(fs *flag.FlagSet, m *mirrorFlags) {
	fs.BoolVar(&m.checksum, "checksum", false, "compare files by digest (HASH, or XSHA256/XMD5/XCRC) instead of size and time")
	fs.BoolVar(&m.del, "delete", false, "delete destination files and directories the source does not have (only below DST)")
	fs.BoolVar(&m.allowEmpty, "allow-empty-source", false, "let --delete act on an empty source listing (refused by default)")
	fs.BoolVar(&m.dryRun, "dry-run", false, "print what would be copied, created and deleted; change nothing")
	fs.Var(&m.include, "include", "copy only files matching this glob (path or base name; repeatable)")
	fs.Var(&m.exclude, "exclude", "skip files matching this glob (path or base name; repeatable)")
}

func runMirror(ctx context.Context, args []string, e env) int {
	var f copyFlags
	var m mirrorFlags
	fs := newCopyFlags(e.stderr, &f)
	addMirrorFlags(fs, &m)
	hint := "usage: fxp mirror [flags] SRC DST (fxp mirror -h for more)"
	src, dst, opts, code, done := srcDstCommand(fs, &f, mirrorUsage, "mirror", hint, args, e)
	if done {
		return code
	}
	usage := usageError(e, "mirror", hint)
	mo := m.options()
	if err := errors.Join(fxp.CheckFilters(mo.Include), fxp.CheckFilters(mo.Exclude)); err != nil {
		return usage("%v", err)
	}
	rep := newReporter(&f, e)
	opts.Reporter = rep
	if m.dryRun && !f.jsonOut {
		mo.Plan = e.stdout
	}
	sum, err := fxp.New(opts).Mirror(ctx, src, dst, mo)
	rep.Close()
	printMirrorSummary(e.stdout, f.jsonOut, "", sum, err)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp mirror: %v\n", printable(err))
		return exitFail
	}
	return exitOK
}

func (m *mirrorFlags) options() fxp.MirrorOptions {
	return fxp.MirrorOptions{
		Checksum: m.checksum, Delete: m.del, AllowEmptySource: m.allowEmpty, DryRun: m.dryRun,
		Include: m.include, Exclude: m.exclude,
	}
}

// newReporter picks the progress output: JSON events, bars on a terminal,
// plain lines otherwise.
func newReporter(f *copyFlags, e env) fxp.Reporter {
	switch {
	case f.jsonOut:
		return fxp.NewJSONReporter(e.stdout)
	case e.tty:
		return fxp.NewBarReporter(e.stdout)
	}
	return fxp.NewLogReporter(e.stdout, 2*time.Second, e.now)
}

// mirrorJSON is the --json summary object.
type mirrorJSON struct {
	Event string `json:"event"` // "summary"
	Job   string `json:"job,omitempty"`
	fxp.MirrorSummary
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// printMirrorSummary writes the one summary line (or JSON object).
func printMirrorSummary(w io.Writer, jsonOut bool, job string, s fxp.MirrorSummary, err error) {
	if jsonOut {
		o := mirrorJSON{Event: "summary", Job: job, MirrorSummary: s, Seconds: float64(s.Elapsed.Milliseconds()) / 1000}
		if err != nil {
			o.Error = printable(err)
		}
		_ = json.NewEncoder(w).Encode(o)
		return
	}
	fmt.Fprintln(w, mirrorSummaryLine(job, s))
}

func mirrorSummaryLine(job string, s fxp.MirrorSummary) string {
	prefix := "fxp mirror: "
	if job != "" {
		prefix = "fxp run: job " + job + ": "
	}
	if s.DryRun {
		prefix += "dry run, would have: "
	}
	line := fmt.Sprintf("%d copied, %d skipped, %d deleted, %d failed, %d bytes, %s",
		s.Copied, s.Skipped, s.Deleted, s.Failed, s.Bytes, s.Elapsed.Round(time.Millisecond))
	if s.Copied == 0 && s.Deleted == 0 && s.Failed == 0 && s.Dirs == 0 {
		line = "nothing to do, destination up to date (" + line + ")"
	}
	return prefix + line
}
