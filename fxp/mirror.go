package fxp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// mlsdTime is the time format of MLSD's modify fact, MDTM and MFMT (UTC).
const mlsdTime = "20060102150405"

// parseFTPTime reads YYYYMMDDHHMMSS[.fff] (UTC).
func parseFTPTime(s string) (time.Time, bool) {
	s, _, _ = strings.Cut(strings.TrimSpace(s), ".")
	t, err := time.Parse(mlsdTime, s)
	return t, err == nil
}

// MirrorOptions say how Mirror compares and what else it may do.
type MirrorOptions struct {
	Checksum bool // compare files with HASH (or X commands) instead of size and time
	Delete   bool // remove destination files and directories absent from the source
	// AllowEmptySource lets Delete empty the destination when the source
	// directory lists nothing (by default that is refused: an empty
	// listing is more often a broken mount than an intent).
	AllowEmptySource bool
	DryRun           bool     // print the plan to Plan, change nothing
	Include, Exclude []string // globs (path.Match) on the relative path or the base name
	Plan             io.Writer
}

// MirrorSummary counts what Mirror did.
type MirrorSummary struct {
	Copied  int           `json:"copied"`
	Skipped int           `json:"skipped"` // already the same
	Deleted int           `json:"deleted"`
	Failed  int           `json:"failed"`
	Dirs    int           `json:"dirs_created"`
	Bytes   int64         `json:"bytes"`
	Elapsed time.Duration `json:"-"`
	DryRun  bool          `json:"dry_run,omitempty"`
}

// node is one entry of a tree listing, keyed by its path relative to the
// tree's root.
type node struct {
	dir   bool
	size  int64
	mtime time.Time // zero when the listing had no modify fact
}

// CheckFilters rejects globs path.Match cannot use.
func CheckFilters(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("glob %q: %w", g, err)
		}
	}
	return nil
}

// selected says whether the file rel passes --include/--exclude.
func (o *MirrorOptions) selected(rel string) bool {
	match := func(globs []string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, rel); ok {
				return true
			}
			if ok, _ := path.Match(g, path.Base(rel)); ok {
				return true
			}
		}
		return false
	}
	if len(o.Include) > 0 && !match(o.Include) {
		return false
	}
	return !match(o.Exclude)
}

