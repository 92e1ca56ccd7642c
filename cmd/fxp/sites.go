package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ftpd/ftpd/fxp"
)

const sitesUsage = `usage: fxp sites [--sites FILE]             list the sites (never their passwords)
       fxp sites [flags] check NAME          log in to NAME, report its greeting, FEAT and FXP readiness
`

func runSites(ctx context.Context, args []string, e env) int {
	var f copyFlags
	pos, code, done := parseCommand(newCopyFlags(e.stderr, &f), sitesUsage, args, e)
	if done {
		return code
	}
	r := &resolver{e: e, sitesFlag: f.sites, netrcFlag: f.netrc}
	sites, err := r.loadSites()
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites: %v\n", err)
		return exitUsage
	}
	switch {
	case len(pos) == 0:
		return listSites(sites, f.jsonOut, e)
	case len(pos) == 2 && pos[0] == "check":
		return checkSite(ctx, r, pos[1], &f, e)
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

func checkSite(ctx context.Context, r *resolver, name string, f *copyFlags, e env) int {
	if _, ok := r.sites.Get(name); !ok {
		fmt.Fprintf(e.stderr, "fxp sites check: no site %q in %s\n", name, r.sites.Path)
		return exitUsage
	}
	ep, err := r.endpoint(name+":", "", "")
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check: %v\n", err)
		return exitUsage
	}
	opts, err := options(f, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check: %v\n", err)
		return exitUsage
	}
	rep, err := fxp.New(opts).CheckSite(ctx, ep)
	if err != nil {
		fmt.Fprintf(e.stderr, "fxp sites check %s: %v\n", name, err)
		return exitFail
	}
	if f.jsonOut {
		_ = json.NewEncoder(e.stdout).Encode(rep)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "site     %s (%s)\n", name, ep)
	fmt.Fprintf(e.stdout, "greeting %s\n", rep.Greeting)
	var feats []string
	for k, v := range rep.Features {
		mark := "-"
		if v {
			mark = "+"
		}
		feats = append(feats, mark+k)
	}
	sort.Strings(feats)
	fmt.Fprintf(e.stdout, "features %s\n", strings.Join(feats, " "))
	fmt.Fprintf(e.stdout, "fxp      as PORT side: %s\n", rep.FXP["port_side"])
	fmt.Fprintf(e.stdout, "fxp      as PASV side: %s\n", rep.FXP["passive_side"])
	return exitOK
}
