//go:build unix && baseline

package main

// open opens nothing: the baseline build measures the Go runtime alone.
func open(conns, file, redisAddr string) (func() error, error) {
	return func() error { return nil }, nil
}

func label(string) string { return "no library" }
