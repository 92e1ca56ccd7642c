package server

import "strings"

// libraryVerbs are the commands ftpserverlib v0.32.3 knows (its
// commandsMap), plus the ones controlconn answers below it (AUTH).
var libraryVerbs = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Fields(`USER PASS ACCT ADAT AUTH PROT PBSZ CCC CONF ENC MIC
		CLNT FEAT SYST NOOP OPTS QUIT AVBL ABOR CSID HELP HOST LANG XRSQ XSEM XSEN
		SIZE DSIZ STAT MDTM MFMT MFF MFCT RETR STOR STOU STRU APPE DELE RNFR RNTO ALLO
		REST SITE HASH XCRC MD5 XMD5 XSHA XSHA1 XSHA256 XSHA512 COMB THMB XRCP
		CWD PWD XCWD XPWD CDUP NLST LIST MLSD MLST MKD RMD RMDA XMKD XRMD SMNT XCUP
		TYPE MODE PASV EPSV LPSV SPSV PORT LRPT EPRT REIN`) {
		m[v] = true
	}
	return m
}()

// mlstFactNames are the facts the library's MLSD/MLST output carries.
var mlstFactNames = []string{"type", "size", "modify"}

// mlstFacts answers OPTS MLST (RFC 3659 7.9): the requested facts that are
// offered, in the "fact;fact;" form. The library always sends its full set;
// clients only need the acknowledgement.
func mlstFacts(requested string) string {
	var out strings.Builder
	for _, f := range strings.Split(requested, ";") {
		f = strings.ToLower(strings.TrimSpace(f))
		for _, known := range mlstFactNames {
			if f == known {
				out.WriteString(known + ";")
			}
		}
	}
	return out.String()
}

// isHashFeature recognises the library's FEAT line of hash algorithms:
// a space, then names separated and ended by ";", one marked "*".
func isHashFeature(line string) bool {
	if !strings.HasPrefix(line, " ") || !strings.HasSuffix(line, ";") || !strings.Contains(line, "*;") {
		return false
	}
	for _, name := range strings.Split(strings.TrimSuffix(line[1:], ";"), ";") {
		switch strings.TrimSuffix(name, "*") {
		case "CRC32", "MD5", "SHA-1", "SHA-256", "SHA-512":
		default:
			return false
		}
	}
	return true
}
