package conf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func pfx(s string) Prefix { return Prefix{netip.MustParsePrefix(s)} }

// lineOf returns the line of the n-th (0-based) line of doc that starts
// with prefix.
func lineOf(t *testing.T, doc, prefix string, n int) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, prefix) {
			if n == 0 {
				return i + 1
			}
			n--
		}
	}
	t.Fatalf("no line starting with %q", prefix)
	return 0
}

func TestLoadFull(t *testing.T) {
	const path = "testdata/full.toml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Server: Server{
			Listen:                 netip.MustParseAddrPort("127.0.0.2:2121"),
			PublicHost:             netip.MustParseAddr("203.0.113.7"),
			PassivePorts:           PortRange{40000, 40100},
			IdleTimeout:            Duration{90 * time.Second},
			DataTimeout:            Duration{45 * time.Second},
			PassiveListenerTimeout: Duration{10 * time.Second},
			Banner:                 "welcome to ftpd",
			FsyncUploads:           true,
			DataSocketBuffer:       16 << 20,
			TLS: TLS{
				Mode:     TLSExplicit,
				CertFile: "/etc/ftpd/cert.pem",
				KeyFile:  "/etc/ftpd/key.pem",
				Required: true,
				// RequireDataSessionReuse false, as the file says.
			},
			LoginTimeout:   Duration{10 * time.Second},
			RunAs:          RunAs{User: "ftp", Group: "nogroup"},
			Umask:          0o027,
			AllowSiteChown: true,
			ActivePort20:   true,
		},
		FXP: FXP{
			Enabled:        true,
			Peers:          []Prefix{pfx("127.0.0.3/32"), pfx("10.0.0.0/8")},
			AllowAnonymous: true,
			Clients:        []Prefix{pfx("192.0.2.0/24"), pfx("fd00::/8")},
			PeerCA:         "/etc/ftpd/peers.pem",
			PeerFingerprints: []Fingerprint{{0xab, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xef, 0xab, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xef,
				0xab, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xef, 0xab, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xef}},
		},
		Limits: Limits{
			MaxConnections:      100,
			MaxConnectionsPerIP: 10,
			MaxLoginFailures:    3,
			BanDuration:         Duration{time.Hour},
			DownloadRate:        100 << 20,
			UploadRate:          512 << 10,
			BanIPv6Prefix:       56,
			MaxPassivePerIP:     7,
		},
		Log:     Log{Format: LogJSON, Level: LevelDebug},
		Metrics: Metrics{Listen: netip.MustParseAddrPort("127.0.0.1:9121")},
		Tokens:  Tokens{KeyFile: "/etc/ftpd/token.key", PreviousKey: PreviousDrop, MintBurst: 3, MintInterval: Duration{time.Minute}},
		S3:      S3{Region: "us-east-1", PartSize: 16 << 20, UploadMemory: 512 << 20},
		Users: []User{
			{
				Name:         "alice",
				PasswordHash: "$2a$10$gqWVCc3jj/Iach3Ke6AHPufhCyO1d.rJ6FJovxyBGgqghNoTrlGs6",
				Root:         "/srv/ftp/alice",
				Backend:      BackendOS,
				AllowedIPs:   []Prefix{pfx("127.0.0.0/8")},
				FXP:          FXPSend,
				FXPPeers:     []Prefix{pfx("127.0.0.3/32")},
				DownloadRate: 1500000,
				UploadRate:   1 << 20,
				MaxSessions:  4,
				Line:         lineOf(t, doc, "[[users]]", 0),
			},
			{
				Name:     "bob",
				Password: "bob-secret",
				Root:     "/srv/ftp/bob",
				Backend:  BackendMemory,
				FXP:      FXPBoth,
				Line:     lineOf(t, doc, "[[users]]", 1),
			},
			{
				Name:     "anonymous",
				Root:     "/srv/ftp/pub",
				ReadOnly: true,
				FXP:      FXPNone,
				Line:     lineOf(t, doc, "[[users]]", 2),
			},
		},
		Source: path,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%s) =\n%+v\nwant\n%+v", path, got, want)
	}
	if names := got.PlainPasswordUsers(); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("PlainPasswordUsers() = %q, want [bob]", names)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() on a parsed config: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	const doc = `[server]
listen = "127.0.0.1:2121"

[[users]]
name = "ftp"
root = "/srv/pub"
`
	got, err := Parse("min.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.Source = "min.toml"
	want.Server.Listen = netip.MustParseAddrPort("127.0.0.1:2121")
	want.Users = []User{{Name: "ftp", Root: "/srv/pub", ReadOnly: true, FXP: FXPNone, Line: 4}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *got, want)
	}
	if want.Server.IdleTimeout.Duration != 5*time.Minute || want.Server.Banner != "ftpd ready" ||
		want.Limits != (Limits{200, 20, 5, Duration{15 * time.Minute}, 0, 0, 64, DefaultMaxPassivePerIP}) ||
		want.Server.DataTimeout.Duration != 2*time.Minute || want.Server.PassiveListenerTimeout.Duration != 30*time.Second ||
		want.Server.LoginTimeout.Duration != 30*time.Second || want.Server.Umask != 0o022 || !want.Server.RunAs.IsZero() ||
		want.Log != (Log{LogText, LevelInfo}) || want.Server.TLS.Mode != TLSOff {
		t.Errorf("defaults() = %+v", want)
	}
}

