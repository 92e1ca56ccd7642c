//go:build !linux

package driver

import "github.com/spf13/afero"

// dropReplaced is a no-op outside Linux (see cache_linux.go).
func dropReplaced(afero.Fs, string) {}
