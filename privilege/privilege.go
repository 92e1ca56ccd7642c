// Package privilege drops a root process to an unprivileged account once
// it has bound its listeners. On Linux, Go (1.16 and later) applies
// setgroups, setgid and setuid to every thread of the process.
package privilege

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Account is who to become.
type Account struct {
	Name string
	UID  int
	GID  int
}

// Lookup resolves a user name (or numeric id) and, if group is not empty,
// a group name (or id); without a group the user's primary group is used.
func Lookup(userName, group string) (Account, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		if _, numErr := strconv.Atoi(userName); numErr == nil {
			u, err = user.LookupId(userName)
		}
	}
	if err != nil {
		return Account{}, fmt.Errorf("run_as: user %q: %w", userName, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Account{}, fmt.Errorf("run_as: user %q: uid %q is not numeric", userName, u.Uid)
	}
	gidText := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if _, numErr := strconv.Atoi(group); numErr == nil {
				g, err = user.LookupGroupId(group)
			}
		}
		if err != nil {
			return Account{}, fmt.Errorf("run_as: group %q: %w", group, err)
		}
		gidText = g.Gid
	}
	gid, err := strconv.Atoi(gidText)
	if err != nil {
		return Account{}, fmt.Errorf("run_as: gid %q is not numeric", gidText)
	}
	if uid == 0 || gid == 0 {
		return Account{}, fmt.Errorf("run_as: %q is root (uid %d, gid %d): name an unprivileged account", userName, uid, gid)
	}
	return Account{Name: u.Username, UID: uid, GID: gid}, nil
}

// Drop makes the process run as a: supplementary groups become [a.GID],
// then the group, then the user. Run as a already, it does nothing; run as
// any other non-root user, it fails. It checks afterwards that root cannot
// be regained, and fails (closed) if it can.
func Drop(a Account) error {
	if os.Geteuid() != 0 {
		if os.Geteuid() == a.UID && os.Getegid() == a.GID {
			return nil
		}
		return fmt.Errorf("run_as %s needs ftpd to start as root (running as uid %d)", a.Name, os.Geteuid())
	}
	if err := syscall.Setgroups([]int{a.GID}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(a.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", a.GID, err)
	}
	if err := syscall.Setuid(a.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", a.UID, err)
	}
	if os.Getuid() != a.UID || os.Geteuid() != a.UID || os.Getgid() != a.GID || os.Getegid() != a.GID {
		return fmt.Errorf("still uid %d/%d gid %d/%d after dropping to %s", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid(), a.Name)
	}
	if err := syscall.Setuid(0); err == nil {
		return errors.New("root could be regained after dropping privileges")
	}
	return nil
}

// SetUmask sets the process's file creation mask and returns the old one.
func SetUmask(mask uint32) uint32 { return uint32(syscall.Umask(int(mask))) }