func TestParseInlineUsers(t *testing.T) {
	const doc = `server = { listen = "[::1]:2121" }
users = [
  { name = "alice", password = "x", root = "/a" },
  { name = "bob", password = "y", root = "/b", fxp = "receive" },
]
`
	got, err := Parse("inline.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got.Users[0].Line != 3 || got.Users[1].Line != 4 || got.Users[1].FXP != FXPReceive || got.Users[0].FXP != FXPBoth {
		t.Errorf("users = %+v", got.Users)
	}
	_, err = Parse("inline.toml", []byte(strings.Replace(doc, `"receive"`, `"recv"`, 1)))
	const want = `inline.toml:4: users[1].fxp: unknown value "recv" (want none, send, receive or both)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// base is a valid file; cases add lines after it (from line 8 on).
const base = `[server]
listen = "127.0.0.1:2121"

[[users]]
name = "alice"
password = "secret"
root = "/srv/alice"
`

func TestParseErrors(t *testing.T) {
	const bob = "\n[[users]]\nname = \"bob\"\npassword = \"x\"\nroot = \"/srv/bob\"\n" // lines 8-12
	tests := []struct {
		name string
		doc  string
		want string // the whole message; several problems one per line
	}{
		{"unknown top-level key", "verbose = true\n" + base,
			`t.toml:1: verbose: unknown key`},
		{"unknown table", base + "[limit]\nmax_connections = 5\n",
			`t.toml:8: limit: unknown key (did you mean "limits"?)`},
		{"unknown user key", base + "pasword = \"x\"\n",
			`t.toml:8: users[0].pasword: unknown key (did you mean "password"?)`},
		{"user key in wrong case", base + "Backend = \"os\"\n",
			`t.toml:8: users[0].Backend: unknown key (did you mean "backend"?)`},
		{"unknown keys everywhere", "[server]\nlisten = \"127.0.0.1:21\"\nport = 21\n[[users]]\nname = \"a\"\npassword = \"x\"\nroot = \"/\"\nhome = \"/\"\n[[users]]\nname = \"b\"\npassword = \"x\"\nroot = \"/\"\nshell = \"sh\"\n",
			"t.toml:3: server.port: unknown key\nt.toml:8: users[0].home: unknown key\nt.toml:13: users[1].shell: unknown key"},
		{"bad CIDR", base + "allowed_ips = [\"127.0.0.0/8\", \"10.0.0.0/33\"]\n",
			`t.toml:8: users[0].allowed_ips[1]: invalid CIDR "10.0.0.0/33" (want e.g. "10.0.0.0/8" or "fd00::/8")`},
		{"masked CIDR in multi-line array", base + "\n[fxp]\npeers = [\n  \"127.0.0.3\",\n  \"10.1.2.3/8\",\n]\n",
			`t.toml:12: fxp.peers[1]: CIDR "10.1.2.3/8" has host bits set; use "10.0.0.0/8"`},
		{"bad address", base + "fxp_peers = [\"localhost\"]\n",
			`t.toml:8: users[0].fxp_peers[0]: invalid address "localhost" (want a CIDR like "10.0.0.0/8" or an IP like "127.0.0.2")`},
		{"bad fxp in second user", base + bob + "fxp = \"sned\"\n",
			`t.toml:13: users[1].fxp: unknown value "sned" (want none, send, receive or both)`},
		{"bad backend", base + "backend = \"disk\"\n",
			`t.toml:8: users[0].backend: unknown value "disk" (want os, memory or s3)`},
		{"s3 prefix reaching .ftpd", base + "\n[[users]]\nname = \"c\"\npassword = \"x\"\nbackend = \"s3\"\nroot = \".ftpd/spent/\"\n[s3]\nbucket = \"ftp\"\n",
			`t.toml:13: users[1].root: ".ftpd/spent/": must not reach .ftpd/, ftpd's own area in the bucket`},
		{"s3 prefix with ..", base + "\n[[users]]\nname = \"c\"\npassword = \"x\"\nbackend = \"s3\"\nroot = \"a/../b/\"\n[s3]\nbucket = \"ftp\"\n",
			`t.toml:13: users[1].root: "a/../b/": must not contain empty, "." or ".." components`},
		{"s3 without bucket", base + "\n[[users]]\nname = \"c\"\npassword = \"x\"\nbackend = \"s3\"\nroot = \"c/\"\n",
			`t.toml:12: users[1].backend: backend = "s3" needs [s3] bucket`},
		{"s3 part too small", base + "\n[s3]\npart_size = \"1MiB\"\n",
			"t.toml:10: s3.part_size: must be between 5MiB and 5GiB (S3's part limits), got 1048576"},
		{"s3 client share above upload_memory", base + "\n[s3]\nupload_memory = \"32MiB\"\nupload_memory_per_client = \"64MiB\"\n",
			"t.toml:11: s3.upload_memory_per_client: must be between part_size (16777216) and upload_memory (33554432), got 67108864"},
		{"bad tls mode", base + "\n[server.tls]\nmode = \"starttls\"\n",
			`t.toml:10: server.tls.mode: unknown value "starttls" (want off, explicit or implicit)`},
		{"zero login_timeout", "[server]\nlogin_timeout = \"0s\"\nlisten = \"127.0.0.1:2121\"\n[[users]]\nname = \"a\"\npassword = \"x\"\nroot = \"/\"\n",
			`t.toml:2: server.login_timeout: must be above 0 (there is no "never")`},
		{"bad run_as", "[server]\nlisten = \"127.0.0.1:2121\"\nrun_as = \"ftp:\"\n[[users]]\nname = \"a\"\npassword = \"x\"\nroot = \"/\"\n",
			`t.toml:3: server.run_as: invalid run_as "ftp:" (want "user" or "user:group")`},
		{"bad umask", "[server]\nlisten = \"127.0.0.1:2121\"\numask = \"0999\"\n[[users]]\nname = \"a\"\npassword = \"x\"\nroot = \"/\"\n",
			`t.toml:3: server.umask: invalid umask "0999" (want octal 000-777 like "022")`},
		{"bad previous_key", base + "[tokens]\nprevious_key = \"keep\"\n",
			`t.toml:9: tokens.previous_key: unknown value "keep" (want accept or drop)`},
		{"zero mint_burst", base + "[tokens]\nmint_burst = 0\n",
			`t.toml:9: tokens.mint_burst: must be 1 or more, got 0`},
		{"zero mint_interval", base + "[tokens]\nmint_interval = \"0s\"\n",
			`t.toml:9: tokens.mint_interval: must be above 0`},
		{"bad ban_ipv6_prefix", base + "[limits]\nban_ipv6_prefix = 129\n",
			`t.toml:9: limits.ban_ipv6_prefix: must be 1-128 (64 bans the /64 a host usually owns), got 129`},
		{"bad log level", base + "[log]\nlevel = \"verbose\"\n",
			`t.toml:9: log.level: unknown value "verbose" (want debug, info, warn or error)`},
		{"bad log format", base + "[log]\nformat = \"JSON\"\n",
			`t.toml:9: log.format: unknown value "JSON" (want text or json)`},
		{"bad size", base + "download_rate = \"10 MB/s\"\n",
			`t.toml:8: users[0].download_rate: invalid size "10 MB/s": unknown unit "MB/s" (` + sizeHint + `)`},
		{"negative size", base + "[limits]\nupload_rate = \"-1KiB\"\n",
			`t.toml:9: limits.upload_rate: negative size "-1KiB"`},
		{"data socket buffer too big", "[server]\nlisten = \"127.0.0.1:2121\"\ndata_socket_buffer = \"1GiB\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.data_socket_buffer: must be between 0 (kernel autotuning) and 256MiB, got 1073741824 bytes`},
		{"negative data socket buffer", "[server]\nlisten = \"127.0.0.1:2121\"\ndata_socket_buffer = \"-1KiB\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.data_socket_buffer: negative size "-1KiB"`},
		{"bad duration", base + "[limits]\nban_duration = \"15 minutes\"\n",
			`t.toml:9: limits.ban_duration: invalid duration "15 minutes" (want e.g. "90s", "5m" or "1h30m")`},
		{"zero idle timeout", "[server]\nlisten = \"127.0.0.1:2121\"\nidle_timeout = \"0s\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.idle_timeout: must be above 0 (there is no "never")`},
		{"proxy_protocol without trusted_proxies", "[server]\nlisten = \"127.0.0.2:2121\"\nproxy_protocol = true\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.proxy_protocol: needs trusted_proxies: the balancers' addresses (anything else is closed without a reply)`},
		{"proxy_protocol on a wildcard listen", "[server]\nlisten = \"0.0.0.0:2121\"\nproxy_protocol = true\ntrusted_proxies = [\"127.0.0.4\"]\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:2: server.listen: must name this instance's address with proxy_protocol = true (active data connections leave from it), got 0.0.0.0`},
		{"trusted_proxies without proxy_protocol", "[server]\nlisten = \"127.0.0.2:2121\"\ntrusted_proxies = [\"127.0.0.4\"]\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.trusted_proxies: only applies with proxy_protocol = true`},
		{"bad trusted proxy", "[server]\nlisten = \"127.0.0.2:2121\"\nproxy_protocol = true\ntrusted_proxies = [\"haproxy\"]\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:4: server.trusted_proxies[0]: invalid address "haproxy" (want a CIDR like "10.0.0.0/8" or an IP like "127.0.0.2")`},
		{"bad spent_store", base + "[tokens]\nspent_store = \"redis\"\n",
			`t.toml:9: tokens.spent_store: unknown value "redis" (want file or s3)`},
		{"spent_store s3 without [s3]", base + "[tokens]\nkey_file = \"/k\"\nspent_store = \"s3\"\n",
			`t.toml:10: tokens.spent_store: "s3" needs an [s3] section (the bucket every instance shares)`},
		{"bad port range", "[server]\nlisten = \"127.0.0.1:2121\"\npassive_ports = \"40100-40000\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.passive_ports: invalid port range "40100-40000": start 40100 is above end 40000`},
		{"port out of range", "[server]\nlisten = \"127.0.0.1:2121\"\npassive_ports = \"40000-70000\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.passive_ports: invalid port range "40000-70000": want ports 1-65535 like "40000-40100", got "70000"`},
		{"passive ports below 1024", "[server]\nlisten = \"127.0.0.1:2121\"\npassive_ports = \"1000-2000\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.passive_ports: "1000-2000": passive ports must not be below 1024`},
		{"listen is a host name", "[server]\nlisten = \"localhost:21\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:2: server.listen: want IP:port like "127.0.0.1:2121", got "localhost:21"`},
		{"listen missing", "[server]\nbanner = \"hi\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:1: server.listen: required: IP:port like "127.0.0.1:2121"`},
		{"public host IPv6", "[server]\nlisten = \"127.0.0.1:21\"\npublic_host = \"2001:db8::1\"\n" + base[strings.Index(base, "\n\n"):],
			`t.toml:3: server.public_host: must be an IPv4 address (PASV announces IPv4 only), got 2001:db8::1`},
		{"duplicate users", base + "\n[[users]]\nname = \"alice\"\npassword = \"x\"\nroot = \"/srv/alice2\"\n",
			`t.toml:10: users[1].name: duplicate user "alice" (first at line 5)`},
		{"user without password", strings.Replace(base, "password = \"secret\"\n", "", 1),
			`t.toml:4: users[0]: user "alice" needs password_hash (bcrypt) or password`},
		{"password and hash", base + "password_hash = \"$2a$10$gqWVCc3jj/Iach3Ke6AHPufhCyO1d.rJ6FJovxyBGgqghNoTrlGs6\"\n",
			`t.toml:6: users[0].password: set password_hash or password, not both`},
		{"bad hash", strings.Replace(base, "password = \"secret\"", "password_hash = \"$2a$10$short\"", 1),
			`t.toml:6: users[0].password_hash: want a bcrypt hash: 60 characters starting with $2a$, $2b$ or $2y$ (got 12 characters)`},
		{"bad hash cost", strings.Replace(base, "password = \"secret\"", "password_hash = \"$2b$99$gqWVCc3jj/Iach3Ke6AHPufhCyO1d.rJ6FJovxyBGgqghNoTrlGs6\"", 1),
			`t.toml:6: users[0].password_hash: want a bcrypt hash: 60 characters starting with $2a$, $2b$ or $2y$: crypto/bcrypt: cost 99 is outside allowed inclusive range 4..31`},
		{"empty root", strings.Replace(base, `root = "/srv/alice"`, `root = ""`, 1),
			`t.toml:7: users[0].root: required`},
		{"missing root", strings.Replace(base, "root = \"/srv/alice\"\n", "", 1),
			`t.toml:4: users[0].root: required`},
		{"name with space", strings.Replace(base, `"alice"`, `"al ice"`, 1),
			`t.toml:5: users[0].name: "al ice": no spaces or control characters allowed`},
		{"anonymous not read-only", base + "\n[[users]]\nname = \"anonymous\"\nroot = \"/pub\"\nread_only = false\n",
			`t.toml:12: users[1].read_only: anonymous logins are always read-only`},
		{"negative max_sessions", base + "max_sessions = -1\n",
			`t.toml:8: users[0].max_sessions: must not be negative (0 = no limit), got -1`},
		{"no users", "[server]\nlisten = \"127.0.0.1:2121\"\n",
			`t.toml:1: users: at least one [[users]] entry is required`},
		{"users as a table", "[server]\nlisten = \"127.0.0.1:2121\"\n[users]\nname = \"alice\"\n",
			`t.toml:3: users: want an array, got table`},
		{"wrong type", base + "[limits]\nmax_connections = \"200\"\n",
			`t.toml:9: limits.max_connections: want an integer, got string "200"`},
		{"wrong type for text", base + "[fxp]\npeers = \"10.0.0.0/8\"\n",
			`t.toml:9: fxp.peers: want an array, got string "10.0.0.0/8"`},
		{"explicit TLS without cert", base + "[server.tls]\nmode = \"explicit\"\n",
			"t.toml:8: server.tls.cert_file: required with mode = \"explicit\"\nt.toml:8: server.tls.key_file: required with mode = \"explicit\""},
		{"implicit TLS without key", base + "[server.tls]\nmode = \"implicit\"\ncert_file = \"c.pem\"\nkey_file = \"\"\n",
			`t.toml:11: server.tls.key_file: required with mode = "implicit"`},
		{"required without explicit", base + "[server.tls]\nrequired = true\n",
			`t.toml:9: server.tls.required: only applies to mode = "explicit" (mode is "off")`},
		{"negative limit", base + "[limits]\nmax_login_failures = -1\n",
			`t.toml:9: limits.max_login_failures: must not be negative (0 = no limit), got -1`},
		{"ban without duration", base + "[limits]\nban_duration = \"0s\"\n",
			`t.toml:9: limits.ban_duration: must be above 0 when max_login_failures is set (0 = no bans)`},
		{"per-IP above total", base + "[limits]\nmax_connections = 10\n",
			`t.toml:8: limits.max_connections_per_ip: 20 is above max_connections (10)`},
		{"metrics bad address", base + "[metrics]\nlisten = \":9121\"\n",
			`t.toml:9: metrics.listen: want IP:port like "127.0.0.1:2121", got ":9121"`},
		{"syntax error", "[server]\nlisten = \"127.0.0.1:2121\n" + base,
			`t.toml:2: server.listen: TOML syntax: strings cannot contain newlines`},
		{"duplicate key", base + "root = \"/again\"\n",
			`t.toml:8: users.root: TOML syntax: Key 'users.root' has already been defined.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("t.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
			checkErrors(t, err)
		})
	}
}

// checkErrors asserts that err is made of *Error values with a file and line.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) || ce.File == "" || ce.Line < 1 {
			t.Errorf("%v (%T) is not a *Error with file and line", e, e)
		}
	}
}

func TestParseSeveralErrors(t *testing.T) {
	const doc = `debug = true
[server]
listen = "localhost:21"
passive_ports = "80"
idle_timeout = "5 min"

[server.tls]
mode = "implicit"

[fxp]
peers = ["10.1.0.0/8", "192.0.2.1", "bogus"]

[[users]]
name = "alice"
password = "a"
root = "/a"
fxp = "sned"

[[users]]
name = "alice"
root = ""
colour = "blue"
`
	_, err := Parse("many.toml", []byte(doc))
	want := strings.Join([]string{
		`many.toml:1: debug: unknown key`,
		`many.toml:3: server.listen: want IP:port like "127.0.0.1:2121", got "localhost:21"`,
		`many.toml:4: server.passive_ports: "80": passive ports must not be below 1024`,
		`many.toml:5: server.idle_timeout: invalid duration "5 min" (want e.g. "90s", "5m" or "1h30m")`,
		`many.toml:7: server.tls.cert_file: required with mode = "implicit"`,
		`many.toml:7: server.tls.key_file: required with mode = "implicit"`,
		`many.toml:11: fxp.peers[0]: CIDR "10.1.0.0/8" has host bits set; use "10.0.0.0/8"`,
		`many.toml:11: fxp.peers[2]: invalid address "bogus" (want a CIDR like "10.0.0.0/8" or an IP like "127.0.0.2")`,
		`many.toml:17: users[0].fxp: unknown value "sned" (want none, send, receive or both)`,
		`many.toml:19: users[1]: user "alice" needs password_hash (bcrypt) or password`,
		`many.toml:20: users[1].name: duplicate user "alice" (first at line 14)`,
		`many.toml:21: users[1].root: required`,
		`many.toml:22: users[1].colour: unknown key`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	checkErrors(t, err)
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(%s) = %v, want a not-exist error naming the file", path, err)
	}
}

func TestValidateInCode(t *testing.T) {
	cfg := defaults()
	cfg.Source = "built-in"
	cfg.Server.Listen = netip.MustParseAddrPort("127.0.0.1:2121")
	cfg.Users = []User{
		{Name: "alice", Password: "x", Root: "/a", FXP: FXPBoth, Line: 7},
		{Name: "bob", Password: "y", Root: "/b", Line: 9},
	}
	cfg.Log.Level = 42
	err := cfg.Validate()
	const want = "built-in: log.level: invalid level 42 (want debug, info, warn or error)\n" +
		"built-in:9: users[1].fxp: not set or invalid (want none, send, receive or both)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
	cfg.Log.Level = LevelWarn
	cfg.Users[1].FXP = FXPNone
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"f.toml", 3, "server.listen", "bad"}, "f.toml:3: server.listen: bad"},
		{Error{"f.toml", 0, "server.listen", "bad"}, "f.toml: server.listen: bad"},
		{Error{"f.toml", 3, "", "bad"}, "f.toml:3: bad"},
		{Error{"", 0, "k", "bad"}, "k: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestPlainPasswordUsers(t *testing.T) {
	c := Config{Users: []User{
		{Name: "a", Password: "x"},
		{Name: "b", PasswordHash: "$2a$..."},
		{Name: "ftp", Password: "ignored"},
		{Name: "c", Password: "y"},
	}}
	if got := c.PlainPasswordUsers(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("PlainPasswordUsers() = %q", got)
	}
}

func TestParseIntegersAsText(t *testing.T) {
	doc := strings.Replace(base, "[server]\n", "[server]\npassive_ports = 40000\n", 1) + "download_rate = 1048576\n"
	cfg, err := Parse("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.PassivePorts != (PortRange{40000, 40000}) || cfg.Users[0].DownloadRate != 1<<20 {
		t.Errorf("passive_ports = %v, download_rate = %v", cfg.Server.PassivePorts, cfg.Users[0].DownloadRate)
	}
}

// Port 0 lets the kernel pick the listening port (tests, labs).
func TestParseListenPortZero(t *testing.T) {
	cfg, err := Parse("t.toml", []byte(strings.Replace(base, ":2121", ":0", 1)))
	if err != nil || cfg.Server.Listen != netip.MustParseAddrPort("127.0.0.1:0") {
		t.Fatalf("Parse = %+v, %v", cfg, err)
	}
}

// TestMaxPassivePerIPDefault: left out, max_passive_per_ip is half of
// passive_ports (at least 1), or DefaultMaxPassivePerIP without a range;
// set, it is kept (0 = no cap); negative is an error.
func TestMaxPassivePerIPDefault(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  int
	}{
		{`passive_ports = "40000-40100"`, 50},
		{`passive_ports = "40000-40015"`, 8},
		{`passive_ports = "40000-40000"`, 1},
		{``, DefaultMaxPassivePerIP},
		{"passive_ports = \"40000-40100\"\n[limits]\nmax_passive_per_ip = 0", 0},
	} {
		cfg, err := Parse("t.toml", []byte("[server]\nlisten = \"127.0.0.1:21\"\n"+c.extra+"\n"+oneUser))
		if err != nil {
			t.Fatalf("%q: %v", c.extra, err)
		}
		if got := cfg.Limits.MaxPassivePerIP; got != c.want {
			t.Errorf("%q: max_passive_per_ip = %d, want %d", c.extra, got, c.want)
		}
	}
	_, err := Parse("t.toml", []byte("[server]\nlisten = \"127.0.0.1:21\"\ndata_timeout = \"0s\"\n[limits]\nmax_passive_per_ip = -1\n"+oneUser))
	for _, want := range []string{"t.toml:5: limits.max_passive_per_ip: must not be negative", "t.toml:3: server.data_timeout: must be above 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

const oneUser = "\n[[users]]\nname = \"ftp\"\nroot = \"/srv/pub\"\n"

func TestParseProxyProtocol(t *testing.T) {
	doc := "[server]\nlisten = \"127.0.0.2:2121\"\nproxy_protocol = true\ntrusted_proxies = [\"127.0.0.4\", \"10.0.0.0/8\"]\n[tokens]\nspent_store = \"file\"\n" + base[strings.Index(base, "\n\n"):]
	cfg, err := Parse("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Server.ProxyProtocol || len(cfg.Server.TrustedProxies) != 2 || cfg.Server.TrustedProxies[0].String() != "127.0.0.4/32" {
		t.Fatalf("server = %+v", cfg.Server)
	}
	if cfg.Tokens.SpentStore != SpentFile {
		t.Fatalf("spent_store = %v", cfg.Tokens.SpentStore)
	}
}
