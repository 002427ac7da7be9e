// Package unixms converts times to the Unix milliseconds of Redis
// deadlines, which both backends must compute alike.
package unixms

import (
	"math"
	"time"
)

var minTime, maxTime = time.UnixMilli(math.MinInt64), time.UnixMilli(math.MaxInt64)

// Of returns t in Unix milliseconds, clamped to the int64 range (more than
// 292 million years either side of 1970), beyond which t.UnixMilli is
// undefined.
func Of(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return math.MinInt64
	}
	return t.UnixMilli()
}