// Mirror makes the directory dst hold what the directory src holds: it
// copies files that are missing or differ (size and modification time, or
// a digest with Checksum), creates directories, sets copied files' times
// with MFMT where the destination supports it, and with Delete removes
// what the source does not have. It never touches anything outside dst.
func (c *Client) Mirror(ctx context.Context, src, dst Endpoint, mo MirrorOptions) (MirrorSummary, error) {
	start := c.opts.Now()
	sum := MirrorSummary{DryRun: mo.DryRun}
	if mo.Plan == nil {
		mo.Plan = io.Discard
	}
	if err := errors.Join(CheckFilters(mo.Include), CheckFilters(mo.Exclude)); err != nil {
		return sum, err
	}
	s, err := c.dialRetrying(ctx, roleSrc, src)
	if err != nil {
		return sum, err
	}
	defer s.close()
	d, err := c.dialRetrying(ctx, roleDst, dst)
	if err != nil {
		return sum, err
	}
	defer d.close()

	srcRoot, dstRoot := strings.TrimSuffix(src.Path, "/"), strings.TrimSuffix(dst.Path, "/")
	// Names that are not one plain path element, on either side, are
	// skipped with an error each (the mirror ends as failed): nothing is
	// created, copied or deleted through them.
	srcTree, srcB, err := listTree(ctx, s, srcRoot, true, c.opts.MaxEntries)
	if err != nil {
		return sum, err
	}
	dstTree, dstB, err := listTree(ctx, d, dstRoot, false, c.opts.MaxEntries)
	if err != nil {
		return sum, err
	}
	// Temporary files of interrupted copies are neither copied, compared
	// nor deleted: the destination's are listed in the plan (a copy of
	// the same source continues or replaces its own).
	dropTemps(srcTree)
	temps := dropTemps(dstTree)
	sort.Strings(temps)
	for _, rel := range temps {
		fmt.Fprintf(mo.Plan, "keep   %s (temporary file of an interrupted copy)\n", joinPath(dstRoot, rel))
	}
	refused := append(srcB.errs(), dstB.errs()...)
	sum.Failed += srcB.refused + dstB.refused
	for _, err := range refused {
		fmt.Fprintf(mo.Plan, "skip   %v\n", err)
	}
	if mo.Delete && len(srcTree) <= 1 && !mo.AllowEmptySource { // the root's own entry only
		return sum, fmt.Errorf("%s: %q lists no entries: refusing to --delete everything in the destination (use --allow-empty-source if that is what you want)", s, src.Path)
	}
	dstMFMT := hasFeature(d.features(), "MFMT")

	// Directories first (parents before children), then the files.
	var dirs, files []string
	for rel, n := range srcTree {
		if n.dir {
			dirs = append(dirs, rel)
		} else if mo.selected(rel) {
			files = append(files, rel)
		}
	}
	sort.Strings(dirs)
	sort.Strings(files)
	errs := refused
	// conflicts are paths whose type differs between source and
	// destination: not copied, so --delete must not touch them either (a
	// source listing one name with the wrong type would otherwise wipe a
	// destination tree).
	conflicts := map[string]bool{}
	mkdir := func(rel string) error {
		p := rooted(dstRoot, rel)
		fmt.Fprintf(mo.Plan, "mkdir  %s\n", ftpclient.Printable(p))
		sum.Dirs++
		if mo.DryRun {
			return nil
		}
		return d.mkdirAll(p)
	}
	if _, ok := dstTree[""]; !ok {
		if err := mkdir(""); err != nil {
			return sum, err
		}
	}
	for _, rel := range dirs {
		if n, ok := dstTree[rel]; ok && n.dir {
			continue
		} else if ok {
			sum.Failed++
			conflicts[rel] = true
			errs = append(errs, fmt.Errorf("%s: %s is a file, the source has a directory", d, joinPath(dstRoot, rel)))
			continue
		}
		if err := mkdir(rel); err != nil {
			return sum, err
		}
	}

	var jobs []job
	for _, rel := range files {
		sn := srcTree[rel]
		dn, exists := dstTree[rel]
		if exists && dn.dir {
			sum.Failed++
			conflicts[rel] = true
			errs = append(errs, fmt.Errorf("%s: %s is a directory, the source has a file", d, joinPath(dstRoot, rel)))
			continue
		}
		why, err := c.differs(ctx, s, d, joinPath(srcRoot, rel), joinPath(dstRoot, rel), sn, dn, exists, dstMFMT, mo.Checksum)
		if err != nil {
			sum.Failed++
			errs = append(errs, err)
			continue
		}
		if why == "" {
			sum.Skipped++
			continue
		}
		fmt.Fprintf(mo.Plan, "copy   %s -> %s (%s)\n", ftpclient.Printable(joinPath(srcRoot, rel)), ftpclient.Printable(joinPath(dstRoot, rel)), why)
		jobs = append(jobs, job{id: len(jobs) + 1, src: src.WithPath(joinPath(srcRoot, rel)), dst: dst.WithPath(joinPath(dstRoot, rel)), size: sn.size, mtime: sn.mtime})
	}

	var doomed []string
	if mo.Delete {
		for rel, n := range dstTree {
			if rel == "" {
				continue
			}
			if sn, ok := srcTree[rel]; ok && sn.dir == n.dir {
				continue
			}
			if !n.dir && !mo.selected(rel) {
				continue // filtered out: not ours to delete
			}
			if underConflict(rel, conflicts) {
				continue // its copy failed: left as it is
			}
			doomed = append(doomed, rel)
		}
		// Deepest first, so that directories are empty when removed.
		sort.Slice(doomed, func(i, j int) bool { return doomed[i] > doomed[j] })
	}

	if !mo.DryRun && len(jobs) > 0 {
		var mu sync.Mutex
		_, err := c.run(ctx, jobs, runHooks{done: func(j job, res fileResult, err error) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				sum.Failed++
				return
			case res.skipped:
				sum.Skipped++ // finished in an earlier run (state file)
				return
			}
			sum.Copied++
			sum.Bytes += res.moved
		}})
		if err != nil {
			errs = append(errs, err)
		}
	} else {
		sum.Copied = len(jobs)
		for _, j := range jobs {
			sum.Bytes += max(j.size, 0)
		}
	}
	if ctx.Err() != nil {
		sum.Elapsed = c.opts.Now().Sub(start)
		return sum, errors.Join(append(errs, interrupted(ctx))...)
	}
	for _, rel := range doomed {
		p := joinPath(dstRoot, rel)
		if !insideRoot(dstRoot, p) {
			errs = append(errs, fmt.Errorf("%s: %s is outside %s: not deleted", d, p, dstRoot))
			sum.Failed++
			continue
		}
		verb := "DELE"
		if dstTree[rel].dir {
			verb = "RMD"
		}
		fmt.Fprintf(mo.Plan, "delete %s\n", ftpclient.Printable(p))
		if mo.DryRun {
			sum.Deleted++
			continue
		}
		if _, err := d.c.Expect(250, "%s %s", verb, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
			sum.Failed++
			continue
		}
		sum.Deleted++
	}
	sum.Elapsed = c.opts.Now().Sub(start)
	return sum, errors.Join(errs...)
}

