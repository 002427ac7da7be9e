//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package memstore

import (
	"errors"
	"os"
	"syscall"
)

// oNofollow makes opening the lock file fail rather than follow a symlink
// planted in its place.
const oNofollow = syscall.O_NOFOLLOW

// tryLock takes an exclusive flock on f without waiting, as flock(1) -n
// does, and reports false when another open file holds it. The lock lasts
// until f is closed, or its process exits, however it exits.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
