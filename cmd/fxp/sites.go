package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/ftpd/ftpd/ftpclient"
	"github.com/ftpd/ftpd/fxp"
)

const sitesUsage = `usage: fxp sites [--sites FILE]             list the sites (never their passwords)
       fxp sites [flags] check NAME          log in to NAME, report its greeting, FEAT and FXP readiness
                                             (--peer SITE|IP: may NAME send PORT to that peer?)
`

func runSites(ctx context.Context, args []string, e env) int {
	var f copyFlags
	var peer string
	fs := newCopyFlags(e.stderr, &f)
	fs.StringVar(&peer, "peer", "", "check: the other side of the planned FXP (a site name or an IP); default the server's own address")
	pos, code, done := parseCommand(fs, sitesUsage, args, e)
	if done {
		return code
	}
	r := &resolver{e: e, sitesFlag: f.sites, netrcFlag: f.netrc}
	sites, err := r.loadSites()
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites: %v\n", printable(err))
		return exitUsage
	}
	switch {
	case len(pos) == 0:
		return listSites(sites, f.jsonOut, e)
	case len(pos) == 2 && pos[0] == "check":
		return checkSite(ctx, r, pos[1], peer, &f, e)
	}
	fmt.Fprint(e.stderr, sitesUsage)
	return exitUsage
}

type siteJSON struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	TLS      string `json:"tls"`
	Password string `json:"password_from"`
}

func listSites(sites *fxp.Sites, jsonOut bool, e env) int {
	if len(sites.Names()) == 0 {
		fmt.Fprintf(e.stderr, "fxp sites: no sites in %s\n", sites.Path)
	}
	for _, name := range sites.Names() {
		st, _ := sites.Get(name)
		scheme := "ftp"
		if st.TLS != "off" {
			scheme = "ftps"
		}
		user := st.User
		if user == "" {
			user = "anonymous"
		}
		url := fmt.Sprintf("%s://%s@%s:%d", scheme, user, st.Host, st.Port)
		if jsonOut {
			_ = json.NewEncoder(e.stdout).Encode(siteJSON{Name: name, URL: url, TLS: st.TLS, Password: st.PasswordSource()})
			continue
		}
		fmt.Fprintf(e.stdout, "%-16s %-40s tls=%-8s password: %s\n", name, url, st.TLS, st.PasswordSource())
	}
	return exitOK
}

// peerAddr reads --peer: an IP, or a site whose host is an IP or resolves.
func peerAddr(ctx context.Context, r *resolver, peer string) (netip.Addr, error) {
	if peer == "" {
		return netip.Addr{}, nil
	}
	host := peer
	if st, ok := r.sites.Get(peer); ok {
		host = st.Host
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("--peer %q: not a site, an IP or a resolvable host: %v", peer, err)
	}
	return addrs[0].Unmap(), nil
}

func checkSite(ctx context.Context, r *resolver, name, peer string, f *copyFlags, e env) int {
	if _, ok := r.sites.Get(name); !ok {
		fmt.Fprintf(e.stderr, "fxp sites check: no site %q in %s\n", name, r.sites.Path)
		return exitUsage
	}
	ep, err := r.endpoint(name+":", "", "")
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check: %v\n", printable(err))
		return exitUsage
	}
	opts, err := options(f, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check: %v\n", printable(err))
		return exitUsage
	}
	pa, err := peerAddr(ctx, r, peer)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check: %v\n", printable(err))
		return exitUsage
	}
	rep, err := fxp.New(opts).CheckSite(ctx, ep, pa)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check %s: %v\n", name, printable(err))
		return exitFail
	}
	if f.jsonOut {
		_ = json.NewEncoder(e.stdout).Encode(rep)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "site     %s (%s)\n", name, ep)
	fmt.Fprintf(e.stdout, "greeting %s\n", ftpclient.Printable(rep.Greeting))
	var feats []string
	for k, v := range rep.Features {
		mark := "-"
		if v {
			mark = "+"
		}
		feats = append(feats, mark+k)
	}
	sort.Strings(feats)
	fmt.Fprintf(e.stdout, "features %s\n", ftpclient.Printable(strings.Join(feats, " ")))
	fmt.Fprintf(e.stdout, "fxp      as PORT side: %s\n", rep.FXP["port_side"])
	fmt.Fprintf(e.stdout, "fxp      as PASV side: %s\n", rep.FXP["passive_side"])
	return exitOK
}
