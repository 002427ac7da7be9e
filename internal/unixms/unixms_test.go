package unixms

import (
	"math"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"2300", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"beyond the int64 range", time.Unix(1<<62, 0), math.MaxInt64},
		{"before the int64 range", time.Unix(-1<<62, 0), math.MinInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.t); got != tc.want {
				t.Errorf("Of(%v) = %d, want %d", tc.t, got, tc.want)
			}
		})
	}
}
