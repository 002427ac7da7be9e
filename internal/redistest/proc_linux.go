package redistest

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies
// without stopping it (a panic, a -timeout), so no server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
