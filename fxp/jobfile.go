package fxp

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

// JobFile is a parsed fxp run file: defaults, then a list of jobs.
type JobFile struct {
	Sites      string   `toml:"sites"` // sites file for SITE:PATH (else --sites, else the default)
	Retries    int      `toml:"retries"`
	Backoff    Duration `toml:"backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	Parallel   int      `toml:"parallel"`
	Jobs       []Job    `toml:"job"`
}

// Job is one copy or mirror of a job file. Zero retries/backoff/parallel
// take the file's defaults.
type Job struct {
	Name             string    `toml:"name"`
	Mode             string    `toml:"mode"` // copy (default) or mirror
	Src              string    `toml:"src"`  // URL or SITE:PATH
	Dst              string    `toml:"dst"`
	Recursive        bool      `toml:"recursive"` // copy: a tree
	Resume           bool      `toml:"resume"`    // copy: continue the temporary file of an interrupted copy
	Verify           bool      `toml:"verify"`
	Delete           bool      `toml:"delete"` // mirror
	AllowEmptySource bool      `toml:"allow_empty_source"`
	Checksum         bool      `toml:"checksum"`
	Include          []string  `toml:"include"`
	Exclude          []string  `toml:"exclude"`
	Passive          string    `toml:"passive"`
	Retries          *int      `toml:"retries"`
	Backoff          *Duration `toml:"backoff"`
	Parallel         int       `toml:"parallel"`
}

// Duration is a time.Duration written "30s" in TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: negative", b)
	}
	d.Duration = v
	return nil
}

// LoadJobFile reads and checks a job file; every problem is reported at
// once.
func LoadJobFile(path string) (*JobFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	var jf JobFile
	md, err := toml.Decode(string(data), &jf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	errs := []error{unknownKeys(md)}
	if len(jf.Jobs) == 0 {
		errs = append(errs, errors.New("no [[job]] tables"))
	}
	if jf.Retries < 0 || jf.Parallel < 0 {
		errs = append(errs, errors.New("retries and parallel must not be negative"))
	}
	if jf.Backoff.Duration == 0 {
		jf.Backoff.Duration = 30 * time.Second
	}
	names := map[string]bool{}
	for i := range jf.Jobs {
		j := &jf.Jobs[i]
		if j.Name == "" {
			j.Name = fmt.Sprintf("job%d", i+1)
		}
		what := "job " + j.Name
		if names[j.Name] {
			errs = append(errs, fmt.Errorf("%s: name used twice", what))
		}
		names[j.Name] = true
		switch j.Mode {
		case "":
			j.Mode = "copy"
		case "copy", "mirror":
		default:
			errs = append(errs, fmt.Errorf("%s: mode %q: want copy or mirror", what, j.Mode))
		}
		if j.Src == "" || j.Dst == "" {
			errs = append(errs, fmt.Errorf("%s: src and dst are required", what))
		}
		if j.Mode == "copy" && (j.Delete || j.AllowEmptySource || j.Checksum || len(j.Include) > 0 || len(j.Exclude) > 0) {
			errs = append(errs, fmt.Errorf("%s: delete, allow_empty_source, checksum, include and exclude are mirror options", what))
		}
		if j.Mode == "mirror" && (j.Recursive || j.Resume) {
			errs = append(errs, fmt.Errorf("%s: recursive and resume are copy options (a mirror is recursive)", what))
		}
		if err := errors.Join(CheckFilters(j.Include), CheckFilters(j.Exclude)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		if _, err := ParsePassive(j.Passive); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		if j.Retries == nil {
			j.Retries = &jf.Retries
		} else if *j.Retries < 0 {
			errs = append(errs, fmt.Errorf("%s: retries must not be negative", what))
		}
		if j.Backoff == nil {
			j.Backoff = &jf.Backoff
		}
		if j.Parallel == 0 {
			j.Parallel = max(jf.Parallel, 1)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &jf, nil
}
