package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ftpd/ftpd/server/dataplane"
	"github.com/ftpd/ftpd/server/listing"
	"github.com/ftpd/ftpd/storage/s3store"
)

// A session streams its LIST, NLST and MLSD listings (package listing has
// the design): ReadDir records the directory as pending and gives the
// library an empty listing; the data plane hands the library the listing
// connection (ListingConn), whose empty write streams it.

// statMaxEntries bounds STAT of a directory, which the library lists on
// the control connection from a whole slice: past it, STAT is refused.
const statMaxEntries = 10000

// listState is a session's listing bookkeeping.
type listState struct {
	mu      sync.Mutex
	since   time.Time        // the session's start (LIST's 6-month date switch)
	pending *listing.Listing // from ReadDir to the data connection's handover
	failed  error            // the last streamed listing's error, until its final reply
}

// set makes l the pending listing, dropping an older one.
func (ls *listState) set(l *listing.Listing) {
	ls.mu.Lock()
	old := ls.pending
	ls.pending = l
	ls.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// take returns the pending listing and forgets it.
func (ls *listState) take() *listing.Listing {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.pending
	ls.pending = nil
	return l
}

// drop releases a pending listing nobody took (the session ended).
func (ls *listState) drop() {
	if l := ls.take(); l != nil {
		_ = l.Close()
	}
}

// ReadDir is the library's ClientDriverExtensionFileList, called for a
// directory by LIST, NLST, MLSD and STAT. A listing gets an empty slice
// and its directory, first page read, becomes the session's pending
// listing; STAT gets the whole directory up to statMaxEntries.
func (c *clientDriver) ReadDir(name string) ([]os.FileInfo, error) {
	sess := c.sess
	verb := strings.ToUpper(sess.cc.GetLastCommand())
	switch {
	case verb == "STAT":
		return c.statDir(name)
	case !listing.Valid(verb):
		// ABOR or QUIT arrived while this listing was starting.
		return nil, errors.New("listing aborted")
	case sess.srv.bufferListings:
		return c.FS.ReadDir(name) // tests: the library renders the whole slice
	}
	dir, err := c.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	l := &listing.Listing{
		Verb: verb, Path: name, Dir: dir, Since: sess.list.since,
		Parent: listing.RelativeTo(sess.cc.Path(), name),
	}
	if err := l.Prefetch(); err != nil {
		_ = l.Close()
		return nil, err // answered before the transfer starts, as the library does
	}
	sess.list.set(l)
	return []os.FileInfo{}, nil
}

// statDir reads a directory whole for STAT, sorted by name, refusing one
// of more than statMaxEntries entries.
func (c *clientDriver) statDir(name string) ([]os.FileInfo, error) {
	dir, err := c.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	var all []os.FileInfo
	for {
		fis, err := dir.Readdir(listing.Page)
		all = append(all, fis...)
		if len(all) > statMaxEntries {
			return nil, fmt.Errorf("%s has more than %d entries, the most STAT lists: use LIST, NLST or MLSD", name, statMaxEntries)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	return all, nil
}

var _ dataplane.Lister = dataOwner{}

// ListingConn gives the library the data connection of a listing command:
// the streaming listing.Conn when ReadDir left a listing pending, else c.
func (o dataOwner) ListingConn(c net.Conn) net.Conn {
	l := o.sess.list.take()
	if l == nil {
		return c
	}
	return listing.NewConn(c, l, o.sess.listingDone)
}

// listingDone records how a streamed listing ended, for its final reply.
func (sess *session) listingDone(l *listing.Listing, entries int, err error) {
	if err == nil {
		sess.log.Debug("listing", "command", l.Verb, "path", l.Path, "entries", entries)
		return
	}
	sess.log.Warn("listing failed", "command", l.Verb, "path", l.Path, "entries", entries, "err", err.Error())
	sess.list.mu.Lock()
	sess.list.failed = err
	sess.list.mu.Unlock()
}

// reply sees each final reply line: it ends the listing bookkeeping of the
// command it answers (a pending listing nobody took is dropped) and words
// a streamed listing's failure: 451 when the storage failed, 426 when the
// data connection did (the library says 550 for both).
func (ls *listState) reply(line string) string {
	if !isFinalReplyLine(line) || line[0] == '1' {
		return line
	}
	switch line[:3] {
	case "211", "212", "213":
		return line // STAT beside a running transfer
	}
	ls.mu.Lock()
	stale, failed := ls.pending, ls.failed
	ls.pending, ls.failed = nil, nil
	ls.mu.Unlock()
	if stale != nil {
		_ = stale.Close()
	}
	if failed == nil || !strings.HasPrefix(line, replyTransferFailed) {
		return line
	}
	var re *listing.ReadError
	switch {
	case errors.Is(failed, s3store.ErrStore):
		// The store's own text (endpoint, request ids) stays in the log.
		return "451 listing aborted: " + s3store.ErrStore.Error()
	case errors.As(failed, &re):
		return "451 listing aborted: the directory could not be read"
	}
	return "426 Connection closed; listing aborted"
}
