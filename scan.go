package caches

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"

	"github.com/gocaches/caches/internal/backend"
)

// The helpers the cache types share: paged scans of hashes and sets, and
// increments bounded by the value type.

// scanPageSize is the COUNT hint of the SCAN family of commands the
// iterators send.
const scanPageSize = 256

// scanFunc is one page of HSCAN or SSCAN. When checked, it also returns
// the server instance that served the page; otherwise that is "".
type scanFunc func(ctx context.Context, b backend.Backend, key string, cursor uint64, checked bool) (page []string, next uint64, instance string, err error)

func hscan(ctx context.Context, b backend.Backend, key string, cursor uint64, checked bool) ([]string, uint64, string, error) {
	if checked {
		return b.HScanInstance(ctx, key, cursor, scanPageSize)
	}
	page, next, err := b.HScan(ctx, key, cursor, scanPageSize)
	return page, next, "", err
}

func sscan(ctx context.Context, b backend.Backend, key string, cursor uint64, checked bool) ([]string, uint64, string, error) {
	if checked {
		return b.SScanInstance(ctx, key, cursor, scanPageSize)
	}
	page, next, err := b.SScan(ctx, key, cursor, scanPageSize)
	return page, next, "", err
}

// scanPages yields the pages of a cursor scan of h's key until the cursor
// comes back to zero; an error is yielded once and ends it.
//
// A cursor means something only to the server instance that issued it: a
// restarted Redis (even one that reloaded its data), the new master after a
// failover or the new owner of a moved cluster slot accepts it and answers
// with the wrong part of the collection. A scan that one page completes is
// one snapshot and needs no check, so a small collection costs one plain
// page. A longer one starts again with pages that each report the instance
// that served them, in the same round trip, and ends with
// [ErrIterationBroken] at the first page from another instance than the
// first page's, before yielding it: a cursor always comes from the instance
// that served the previous page, so every page came from one instance.
func scanPages(ctx context.Context, h handle, op string, scan scanFunc) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		b, err := h.backend(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		page, next, _, err := scan(ctx, b, h.key, 0, false)
		switch {
		case err != nil:
			yield(nil, keyErr(op, h.key, err))
		case next == 0:
			yield(page, nil)
		default:
			scanChecked(ctx, b, h.key, op, scan, yield)
		}
	}
}

// scanChecked yields the pages of a scan of key that checks the instance of
// every page against the first page's (see scanPages).
func scanChecked(ctx context.Context, b backend.Backend, key, op string, scan scanFunc, yield func([]string, error) bool) {
	var cursor uint64
	first := ""
	for {
		page, next, instance, err := scan(ctx, b, key, cursor, true)
		if err != nil && cursor != 0 && strings.HasPrefix(err.Error(), "LOADING") {
			// A server still loading its data after the first page has
			// restarted or resynchronised since: the cursor is void.
			err = fmt.Errorf("%w: server %s answered the first page, then: %w", ErrIterationBroken, first, err)
		}
		if err != nil {
			yield(nil, keyErr(op, key, err))
			return
		}
		if cursor == 0 {
			first = instance
		} else if instance != first {
			yield(nil, &KeyError{Op: op, Key: key, Err: fmt.Errorf(
				"%w: server %s answered the first page, server %s a later one", ErrIterationBroken, first, instance)})
			return
		}
		if !yield(page, nil) || next == 0 {
			return
		}
		cursor = next
	}
}

// incrValue adds n (or -n) with the increment fitting the codec's numeric
// kind and returns the result as text, for the codec to decode. The
// increment is bounded by the range of the codec's type, so that a result
// that would not decode is never stored. A NaN or infinite float increment
// is refused before it is sent: no finite value results from it.
func incrValue[V any](vc valueCodec[V], n V, negate bool, byInt func(n, min, max int64) (int64, error), byFloat func(f, min, max float64) (float64, error)) (string, error) {
	text, _ := vc.encode(n)
	switch vc.num {
	case intNumeric:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil || (negate && i == minInt64) {
			return "", ErrNotNumber
		}
		if negate {
			i = -i
		}
		r, err := byInt(i, vc.imin, vc.imax)
		return strconv.FormatInt(r, 10), err
	case floatNumeric:
		f, _ := strconv.ParseFloat(text, 64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%w: increment %v", ErrNotNumber, f)
		}
		if negate {
			f = -f
		}
		r, err := byFloat(f, -vc.fmax, vc.fmax)
		return strconv.FormatFloat(r, 'g', -1, 64), err
	}
	return "", errors.New("increment needs an integer or float value type, not " + vc.typeName)
}

const minInt64 = -1 << 63
