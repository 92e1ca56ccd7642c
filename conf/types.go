// Package conf turns ftpd's TOML configuration into a typed, validated
// Config. It does no I/O beyond reading the file it is given.
package conf

import (
	"net/netip"
	"time"
)

// Config is a whole, validated ftpd configuration.
type Config struct {
	Server  Server  `toml:"server"`
	FXP     FXP     `toml:"fxp"`
	Limits  Limits  `toml:"limits"`
	Log     Log     `toml:"log"`
	Metrics Metrics `toml:"metrics"`
	Tokens  Tokens  `toml:"tokens"`
	S3      S3      `toml:"s3"`
	Users   []User  `toml:"users"`

	// Source names where the config came from (a file path, or
	// "(embedded default)"); it is not a TOML key.
	Source string `toml:"-"`
}

// Tokens is the [tokens] table: one-time FXP links (ftpd token, SITE
// TOKEN).
type Tokens struct {
	// KeyFile holds the HMAC key tokens are signed with (created, mode
	// 0600, when missing); its spent list is KeyFile + ".spent". "" = token
	// logins off.
	KeyFile string `toml:"key_file"`
	// PreviousKey says what a reload that finds a new key in KeyFile does
	// with the key it replaces: accept (default: its tokens keep working
	// until they expire) or drop (they stop at once).
	PreviousKey PreviousKey `toml:"previous_key"`
	// MintBurst and MintInterval rate-limit SITE TOKEN per user: MintBurst
	// tokens at once, then one per MintInterval (default 10, then one
	// every 6s).
	MintBurst    int      `toml:"mint_burst"`
	MintInterval Duration `toml:"mint_interval"`
	// SpentStore is where spent uses are recorded: "file" (KeyFile +
	// ".spent", one instance) or "s3" (conditional creates in the [s3]
	// bucket, shared by every instance). Default file.
	SpentStore SpentStore `toml:"spent_store"`
}

// PreviousKey is [tokens] previous_key.
type PreviousKey int

// What a key rotation does with the previous key.
const (
	PreviousAccept PreviousKey = iota // its tokens verify until they expire
	PreviousDrop                      // its tokens stop at once
)

// S3 is the [s3] table: the bucket of every user with backend = "s3".
// Credentials come only from the AWS SDK's default chain (environment,
// shared files, web identity, instance roles), never from ftpd.toml.
type S3 struct {
	Endpoint  string `toml:"endpoint"`   // "" = AWS; "http://127.0.0.1:7070" for a self-hosted store
	Region    string `toml:"region"`     // default us-east-1
	Bucket    string `toml:"bucket"`     // required when a user has backend = "s3"
	PathStyle bool   `toml:"path_style"` // true for most self-hosted stores
	// PartSize is the multipart upload part size (S3 allows 10 000 parts
	// per object, so the largest upload is 10 000 × part_size). Default
	// 16MiB, at least 5MiB.
	PartSize Size `toml:"part_size"`
	// UploadMemory bounds all upload part buffers of the server
	// together; uploads wait for a buffer when it is spent. Default
	// 512MiB, at least one part.
	UploadMemory Size `toml:"upload_memory"`
	// UploadMemoryPerClient bounds what the uploads of one client block
	// (an IPv4 address or an IPv6 /ban_ipv6_prefix) hold of upload_memory
	// together, so slow senders from one address cannot stall everybody
	// else's uploads. Default (0) a quarter of upload_memory, at least one
	// part; set it to upload_memory for no per-client cap.
	UploadMemoryPerClient Size `toml:"upload_memory_per_client"`
}

// ClientShare is upload_memory_per_client with its default applied: the
// most one client block's uploads hold, at least one part.
func (s *S3) ClientShare() int64 {
	share := int64(s.UploadMemoryPerClient)
	if share == 0 {
		share = int64(s.UploadMemory) / 4
	}
	return max(share, int64(s.PartSize))
}

// SpentStore is file or s3.
type SpentStore int

// Spent stores.
const (
	SpentFile SpentStore = iota
	SpentS3
)

// MaxDataSocketBuffer is the largest [server] data_socket_buffer: the
// kernel doubles the value and keeps it in an int.
const MaxDataSocketBuffer = 256 << 20

