//go:build !unix

package fsutil

// oNonblock is 0 outside Unix, where os.OpenFile takes no O_NONBLOCK; the
// stat before opening refuses a named pipe there.
const oNonblock = 0
