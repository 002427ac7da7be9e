package memstore

import (
	"math"
	"testing"
	"time"
)

// TestFarDeadlines: deadlines beyond what a Duration or a Unix time in
// milliseconds holds are kept, and PTTL reports the largest Duration for a
// remaining time it cannot hold, even from a clock before 1970.
func TestFarDeadlines(t *testing.T) {
	cases := []struct {
		name string
		now  time.Time
		at   time.Time
		want time.Duration
	}{
		{"2300", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Sub(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"3000", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{"beyond unix ms", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<62, 0), math.MaxInt64},
		{"clock before 1970", time.Unix(-1<<40, 0), time.Unix(1<<62, 0), math.MaxInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestStore(t)
			s.SetTime(c.now)
			must(t, s.Set(bg, "k", "v", 0))
			ok, err := s.PExpireAt(bg, "k", c.at)
			must(t, err)
			equal(t, "PEXPIREAT", ok, true)
			ttl, ok, err := s.PTTL(bg, "k")
			must(t, err)
			equal(t, "exists", ok, true)
			equal(t, "PTTL", ttl, c.want)
		})
	}
}
