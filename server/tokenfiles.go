package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage"
	"github.com/ftpd/ftpd/storage/osstore"
	"github.com/ftpd/ftpd/token"
)

// Where the token key may live, and who must be able to read it. A key in
// a user's root can be downloaded by that user and used to forge tokens
// for every user; a key the serving account cannot read makes every
// SITE TOKEN and token login fail. Both are refused by -check-config, at
// start and (the location) at a reload.

// checkTokenFiles checks [tokens] key_file and its spent file, as the
// account ftpd serves as (after any privilege drop): outside every user's
// root, the key readable (and 0600), the spent file writable. With create
// (a start) a missing key and spent file are created; without
// (-check-config) their directory must let them be created.
func checkTokenFiles(cfg *conf.Config, reg *storage.Registry, create bool) error {
	keyFile := cfg.Tokens.KeyFile
	if keyFile == "" {
		return nil
	}
	if err := tokenFilesOutsideRoots(cfg, reg); err != nil {
		return err
	}
	who := "the account ftpd serves as"
	if !cfg.Server.RunAs.IsZero() {
		who += " (server.run_as)"
	}
	fail := func(file string, err error) error {
		return fmt.Errorf("%s: tokens.key_file: %s is not usable by %s, uid %d gid %d: %w",
			cfg.Source, file, who, os.Geteuid(), os.Getegid(), err)
	}
	if _, err := os.Lstat(keyFile); create || err == nil {
		if _, err := token.LoadKey(keyFile, create); err != nil {
			return fail(keyFile, err)
		}
	} else if err := osstore.Creatable(keyFile); err != nil {
		return fail(keyFile, err)
	}
	spent := token.SpentPath(keyFile)
	f, err := os.OpenFile(spent, os.O_RDWR|os.O_APPEND, 0)
	if err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(spent, err)
	}
	// Compacting writes spent+".tmp" beside it and renames it over: the
	// directory must be writable whether the spent file exists or not.
	if err := osstore.Creatable(spent + ".tmp"); err != nil {
		return fail(spent, err)
	}
	return nil
}

// tokenFilesOutsideRoots refuses a key file or spent file that lies in the
// local directory of a user's files (storage.Backend.LocalDir: an os
// root): where its directory entry is, or where it leads when it is a
// symbolic link, compared with the root with its links resolved.
func tokenFilesOutsideRoots(cfg *conf.Config, reg *storage.Registry) error {
	keyFile := cfg.Tokens.KeyFile
	var places []string
	for _, f := range []string{keyFile, token.SpentPath(keyFile)} {
		places = append(places, resolvePath(filepath.Join(resolvePath(filepath.Dir(f)), filepath.Base(f))))
		places = append(places, filepath.Join(resolvePath(filepath.Dir(f)), filepath.Base(f)))
	}
	var errs []error
	for i := range cfg.Users {
		u := &cfg.Users[i]
		dir := reg.LocalDir(u)
		if dir == "" {
			continue
		}
		root := resolvePath(dir)
		for _, p := range places {
			if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) || root == string(filepath.Separator) {
				errs = append(errs, fmt.Errorf("%s: tokens.key_file: %s lies inside the root of user %q (%s, as %s): that user could download it and forge tokens for every user; keep the key and its .spent file outside every root",
					cfg.Source, keyFile, u.Name, u.Root, p))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// resolvePath returns p absolute with every symbolic link resolved, also
// for a path that does not exist (yet): the existing part is resolved and
// the rest appended. A link that leads nowhere is followed as far as it
// names.
func resolvePath(p string) string {
	return resolveDepth(p, 0)
}

func resolveDepth(p string, depth int) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if depth < 40 {
		if target, err := os.Readlink(abs); err == nil { // a dangling link
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(abs), target)
			}
			return resolveDepth(target, depth+1)
		}
	}
	dir := filepath.Dir(abs)
	if dir == abs {
		return abs
	}
	return filepath.Join(resolveDepth(dir, depth+1), filepath.Base(abs))
}
