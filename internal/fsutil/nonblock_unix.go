//go:build unix

package fsutil

import "syscall"

// oNonblock makes opening a named pipe return at once instead of waiting
// for the other end.
const oNonblock = syscall.O_NONBLOCK
