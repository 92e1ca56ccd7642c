package fxp

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ftpd/ftpd/ftpclient"
)

// entry is one line of an MLSD listing.
type entry struct {
	name   string
	typ    string // file, dir, cdir, pdir, or another (OS.unix=slink...)
	size   int64
	modify time.Time // zero when not listed
}

// parseMLSD reads "fact=value;fact=value; name" (RFC 3659).
func parseMLSD(line string) (entry, bool) {
	facts, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return entry{}, false
	}
	e := entry{name: name, size: -1}
	for _, f := range strings.Split(facts, ";") {
		k, v, _ := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "type":
			e.typ = strings.ToLower(v)
		case "modify":
			e.modify, _ = parseFTPTime(v)
		case "size":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				e.size = n
			}
		}
	}
	return e, e.typ != ""
}

// listDir lists dir (MLSD) and returns its entries whose names pass
// checkName; the others are refusals in b. Lines are parsed as they
// arrive, and the walk's entries may not pass b.max.
func listDir(s *server, dir string, b *listBudget) ([]entry, error) {
	var out []entry
	err := s.c.ListFunc("MLSD", dir, func(l []byte) error {
		e, ok := parseMLSD(string(l))
		if !ok || e.typ == "cdir" || e.typ == "pdir" {
			return nil
		}
		if err := checkName(e.name); err != nil {
			b.refuse(func() error { return fmt.Errorf("%s: in %s: %w", s, ftpclient.Printable(dir), err) })
			return nil
		}
		if b.entries++; b.entries > b.max {
			return fmt.Errorf("more than %d entries (the entry cap, --max-entries): refused", b.max)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: list %s: %w", s, strconv.Quote(ftpclient.Printable(dir)), err)
	}
	return out, nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// plan walks the source tree (MLSD), creates its directories on the
// destination (MKD) and returns the files to copy. The destination path
// becomes the copy of the source directory; one ending in "/" (or empty)
// receives it under its own name.
func (c *Client) plan(ctx context.Context, src, dst Endpoint) (jobs []job, refused *listBudget, err error) {
	s, err := c.dialRetrying(ctx, roleSrc, src)
	if err != nil {
		return nil, nil, err
	}
	defer s.close()
	d, err := c.dialRetrying(ctx, roleDst, dst)
	if err != nil {
		return nil, nil, err
	}
	defer d.close()

	srcRoot := strings.TrimSuffix(src.Path, "/")
	dstRoot := strings.TrimSuffix(dst.Path, "/")
	if (dst.Path == "" || strings.HasSuffix(dst.Path, "/")) && srcRoot != "" && path.Base(srcRoot) != "/" {
		dstRoot = joinPath(dstRoot, path.Base(srcRoot))
	}
	p := planner{c: c, src: s, dst: d, budget: &listBudget{max: c.opts.MaxEntries}}
	if dstRoot != "" {
		if err := p.mkdir(dstRoot); err != nil {
			return nil, nil, err
		}
	}
	if err := p.walk(ctx, srcRoot, dstRoot, src, dst, 0); err != nil {
		return nil, nil, err
	}
	return p.jobs, p.budget, nil
}

type planner struct {
	c        *Client
	src, dst *server
	jobs     []job
	budget   *listBudget // entries listed, names refused
}

// maxDepth stops symlink loops a server might list as directories.
const maxDepth = 64

func (p *planner) walk(ctx context.Context, srcDir, dstDir string, src, dst Endpoint, depth int) error {
	if err := ctx.Err(); err != nil {
		return interrupted(ctx)
	}
	if depth > maxDepth {
		return fmt.Errorf("%s: %s: deeper than %d levels", p.src, srcDir, maxDepth)
	}
	entries, err := listDir(p.src, srcDir, p.budget)
	if err != nil {
		return err
	}
	for _, e := range entries {
		sp, dp := joinPath(srcDir, e.name), joinPath(dstDir, e.name)
		switch e.typ {
		case "dir":
			if err := p.mkdir(dp); err != nil {
				return err
			}
			if err := p.walk(ctx, sp, dp, src, dst, depth+1); err != nil {
				return err
			}
		case "file":
			if IsTempName(e.name) {
				p.c.log.Debug("skipped (temporary file of an interrupted copy)", "path", sp)
				continue
			}
			p.jobs = append(p.jobs, job{id: len(p.jobs) + 1, src: src.WithPath(sp), dst: dst.WithPath(dp)})
		default:
			p.c.log.Debug("skipped (not a file or directory)", "path", sp, "type", e.typ)
		}
	}
	return nil
}

// mkdir creates dir (and its missing parents) on the destination.
func (p *planner) mkdir(dir string) error { return p.dst.mkdirAll(dir) }

// quoted extracts the path of a 257 reply: "/a ""b""" is current -> /a "b".
func quoted(msg string) string {
	i, j := strings.IndexByte(msg, '"'), strings.LastIndexByte(msg, '"')
	if i < 0 || j <= i {
		return "/"
	}
	return strings.ReplaceAll(msg[i+1:j], `""`, `"`)
}
