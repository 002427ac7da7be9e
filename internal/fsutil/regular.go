// Package fsutil opens files that must be regular without ever blocking on
// one that is not.
package fsutil

import (
	"errors"
	"io/fs"
	"os"
)

// OpenRegular opens name as os.OpenFile does, but only a regular file: a
// named pipe, directory, device or socket is refused with a *fs.PathError
// saying what it is, and the call never blocks (opening a named pipe for
// reading would otherwise wait for a writer forever). It stats name first,
// so that it never opens a device, then opens it with O_NONBLOCK and checks
// the opened file again, in case another one was swapped in between. A
// missing name is created when flag has os.O_CREATE.
func OpenRegular(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := CheckRegular(name); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(name, flag|oNonblock, perm)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil {
		err = regular(name, info)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// CheckRegular returns nil if name is a regular file or does not exist, the
// error of OpenRegular if it is another kind of file, and the error of
// os.Stat if that fails otherwise. It opens nothing.
func CheckRegular(name string) error {
	info, err := os.Stat(name)
	switch {
	case err == nil:
		return regular(name, info)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

// regular returns nil if info describes a regular file, and otherwise an
// error naming the file and its type.
func regular(name string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return &fs.PathError{Op: "open", Path: name, Err: notRegularError{info.Mode().Type()}}
}

// notRegularError is the error of a file that is not a regular one.
type notRegularError struct {
	typ fs.FileMode
}

func (e notRegularError) Error() string {
	return "not a regular file (" + typeName(e.typ) + ")"
}

// typeName names a file type, as fs.FileMode.Type returns it.
func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + t.String()
}
