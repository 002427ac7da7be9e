// Package poll waits, in tests, for a state to be reached: a condition
// checked on a ticker until it holds or a deadline passes. Tests never use
// it to wait for a TTL; they move a clock.
package poll

import "time"

// Until checks cond at once and then every interval until it holds or
// timeout passes, and reports whether it held; cond is checked one last
// time at the deadline.
func Until(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
