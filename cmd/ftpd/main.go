// Command ftpd is an FTP server built to be a safe FXP endpoint.
//
//	ftpd                              serve the built-in default config
//	ftpd -config ftpd.toml            serve a config file
//	ftpd -check-config -config FILE   validate a config file and exit
//	ftpd hash-password                read a password on stdin, print a bcrypt hash
//	ftpd lab [-demo]                  two paired servers for FXP experiments
//	ftpd token -config F -user U -path P -fxp send -ttl 1h   a one-time FXP link
//	ftpd -version
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
