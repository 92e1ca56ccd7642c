package integration

import (
	"strings"
	"testing"
)

// TestRMDOnlyDirectoriesDELEOnlyFiles: RMD of a file and DELE of a
// directory are refused with 550 and change nothing, on disk and on S3
// (the library sent both to the driver's Remove, which takes either).
func TestRMDOnlyDirectoriesDELEOnlyFiles(t *testing.T) {
	in, _, _ := startS3Server(t, hostA, "")
	for _, user := range []string{"bob", "sam"} {
		t.Run(user, func(t *testing.T) {
			c := in.dial(client1, user, testPass)
			if _, err := c.Stor("f", strings.NewReader("keep me")); err != nil {
				t.Fatal(err)
			}
			if n := code(t, c, "MKD d"); n != 257 {
				t.Fatalf("MKD: %d", n)
			}
			if n := code(t, c, "RMD f"); n != 550 {
				t.Errorf("RMD of a file: %d, want 550", n)
			}
			if n := code(t, c, "DELE d"); n != 550 {
				t.Errorf("DELE of a directory: %d, want 550", n)
			}
			if n := code(t, c, "SIZE f"); n != 213 {
				t.Errorf("the file after RMD f: SIZE %d, want 213", n)
			}
			if n := code(t, c, "CWD d"); n != 250 {
				t.Errorf("the directory after DELE d: CWD %d, want 250", n)
			}
			code(t, c, "CWD /")
			if n := code(t, c, "RMD d"); n != 250 {
				t.Errorf("RMD of the empty directory: %d, want 250", n)
			}
			if n := code(t, c, "DELE f"); n != 250 {
				t.Errorf("DELE of the file: %d, want 250", n)
			}
		})
	}
}
