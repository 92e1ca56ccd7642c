package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// inNetnsEnv marks a test binary re-run inside a private network namespace.
const inNetnsEnv = "FTPD_TEST_IN_NETNS"

// inNetns runs the calling test inside a private network namespace that it
// creates (unshare -n), with lo up and the given IPv6 addresses on it, and
// reports whether the caller is already inside: the caller then does the
// real work. Outside, it re-runs the test binary for that one test and
// fails if the run fails. Nothing leaves the namespace. It skips with a
// message when not root or when the namespace cannot be made; in CI
// (CI=true, root) it fails instead of skipping.
func inNetns(t *testing.T, addrs ...string) bool {
	t.Helper()
	if os.Getenv(inNetnsEnv) == t.Name() {
		for _, cmd := range append([][]string{{"link", "set", "lo", "up"}}, ipAddrCmds(addrs)...) {
			if out, err := exec.Command("ip", cmd...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v\n%s", cmd, err, out)
			}
		}
		return true
	}
	skip := t.Skipf
	if interopCI() {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root to create a network namespace (unshare -n); run the tests as root")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip("needs %s for a network namespace: apt-get install util-linux iproute2", tool)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"-n", "--", exe, "-test.run", "^" + t.Name() + "$", "-test.v", "-test.count=1"}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), inNetnsEnv+"="+t.Name())
	cmd.Dir = filepath.Dir(exe)
	if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("test inside the network namespace failed: %v", err)
	}
	return false
}

func ipAddrCmds(addrs []string) [][]string {
	var out [][]string
	for _, a := range addrs {
		out = append(out, []string{"-6", "addr", "add", a + "/128", "dev", "lo", "nodad"})
	}
	return out
}
