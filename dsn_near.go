package caches

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// takeNearOptions reads and removes the near-cache options of a DSN (see
// [Open]) from u. It returns nil when near caching is not asked for.
func takeNearOptions(u *url.URL) (*NearOptions, error) {
	q := u.Query()
	on := false
	if v := q.Get("near"); q.Has("near") {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid near %q: want true or false", v)
		}
		on = b
	}
	var o NearOptions
	var err error
	var given []string
	for name, vals := range q {
		if !strings.HasPrefix(name, "near_") {
			continue
		}
		v := vals[len(vals)-1]
		switch name {
		case "near_max_entries":
			o.MaxEntries, err = parseCount(v)
		case "near_max_bytes":
			o.MaxBytes, err = parseBytes(v)
		case "near_ttl":
			o.TTL, err = parsePositiveDuration(v)
		case "near_heartbeat":
			o.Heartbeat, err = parsePositiveDuration(v)
		case "near_stall_timeout":
			o.StallTimeout, err = parsePositiveDuration(v)
		default:
			return nil, fmt.Errorf("unknown option %q (the near-cache options are near, near_max_entries, "+
				"near_max_bytes, near_ttl, near_heartbeat and near_stall_timeout)", name)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %w", name, v, err)
		}
		given = append(given, name)
		q.Del(name)
	}
	if len(given) > 0 && !on {
		return nil, fmt.Errorf("%s needs near=true", given[0])
	}
	q.Del("near")
	u.RawQuery = q.Encode()
	if !on {
		return nil, nil
	}
	return &o, nil
}

// parsePositiveDuration reads a Go duration greater than zero.
func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want a duration such as 500ms or 1m")
	}
	if d <= 0 {
		return 0, errors.New("want a duration greater than zero")
	}
	return d, nil
}