// Server is the [server] table.
type Server struct {
	Listen       netip.AddrPort `toml:"listen"`        // required, IP:port
	PublicHost   netip.Addr     `toml:"public_host"`   // IPv4 announced in PASV; zero = listen IP
	PassivePorts PortRange      `toml:"passive_ports"` // zero = kernel-chosen
	IdleTimeout  Duration       `toml:"idle_timeout"`  // default 5m
	// DataTimeout closes a data connection that moves no byte for this
	// long (a client that sends nothing, or reads nothing); its transfer
	// fails with 426. Default 2m.
	DataTimeout Duration `toml:"data_timeout"`
	// PassiveListenerTimeout closes a data port (PASV, EPSV, or the port a
	// PORT holds) that no transfer has used this long after it was
	// announced. Default 30s.
	PassiveListenerTimeout Duration `toml:"passive_listener_timeout"`
	Banner                 string   `toml:"banner"`        // default "ftpd ready"
	FsyncUploads           bool     `toml:"fsync_uploads"` // flush each upload to disk before 226
	// DataSocketBuffer sets the send buffer of every download's data
	// connection (RETR, FXP source); 0 = the kernel's autotuning.
	DataSocketBuffer Size `toml:"data_socket_buffer"`
	TLS              TLS  `toml:"tls"`
	// LoginTimeout bounds the TLS handshake and the login, from accept.
	LoginTimeout Duration `toml:"login_timeout"` // default 30s
	RunAs        RunAs    `toml:"run_as"`        // "" = stay who started ftpd
	Umask        Umask    `toml:"umask"`         // default 022
	// AllowSiteChown offers SITE CHOWN (off: 502). Only an administrator
	// who writes the config can turn it on.
	AllowSiteChown bool `toml:"allow_site_chown"`
	// ActivePort20 makes active (PORT/EPRT) data connections leave from
	// source port 20 as well as from the control connection's address,
	// for peers that check it. Needs the privilege to bind port 20.
	ActivePort20 bool `toml:"active_port20"`
	// ProxyProtocol: every control and passive data connection must
	// start with a PROXY v1/v2 header from one of TrustedProxies, and the
	// header's client address is the client's address for everything.
	// Needs listen to name an address (active data leaves from it).
	ProxyProtocol  bool     `toml:"proxy_protocol"`
	TrustedProxies []Prefix `toml:"trusted_proxies"`
}

// TLS is the [server.tls] table.
type TLS struct {
	Mode     TLSMode `toml:"mode"` // default off
	CertFile string  `toml:"cert_file"`
	KeyFile  string  `toml:"key_file"`
	Required bool    `toml:"required"`
	// RequireDataSessionReuse refuses a PROT P data connection from the
	// control client whose TLS session does not resume that control
	// connection's session (vsftpd's require_ssl_reuse). FXP peers, which
	// have no control connection here, are exempt. Default true.
	RequireDataSessionReuse bool `toml:"require_data_session_reuse"`
}

// FXP is the [fxp] table: the server-wide foreign data address policy.
type FXP struct {
	Enabled        bool     `toml:"enabled"`
	Peers          []Prefix `toml:"peers"`
	AllowAnonymous bool     `toml:"allow_anonymous"`
	Clients        []Prefix `toml:"clients"`
	// When ftpd is the TLS client of a protected FXP data connection
	// (SSCN ON, CPSV), the peer's certificate must chain to PeerCA (a PEM
	// file) or have one of PeerFingerprints (SHA-256 of the DER
	// certificate). With neither, any certificate is accepted.
	PeerCA           string        `toml:"peer_ca"`
	PeerFingerprints []Fingerprint `toml:"peer_fingerprints"`
}

// Fingerprint is the SHA-256 of a DER certificate, written as 64 hex
// digits, optionally in colon-separated pairs and after "sha256:".
type Fingerprint [32]byte

// Limits is the [limits] table.
type Limits struct {
	MaxConnections      int      `toml:"max_connections"`        // default 200; 0 = unlimited
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"` // default 20; 0 = unlimited
	MaxLoginFailures    int      `toml:"max_login_failures"`     // default 5; 0 = no bans
	BanDuration         Duration `toml:"ban_duration"`           // default 15m
	DownloadRate        Size     `toml:"download_rate"`          // bytes/s; 0 = none
	UploadRate          Size     `toml:"upload_rate"`
	// BanIPv6Prefix is the prefix length an IPv6 ban covers (default 64):
	// one host usually owns a whole /64.
	BanIPv6Prefix int `toml:"ban_ipv6_prefix"`
	// MaxPassivePerIP is how many data ports one client (an IPv4 address,
	// an IPv6 block of ban_ipv6_prefix) may hold at once, through PASV,
	// EPSV or PORT. Default: half of passive_ports (at least 1), or
	// DefaultMaxPassivePerIP when passive_ports is not set; 0 = no cap.
	MaxPassivePerIP int `toml:"max_passive_per_ip"`
}

