package main

import (
	"fmt"

	"github.com/ftpd/ftpd/fxp"
)

// resolver turns command-line arguments (ftp:// URLs or SITE:PATH) into
// endpoints with credentials. The sites file and the netrc file are read
// once, when first needed.
type resolver struct {
	e         env
	sitesFlag string
	netrcFlag string

	sites    *fxp.Sites
	netrc    *fxp.Netrc
	netrcErr error
	netrcOK  bool
}

// loadSites reads --sites, else the default sites file (which may be
// missing).
func (r *resolver) loadSites() (*fxp.Sites, error) {
	if r.sites != nil {
		return r.sites, nil
	}
	path, explicit := r.sitesFlag, r.sitesFlag != ""
	if !explicit {
		p, err := fxp.DefaultSitesPath(r.e.lookupEnv, r.e.home)
		if err != nil {
			return nil, err
		}
		path = p
	}
	s, err := fxp.LoadSites(path, !explicit)
	if err != nil {
		return nil, err
	}
	r.sites = s
	return s, nil
}

func (r *resolver) loadNetrc() (*fxp.Netrc, error) {
	if !r.netrcOK {
		r.netrc, r.netrcErr = loadNetrc(r.netrcFlag, r.e)
		r.netrcOK = true
	}
	return r.netrc, r.netrcErr
}

// endpoint resolves one argument. user and passEnv are --src-user and
// --src-pass-env (or the dst ones) for URLs.
func (r *resolver) endpoint(arg, user, passEnv string) (fxp.Endpoint, error) {
	if name, p, ok := fxp.SplitSiteArg(arg); ok {
		sites, err := r.loadSites()
		if err != nil {
			return fxp.Endpoint{}, err
		}
		site, found := sites.Get(name)
		if !found {
			return fxp.Endpoint{}, fmt.Errorf("%q: no site %q in %s (want ftp://host/path or SITE:PATH)", fxp.MaskURL(arg), name, sites.Path)
		}
		return site.Endpoint(p, fxp.SiteEnv{LookupEnv: r.e.lookupEnv, Netrc: r.loadNetrc})
	}
	ep, err := fxp.ParseURL(arg)
	if err != nil {
		return ep, err
	}
	var netrc *fxp.Netrc
	if !ep.PassFromURL && passEnv == "" {
		if netrc, err = r.loadNetrc(); err != nil {
			return ep, err
		}
	}
	err = fxp.ResolveLogin(&ep, fxp.LoginSource{User: user, PassEnv: passEnv, LookupEnv: r.e.lookupEnv, Netrc: netrc})
	return ep, err
}
