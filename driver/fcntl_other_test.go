//go:build !linux

package driver

import (
	"errors"
	"os"
)

func fcntlFlags(*os.File) (int, error) { return 0, errors.New("not supported") }
