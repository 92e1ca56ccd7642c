// Package integration holds ftpd's end-to-end tests: real servers (in
// process, or the built binaries) on 127.0.0.2 and 127.0.0.3, real clients
// bound to 127.0.0.10 and up, real files. It has no non-test code.
package integration
