package driver

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDirLeavesOutUnaddressableNames: a name with CR, LF or NUL can be
// made on disk (or in a bucket) by someone other than an FTP client, but
// no FTP command can name it, and written into a LIST or NLST it forges
// listing lines ("evil\r\n-rw-r--r-- 1 ftp ftp 1 Jan 1 00:00 fake").
// Listings leave such names out.
func TestDirLeavesOutUnaddressableNames(t *testing.T) {
	d, _, dir := newRootDriver(t, false)
	for _, name := range []string{"ok", "evil\r\n-rw-r--r-- 1 ftp ftp 1 Jan 1 00:00 fake", "lf\nonly", "cr\ronly", "tab\tis fine"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := d.OpenDir("/")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	fis, err := ls.Readdir(-1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range fis {
		names = append(names, fi.Name())
	}
	if want := []string{"ok", "tab\tis fine"}; !slices.Equal(names, want) {
		t.Fatalf("listed %q, want %q", names, want)
	}
}
