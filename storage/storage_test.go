package storage_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/ftpd/ftpd/conf"
	"github.com/ftpd/ftpd/storage"
)

// withS3 returns the built-in kinds with the S3 backend's constructor
// replaced by build.
func withS3(build func(*conf.Config, storage.Options) (storage.Backend, error)) []storage.Kind {
	kinds := storage.Kinds()
	for i := range kinds {
		if kinds[i].Backend == conf.BackendS3 {
			kinds[i].New = build
		}
	}
	return kinds
}

func osAndMemoryConfig(t *testing.T) *conf.Config {
	return &conf.Config{Source: "t.toml", Users: []conf.User{
		{Name: "a", Root: filepath.Join(t.TempDir(), "a"), Backend: conf.BackendOS, Line: 3},
		{Name: "b", Root: "b", Backend: conf.BackendMemory, Line: 9},
	}}
}

// A config whose users are all on os or memory never builds the S3
// backend, whatever its [s3] table says.
func TestRegistryWithoutS3UserNeverBuildsS3(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	cfg.S3 = conf.S3{Endpoint: "http://127.0.0.1:1", Bucket: "ftp", Region: "us-east-1"}
	built := 0
	reg, err := storage.New(cfg, withS3(func(*conf.Config, storage.Options) (storage.Backend, error) {
		built++
		t.Error("the S3 backend was built for a config without an S3 user")
		return nil, nil
	}), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if built != 0 || reg.Get(conf.BackendS3) != nil {
		t.Fatalf("S3 backend built %d times, Get = %v", built, reg.Get(conf.BackendS3))
	}
	for _, b := range []conf.Backend{conf.BackendOS, conf.BackendMemory} {
		if got := reg.Get(b); got == nil || got.Name() != b.String() {
			t.Errorf("backend %v: got %v", b, got)
		}
	}
	// A reload that adds an S3 user does not build it either: the store
	// is set up at start only, and the user's login says so.
	next := *cfg
	next.Users = append(append([]conf.User(nil), cfg.Users...), conf.User{Name: "c", Root: "c/", Backend: conf.BackendS3, Line: 14})
	if err := reg.Reload(&next); err != nil {
		t.Fatal(err)
	}
	if built != 0 {
		t.Fatalf("a reload built the S3 backend")
	}
	if _, _, err := reg.Open(context.Background(), &next.Users[2]); err == nil || !strings.Contains(err.Error(), `restart ftpd after adding the first backend = "s3" user`) {
		t.Fatalf("open of an S3 user without S3 backend: %v", err)
	}
	// Nothing to check on os and memory: no request anywhere.
	if err := reg.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The real S3 constructor is not called either: an [s3] table it would
// refuse (no bucket, no part size) passes when no user is on S3.
func TestRegistryWithoutS3UserIgnoresS3Table(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	if _, err := storage.New(cfg, storage.Kinds(), storage.Options{}); err != nil {
		t.Fatalf("registry without S3 user: %v", err)
	}
	cfg.Users = append(cfg.Users, conf.User{Name: "c", Root: "c/", Backend: conf.BackendS3, Line: 14})
	_, err := storage.New(cfg, storage.Kinds(), storage.Options{})
	if err == nil || !strings.Contains(err.Error(), "t.toml: [s3]: s3: empty bucket") {
		t.Fatalf("registry with an S3 user and no bucket: %v", err)
	}
}

// spent_store = "s3" needs the S3 backend without any S3 user.
func TestRegistrySpentStoreBuildsS3(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	cfg.Tokens.SpentStore = conf.SpentS3
	built := 0
	reg, err := storage.New(cfg, withS3(func(*conf.Config, storage.Options) (storage.Backend, error) {
		built++
		return fakeBackend{}, nil
	}), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if built != 1 || reg.Get(conf.BackendS3) == nil {
		t.Fatalf("S3 backend built %d times", built)
	}
}

// A user whose backend no kind builds is refused with file, line and key
// (conf refuses an unknown name in the file the same way:
// conf.TestErrors "bad backend").
func TestRegistryUnknownBackendRefused(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	cfg.Users[1].Backend = conf.Backend(42)
	_, err := storage.New(cfg, storage.Kinds(), storage.Options{})
	if want := "t.toml:9: users[1].backend: no storage backend Backend(42)"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	// A kind list without memory refuses memory users alike.
	kinds := storage.Kinds()[:1]
	cfg = osAndMemoryConfig(t)
	if _, err := storage.New(cfg, kinds, storage.Options{}); err == nil || !strings.HasPrefix(err.Error(), "t.toml:9: users[1].backend: ") {
		t.Fatalf("memory user without memory backend: %v", err)
	}
}

// A reload builds a backend the new config is the first to use (but S3).
func TestRegistryReloadBuildsNewBackend(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	start := &conf.Config{Source: cfg.Source, Users: cfg.Users[:1]}
	reg, err := storage.New(start, storage.Kinds(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Get(conf.BackendMemory) != nil {
		t.Fatal("memory backend built without a memory user")
	}
	if err := reg.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	fs1, release1, err := reg.Open(context.Background(), &cfg.Users[1])
	if err != nil {
		t.Fatal(err)
	}
	defer release1()
	if err := afero.WriteFile(fs1, "/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same user's next session sees the same files.
	fs2, release2, err := reg.Open(context.Background(), &cfg.Users[1])
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if b, err := afero.ReadFile(fs2, "/f"); err != nil || string(b) != "x" {
		t.Fatalf("second session reads %q, %v", b, err)
	}
}

type fakeBackend struct{}

func (fakeBackend) Name() string                       { return "fake" }
func (fakeBackend) Check(context.Context) error        { return nil }
func (fakeBackend) CheckRoot(*conf.User, bool) error   { return nil }
func (fakeBackend) LocalDir(*conf.User) string         { return "" }
func (fakeBackend) Sweep(context.Context) (int, error) { return 0, nil }
func (fakeBackend) Close() error                       { return nil }
func (fakeBackend) Open(context.Context, *conf.User) (afero.Fs, func() error, error) {
	return afero.NewMemMapFs(), func() error { return nil }, nil
}

// A reload whose config is the first to use S3 says, at the reload, which
// users cannot log in until a restart (was: nothing until each login
// failed).
func TestRegistryReloadWarnsAtStartOnly(t *testing.T) {
	cfg := osAndMemoryConfig(t)
	var logged bytes.Buffer
	reg, err := storage.New(cfg, withS3(func(*conf.Config, storage.Options) (storage.Backend, error) {
		t.Error("S3 built")
		return nil, nil
	}), storage.Options{Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	next := *cfg
	next.Users = append(append([]conf.User(nil), cfg.Users...), conf.User{Name: "c", Root: "c/", Backend: conf.BackendS3, Line: 14})
	if err := reg.Reload(&next); err != nil {
		t.Fatal(err)
	}
	if out := logged.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "user=c") || !strings.Contains(out, "restart") {
		t.Fatalf("reload log: %q", out)
	}
}
