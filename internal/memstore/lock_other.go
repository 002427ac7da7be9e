//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package memstore

import "os"

// oNofollow is 0 on these systems, where the lock file is only ever
// created, never written or locked.
const oNofollow = 0

// tryLock does not lock on systems without flock: two stores on one file
// are not refused there, though their saves still never mix, since each
// writes a temporary file of its own.
func tryLock(*os.File) (bool, error) { return true, nil }