// DefaultMaxPassivePerIP is max_passive_per_ip's default when the kernel
// picks passive ports.
const DefaultMaxPassivePerIP = 64

// PassivePerIPDefault is max_passive_per_ip's default for a passive port
// range: half of it, at least one port. Half leaves the other half to
// other clients, and still lets one client run a parallel copy (fxp copy
// -j 8 holds 8 ports of a 16-port range).
func PassivePerIPDefault(r PortRange) int {
	if r.IsZero() {
		return DefaultMaxPassivePerIP
	}
	return max(1, (int(r.End)-int(r.Start)+1)/2)
}

// Log is the [log] table.
type Log struct {
	Format LogFormat `toml:"format"` // default text
	Level  LogLevel  `toml:"level"`  // default info
}

// Metrics is the [metrics] table.
type Metrics struct {
	Listen netip.AddrPort `toml:"listen"` // zero = off
}

// User is one [[users]] entry.
type User struct {
	Name         string   `toml:"name"`
	PasswordHash string   `toml:"password_hash"`
	Password     string   `toml:"password"`
	Root         string   `toml:"root"`
	Backend      Backend  `toml:"backend"` // default os
	ReadOnly     bool     `toml:"read_only"`
	AllowedIPs   []Prefix `toml:"allowed_ips"`
	FXP          FXPMode  `toml:"fxp"` // default both; anonymous: none
	FXPPeers     []Prefix `toml:"fxp_peers"`
	DownloadRate Size     `toml:"download_rate"`
	UploadRate   Size     `toml:"upload_rate"`
	MaxSessions  int      `toml:"max_sessions"`

	// Line is the line of the entry's [[users]] header, for messages.
	Line int `toml:"-"`
}

// Anonymous reports whether the user is the anonymous login
// ("anonymous" or "ftp"): any password, always read-only.
func (u *User) Anonymous() bool { return IsAnonymousName(u.Name) }

// IsAnonymousName reports whether name is one of the anonymous login names.
func IsAnonymousName(name string) bool { return name == "anonymous" || name == "ftp" }

// RunAs is the account ftpd drops to once its listeners are bound,
// written "user" or "user:group" (names or numeric ids). Without a group,
// the user's primary group is used. The zero value means "do not drop".
type RunAs struct{ User, Group string }

// Umask is a file creation mask, written in octal ("022", "0o027").
type Umask uint32

// Duration is a time.Duration written as "5m", "90s", "1h30m".
type Duration struct{ time.Duration }

// Size is a byte count written as "512KiB", "100MiB", "1GB" or "1048576".
// Zero means "none".
type Size int64

// PortRange is an inclusive port range written as "40000-40100".
// The zero value means "not set".
type PortRange struct{ Start, End uint16 }

// Prefix is a CIDR ("10.0.0.0/8") or a single address ("127.0.0.2",
// meaning /32 or /128).
type Prefix struct{ netip.Prefix }

// TLSMode is off, explicit or implicit.
type TLSMode int

// TLS modes.
const (
	TLSOff TLSMode = iota
	TLSExplicit
	TLSImplicit
)

// FXPMode says in which directions a user may move data to or from a
// foreign address. FXPUnset is only seen before defaults are applied.
type FXPMode int

// FXP modes.
const (
	FXPUnset FXPMode = iota
	FXPNone
	FXPSend
	FXPReceive
	FXPBoth
)

// Backend is the storage behind a user's root.
type Backend int

// Storage backends.
const (
	BackendOS Backend = iota
	BackendMemory
	BackendS3 // root is a key prefix in [s3].bucket
)

// LogFormat is text or json.
type LogFormat int

// Log formats.
const (
	LogText LogFormat = iota
	LogJSON
)

// LogLevel is debug, info, warn or error.
type LogLevel int

// Log levels.
const (
	LevelInfo LogLevel = iota
	LevelDebug
	LevelWarn
	LevelError
)
