package conf

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanPositions(t *testing.T) {
	const doc = "\ufeff# comment [not.a.table]\n" + // 1
		`title = "a # not a comment"  # comment` + "\n" + // 2
		`text = """` + "\n" + // 3
		`fake = "inside a string" \"""` + "\n" + // 4
		`still inside """` + "\n" + // 5
		`lit = '''` + "\n" + // 6
		`[also.inside]'''` + "\n" + // 7
		`when = 1979-05-27 07:32:00Z` + "\n" + // 8
		`nums = [ 1, # one` + "\n" + // 9
		`  [2, 3], "]",` + "\n" + // 10
		`]` + "\n" + // 11
		`"quoted key" = 1` + "\n" + // 12
		`'lit.key'.sub = { a = 1, "b" = { c = 2 } }` + "\n" + // 13
		"\r\n" + // 14
		`[ server . tls ]  # spaces` + "\n" + // 15
		`mode = "off"` + "\n" + // 16
		`[[users]]` + "\n" + // 17
		`name = 'a'` + "\n" + // 18
		`[users.extra]` + "\n" + // 19
		`x = 1` + "\n" + // 20
		`[[ users ]]` + "\n" + // 21
		`name = "b"` + "\n" + // 22
		`[[users.sub]]` + "\n" + // 23
		`[[users.sub]]` + "\n" + // 24
		`y = 2` + "\n" + // 25
		`list = [{ n = 1 }, ` + "\n" + // 26
		`  { n = 2 }]` + "\n" // 27
	want := positions{
		"title": 2, "text": 3, "lit": 6, "when": 8,
		"nums": 9, "nums[0]": 9, "nums[1]": 10, "nums[1][0]": 10, "nums[1][1]": 10, "nums[2]": 10,
		`"quoted key"`: 12, `"lit.key"`: 13, `"lit.key".sub`: 13, `"lit.key".sub.a`: 13, `"lit.key".sub.b`: 13, `"lit.key".sub.b.c`: 13,
		"server": 15, "server.tls": 15, "server.tls.mode": 16,
		"users": 17, "users[0]": 17, "users[0].name": 18, "users[0].extra": 19, "users[0].extra.x": 20,
		"users[1]": 21, "users[1].name": 22,
		"users[1].sub": 23, "users[1].sub[0]": 23, "users[1].sub[1]": 24, "users[1].sub[1].y": 25,
		"users[1].sub[1].list": 26, "users[1].sub[1].list[0]": 26, "users[1].sub[1].list[0].n": 26,
		"users[1].sub[1].list[1]": 27, "users[1].sub[1].list[1].n": 27,
	}
	var tree map[string]any
	if _, err := toml.Decode(doc, &tree); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	got := scanPositions(doc)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("line of %s = %d, want %d", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s (line %d)", k, got[k])
		}
	}
	for key, want := range map[string]int{
		"users[1].name":       22,
		"users[1].root":       21, // absent: the entry's header
		"server.tls.key":      15,
		"limits.ban_duration": 1, // absent table: line 1
		"":                    1,
	} {
		if got := got.line(key); got != want {
			t.Errorf("line(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestScanPositionsBadInput(t *testing.T) {
	// The scanner is only given valid TOML, but must not hang or panic
	// on anything.
	for _, doc := range []string{
		"", "[", "[[", "a = \"", "a = '''", `a = """\`, "a = [", "a = {", "a = [1,", "= 1",
		"a = {b = [}", "}", "a.\n", "\"\n", "a = 1979-05-27 ", "a = \"\\",
		strings.Repeat("[", 100), strings.Repeat("{", 100),
	} {
		scanPositions(doc)
	}
}
