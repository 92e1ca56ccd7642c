package fxp

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// hashAlgo is a digest both HASH (draft-bryan-ftpext-hash) and an older
// X command can give.
type hashAlgo struct {
	name  string // HASH name, as in FEAT and OPTS HASH
	xcmd  string // the X command
	label string // in results: "sha256:<hex>"
}

// hashAlgos in order of preference.
var hashAlgos = [...]hashAlgo{
	{"SHA-256", "XSHA256", "sha256"},
	{"SHA-512", "XSHA512", "sha512"},
	{"SHA-1", "XSHA1", "sha1"},
	{"MD5", "XMD5", "md5"},
	{"CRC32", "XCRC", "crc32"},
}

// Ways of asking a server for a digest.
const (
	hashNone = iota
	hashHASH
	hashX
)

// hashSupport says how a server advertising feats computes a. HASH's FEAT
// line is "HASH SHA-256*;SHA-1;MD5" (ftpserverlib leaves out the "HASH "
// prefix; both are accepted).
func hashSupport(feats []string, a hashAlgo) int {
	x := hashNone
	for _, f := range feats {
		if strings.EqualFold(f, a.xcmd) {
			x = hashX
		}
		list := f
		if len(f) > 5 && strings.EqualFold(f[:5], "HASH ") {
			list = f[5:]
		} else if !strings.Contains(f, ";") {
			continue
		}
		for _, name := range strings.Split(list, ";") {
			if strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(name), "*"), a.name) {
				return hashHASH
			}
		}
	}
	return x
}

// VerifyError is a copy whose two ends differ.
type VerifyError struct {
	Src, Dst       Endpoint
	Method         string // sha256, ..., or size
	SrcSum, DstSum string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify %s -> %s: %s differs: source %s, destination %s", e.Src, e.Dst, e.Method, e.SrcSum, e.DstSum)
}

// verify compares the two ends of j by the best digest both servers
// advertise, else by SIZE. It returns "sha256:<hex>" or "size:<n>".
func (w *worker) verify(ctx context.Context, j job) (string, error) {
	sf, df := w.src.features(), w.dst.features()
	for _, a := range hashAlgos {
		hs, hd := hashSupport(sf, a), hashSupport(df, a)
		if hs == hashNone || hd == hashNone {
			continue
		}
		var (
			wg         sync.WaitGroup
			sSum, dSum string
			sErr, dErr error
		)
		wg.Add(2)
		go func() { defer wg.Done(); sSum, sErr = digest(ctx, w.src, a, hs, j.src.Path) }()
		go func() { defer wg.Done(); dSum, dErr = digest(ctx, w.dst, a, hd, j.dst.Path) }()
		wg.Wait()
		if sErr != nil {
			return "", fmt.Errorf("verify: %w", sErr)
		}
		if dErr != nil {
			return "", fmt.Errorf("verify: %w", dErr)
		}
		if sSum != dSum {
			return "", &VerifyError{Src: j.src, Dst: j.dst, Method: a.label, SrcSum: sSum, DstSum: dSum}
		}
		return a.label + ":" + sSum, nil
	}
	sn, sok, err := w.src.size(j.src.Path)
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	dn, dok, err := w.dst.size(j.dst.Path)
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	if !sok || !dok || sn != dn {
		return "", &VerifyError{Src: j.src, Dst: j.dst, Method: "size", SrcSum: sizeOrMissing(sn, sok), DstSum: sizeOrMissing(dn, dok)}
	}
	return fmt.Sprintf("size:%d", sn), nil
}

func sizeOrMissing(n int64, ok bool) string {
	if !ok {
		return "missing"
	}
	return fmt.Sprintf("%d bytes", n)
}

// digest asks s for the digest of p. It waits as long as the server
// computes (large files), until ctx ends.
func digest(ctx context.Context, s *server, a hashAlgo, how int, p string) (string, error) {
	// Absolute paths: ftpserverlib checks a HASH argument with a Stat of
	// the raw argument, which a relative path fails on some storage.
	p, err := s.abs(p)
	if err != nil {
		return "", err
	}
	arg := p
	if strings.ContainsAny(p, " \t\"") {
		arg = `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
	}
	line := a.xcmd + " " + arg
	if how == hashHASH {
		if _, err := s.c.Expect(200, "OPTS HASH %s", a.name); err != nil {
			return "", fmt.Errorf("%s: %w", s, err)
		}
		line = "HASH " + arg
	}
	code, msg, err := s.wait(ctx, line)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", s, line, err)
	}
	if code < 200 || code > 299 {
		return "", fmt.Errorf("%s: %s: server replied %d %s", s, line, code, oneLine(msg))
	}
	// The digest is on the last line: "SHA-256 0-123 <hex> path" for
	// HASH, "<hex>" (possibly after other words) for the X commands.
	last := msg[strings.LastIndexByte(msg, '\n')+1:]
	f := strings.Fields(last)
	cand := ""
	if how == hashHASH && len(f) >= 3 {
		cand = f[2]
	} else if len(f) > 0 {
		cand = f[len(f)-1]
	}
	if !isHex(cand) {
		return "", fmt.Errorf("%s: %s: no digest in reply %d %s", s, line, code, oneLine(msg))
	}
	return strings.ToLower(cand), nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
