package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by the error of Unmarshal for bytes that are not
// exactly one well-formed MessagePack value.
var ErrCorrupt = errors.New("msgpack: corrupt value")

// check reports whether data is exactly one well-formed MessagePack value
// whose every declared length fits in data. The decoder preallocates what a
// header declares (up to a million elements), so a five-byte header could
// otherwise make it allocate megabytes; after check, what decoding
// allocates stays proportional to len(data).
//
// It walks the items in order with one count of the items still expected:
// an array of n adds n, a map of n adds 2n, and since each item takes at
// least one byte, a count beyond the bytes left is corrupt.
func check(data []byte) error {
	pending := 1
	for pending > 0 {
		if pending > len(data) {
			return fmt.Errorf("%w: %d more items declared than bytes left", ErrCorrupt, pending-len(data))
		}
		items, size, err := head(data)
		if err != nil {
			return err
		}
		if size > len(data) {
			return fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		data = data[size:]
		pending += items - 1
	}
	if len(data) > 0 {
		return fmt.Errorf("%w: %d bytes after the value", ErrCorrupt, len(data))
	}
	return nil
}

// head reads the item data starts with (data is not empty): how many items
// it contains (2n for a map of n, n for an array, 0 otherwise) and how many
// bytes its own header and payload take (contained items excluded).
func head(data []byte) (items, size int, err error) {
	b := data[0]
	switch {
	case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3:
		return 0, 1, nil
	case b <= 0x8f:
		return 2 * int(b&0x0f), 1, nil
	case b <= 0x9f:
		return int(b & 0x0f), 1, nil
	case b <= 0xbf:
		return 0, 1 + int(b&0x1f), nil
	}
	switch b {
	case 0xcc, 0xd0:
		return 0, 2, nil
	case 0xcd, 0xd1:
		return 0, 3, nil
	case 0xca, 0xce, 0xd2:
		return 0, 5, nil
	case 0xcb, 0xcf, 0xd3:
		return 0, 9, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type byte and data
		return 0, 2 + 1<<(b-0xd4), nil
	case 0xc4, 0xd9: // bin8, str8
		n, err := length(data, 1)
		return 0, 2 + n, err
	case 0xc5, 0xda:
		n, err := length(data, 2)
		return 0, 3 + n, err
	case 0xc6, 0xdb:
		n, err := length(data, 4)
		return 0, 5 + n, err
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type byte, data
		w := 1 << (b - 0xc7)
		n, err := length(data, w)
		return 0, 2 + w + n, err
	case 0xdc, 0xde: // array16, map16
		n, err := length(data, 2)
		return n * mapFactor(b), 3, err
	case 0xdd, 0xdf: // array32, map32
		n, err := length(data, 4)
		return n * mapFactor(b), 5, err
	}
	return 0, 0, fmt.Errorf("%w: byte 0x%02x", ErrCorrupt, b) // 0xc1, never used
}

// mapFactor is the number of items per declared element: 2 for a map
// (key and value), 1 for an array.
func mapFactor(b byte) int {
	if b == 0xde || b == 0xdf {
		return 2
	}
	return 1
}

// length reads the big-endian length of w bytes after the type byte.
func length(data []byte, w int) (int, error) {
	if len(data) < 1+w {
		return 0, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	switch w {
	case 1:
		return int(data[1]), nil
	case 2:
		return int(binary.BigEndian.Uint16(data[1:])), nil
	}
	return int(binary.BigEndian.Uint32(data[1:])), nil
}