// underConflict reports whether rel is one of the conflicting paths or
// lies below one.
func underConflict(rel string, conflicts map[string]bool) bool {
	for p := rel; p != "" && p != "." && p != "/"; p = path.Dir(p) {
		if conflicts[p] {
			return true
		}
	}
	return false
}

// rooted is rel below root; root itself for "".
func rooted(root, rel string) string {
	if rel == "" {
		return root
	}
	return joinPath(root, rel)
}

// insideRoot reports whether p is strictly below root (both relative to
// the same directory, as Mirror builds them).
func insideRoot(root, p string) bool {
	if strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./") {
		return false
	}
	if root == "" {
		return p != "" && !strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}

// differs says why the source file must be copied, or "" when the
// destination already has it.
func (c *Client) differs(ctx context.Context, s, d *server, sp, dp string, sn, dn node, exists, dstMFMT, checksum bool) (string, error) {
	switch {
	case !exists:
		return "missing", nil
	case sn.size >= 0 && dn.size >= 0 && sn.size != dn.size:
		return fmt.Sprintf("size %d, was %d", sn.size, dn.size), nil
	case checksum:
		sd, dd, err := c.digests(ctx, s, d, sp, dp)
		if err != nil {
			return "", err
		}
		if sd != dd {
			return "checksum differs", nil
		}
		return "", nil
	}
	st, dt := sn.mtime, dn.mtime
	if st.IsZero() {
		st = mdtm(s, sp)
	}
	if dt.IsZero() {
		dt = mdtm(d, dp)
	}
	if st.IsZero() || dt.IsZero() {
		return "", nil // no times to compare: same size is the same file
	}
	st, dt = st.Truncate(time.Second), dt.Truncate(time.Second)
	if dstMFMT && !st.Equal(dt) {
		return "time differs", nil
	}
	if st.After(dt) {
		return "source newer", nil // without MFMT the copy's time is when it was made
	}
	return "", nil
}

// mdtm asks for a file's modification time; zero when unknown.
func mdtm(s *server, p string) time.Time {
	msg, err := s.c.Expect(213, "MDTM %s", p)
	if err != nil {
		return time.Time{}
	}
	t, _ := parseFTPTime(msg)
	return t
}

// digests computes the same digest of both files.
func (c *Client) digests(ctx context.Context, s, d *server, sp, dp string) (string, string, error) {
	for _, a := range hashAlgos {
		hs, hd := hashSupport(s.features(), a), hashSupport(d.features(), a)
		if hs == hashNone || hd == hashNone {
			continue
		}
		sd, err := digest(ctx, s, a, hs, sp)
		if err != nil {
			return "", "", err
		}
		dd, err := digest(ctx, d, a, hd, dp)
		if err != nil {
			return "", "", err
		}
		return sd, dd, nil
	}
	return "", "", fmt.Errorf("--checksum: %s and %s share no digest command (HASH or XSHA256/XMD5/XCRC)", s, d)
}

// listTree lists dir recursively with MLSD: every entry by its path
// relative to dir ("" is dir itself, when it exists). A destination
// directory that does not exist is an empty tree; a source that does not
// exist is an error.
func listTree(ctx context.Context, s *server, dir string, must bool, max int) (map[string]node, *listBudget, error) {
	tree := map[string]node{}
	b := &listBudget{max: max}
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		if err := ctx.Err(); err != nil {
			return interrupted(ctx)
		}
		if depth > maxDepth {
			return fmt.Errorf("%s: %s: deeper than %d levels", s, joinPath(dir, rel), maxDepth)
		}
		entries, err := listDir(s, rooted(dir, rel), b)
		var re *ftpclient.ReplyError
		if err != nil && rel == "" && !must && errors.As(err, &re) && re.Code == 550 {
			return nil // no destination directory yet
		}
		if err != nil {
			return err
		}
		tree[rel] = node{dir: true}
		var subdirs []string
		for _, e := range entries {
			r := joinPath(rel, e.name)
			switch e.typ {
			case "dir":
				subdirs = append(subdirs, r)
			case "file":
				tree[r] = node{size: e.size, mtime: e.modify}
			}
		}
		for _, r := range subdirs {
			if err := walk(r, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, b, err
	}
	return tree, b, nil
}
