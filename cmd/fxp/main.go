// Command fxp copies files between two FTP servers directly, server to
// server (FXP), with live progress, resume and verification.
//
//	fxp copy [flags] ftp://user:pass@a.example/file ftp://user:pass@b.example/dir/
//	fxp mirror [flags] a:/releases b:/releases
//	fxp run [--state FILE] [--lock FILE] JOBS.toml
//	fxp sites [check NAME]
//
// Run "fxp help" for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	code := run(ctx, os.Args[1:], env{
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookupEnv: os.LookupEnv,
		home:      os.UserHomeDir,
		tty:       isTerminal(os.Stdout),
		now:       time.Now,
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
