//go:build !linux

package near

import "net"

// direct is, on Linux, a reader of a tracking connection's socket on its
// own thread (direct_linux.go). Elsewhere every connection keeps the
// ordinary path, through the runtime's network poller.
type direct struct{ mark func(bool) }

func openDirect(net.Conn) (*direct, bool) { return nil, false }

func (*direct) Read([]byte) (int, error) { panic("near: no direct reads on this system") }
func (*direct) shutdown()                {}
func (*direct) readable() bool           { return false }
func (*direct) close()                   {}
