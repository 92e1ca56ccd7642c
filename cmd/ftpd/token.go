package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/token"
)

const tokenUsage = `usage: ftpd token -config ftpd.toml -user NAME -path /file (or /dir/) -fxp send|receive|both -ttl 1h [-uses 1] [-client CIDR] [-host HOST:PORT]

Prints a one-time FXP link: an ftp:// URL that logs in as NAME, narrowed to
the path (a trailing "/" allows the subtree) and the direction, from
-client only if given, at most -uses times and until -ttl passes. The
server checks it with the key in [tokens] key_file (created if missing;
keep it outside every user's root, readable by the account the server
runs as). After replacing key_file's contents, send the server SIGHUP so
that it accepts tokens of the new key ([tokens] previous_key says
whether the old key's tokens keep working).

`

// runToken mints a token from the config's key.
func runToken(args []string, now time.Time, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftpd token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (TOML) with [tokens] key_file")
	user := fs.String("user", "", "the user the token logs in as")
	p := fs.String("path", "", "the file, or with a trailing / the directory tree, the token allows")
	dir := fs.String("fxp", "", "direction: send (RETR), receive (STOR/APPE) or both")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	uses := fs.Int("uses", 1, "how many logins")
	client := fs.String("client", "", "CIDR the login must come from (default any)")
	host := fs.String("host", "", "HOST:PORT in the printed URL (default the config's public_host or listen address)")
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ftpd token: "+format+"\n", a...)
		return exitConfig
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *configPath == "" || *user == "" || *p == "" || *dir == "" {
		return fail("-config, -user, -path and -fxp are required")
	}
	if *ttl <= 0 {
		return fail("-ttl %s: want a positive duration", *ttl)
	}
	cfg, err := conf.Load(*configPath)
	if err != nil {
		return fail("%v", err)
	}
	if cfg.Tokens.KeyFile == "" {
		return fail("%s: [tokens] key_file is not set: token logins are off", *configPath)
	}
	var u *conf.User
	for i := range cfg.Users {
		if cfg.Users[i].Name == *user {
			u = &cfg.Users[i]
		}
	}
	if u == nil || u.Anonymous() {
		return fail("no user %q (anonymous cannot have tokens)", *user)
	}
	c := token.Claims{User: u.Name, Uses: *uses, Client: *client, ID: token.NewID(), Expires: now.Add(*ttl).Unix()}
	if c.Path, err = token.CleanPath(*p); err != nil {
		return fail("%v", err)
	}
	if c.Dir, err = token.ParseDir(*dir); err != nil {
		return fail("%v", err)
	}
	if u.ReadOnly && c.Dir&token.Receive != 0 {
		return fail("%s is read-only: a token cannot receive", u.Name)
	}
	key, err := token.LoadKey(cfg.Tokens.KeyFile, true)
	if err != nil {
		return fail("%v", err)
	}
	login, secret, err := token.Mint(key, c)
	if err != nil {
		return fail("%v", err)
	}
	addr := *host
	if addr == "" {
		ip := cfg.Server.Listen.Addr()
		if cfg.Server.PublicHost.IsValid() {
			ip = cfg.Server.PublicHost
		}
		addr = netip.AddrPortFrom(ip, cfg.Server.Listen.Port()).String()
	}
	fmt.Fprintf(stdout, "ftp://%s:%s@%s%s\n", login, secret, addr, c.Path)
	fmt.Fprintf(stderr, "ftpd token: %s for %s %s, %d use(s), expires %s\n", c.ID, c.Dir, c.Path, c.Uses,
		time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	return exitOK
}
