package caches

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"
)

// familySet is a connection's record of the families that use it, by key
// prefix (the hash tag applied). It refuses a family whose prefix overlaps
// another's (see [Options.Prefix]), and counts an in-process store's
// evictions in the stats of the families whose keys they were. It holds
// the families weakly, so that a family the program drops is collected; a
// cleanup then removes its record, and its prefix no longer counts.
// Recording a family costs O(1) in the number of families: a lookup per
// ':' of its prefix.
type familySet struct {
	mu       sync.RWMutex                                        // guards the maps
	byPrefix map[string]map[weak.Pointer[family]]runtime.Cleanup // by prefix: the families and their cleanups
	extended map[string]map[string]struct{}                      // p → the recorded prefixes that start with p+":"
}

// familyRef names one record of a familySet.
type familyRef struct {
	prefix string
	f      weak.Pointer[family]
}

// adopt records that f uses the connection, or returns an error wrapping
// [ErrPrefixOverlap] when f's prefix overlaps a recorded family's.
func (c *Conn) adopt(f *family) error {
	if err := c.families.add(f); err != nil {
		return fmt.Errorf("%w on connection %s, so the two families would share keys", err, c)
	}
	return nil
}

// add records f; recording it again changes nothing. When f's prefix
// overlaps a recorded one it records nothing and returns the error. Families
// without prefix are neither recorded nor checked: their arguments make
// whole keys, which no prefix can keep apart.
func (s *familySet) add(f *family) error {
	if f.prefix == "" {
		return nil
	}
	ref := familyRef{f.prefix, weak.Make(f)}
	s.mu.Lock()
	defer s.mu.Unlock()
	fams := s.byPrefix[ref.prefix]
	if _, ok := fams[ref.f]; ok {
		return nil
	}
	if fams == nil {
		if err := s.overlapLocked(ref.prefix); err != nil {
			return err
		}
		fams = s.newPrefixLocked(ref.prefix)
	}
	fams[ref.f] = runtime.AddCleanup(f, s.drop, ref)
	return nil
}

// overlapLocked returns an error naming p and a recorded prefix that p
// overlaps: one is the other followed by ":", or by one of keySuffixes
// (the bare key of one would be the lease or the dependents of the other's
// bare key). s.mu
// must be held.
func (s *familySet) overlapLocked(p string) error {
	for i := 1; i < len(p); i++ {
		if p[i] == ':' && s.byPrefix[p[:i]] != nil {
			return overlapErr(p, p[:i], ":")
		}
	}
	if longer := s.extended[p]; len(longer) > 0 {
		return overlapErr(slices.Min(slices.Collect(maps.Keys(longer))), p, ":")
	}
	for _, suffix := range keySuffixes {
		if short, ok := strings.CutSuffix(p, suffix); ok && s.byPrefix[short] != nil {
			return overlapErr(p, short, suffix)
		}
		if s.byPrefix[p+suffix] != nil {
			return overlapErr(p+suffix, p, suffix)
		}
	}
	return nil
}

// keySuffixes are the suffixes of the keys the library keeps beside a
// handle's key: its lease and its dependents.
var keySuffixes = []string{leaseSuffix, dependentsSuffix}

func overlapErr(long, short, sep string) error {
	return fmt.Errorf("%w: %q is %q followed by %q", ErrPrefixOverlap, long, short, sep)
}

// newPrefixLocked records prefix p, without families yet, and returns its
// family map. s.mu must be held for writing.
func (s *familySet) newPrefixLocked(p string) map[weak.Pointer[family]]runtime.Cleanup {
	if s.byPrefix == nil {
		s.byPrefix = map[string]map[weak.Pointer[family]]runtime.Cleanup{}
		s.extended = map[string]map[string]struct{}{}
	}
	fams := map[weak.Pointer[family]]runtime.Cleanup{}
	s.byPrefix[p] = fams
	for i := 1; i < len(p); i++ {
		if p[i] == ':' {
			if s.extended[p[:i]] == nil {
				s.extended[p[:i]] = map[string]struct{}{}
			}
			s.extended[p[:i]][p] = struct{}{}
		}
	}
	return fams
}

// remove forgets f, which now uses another connection.
func (s *familySet) remove(f *family) {
	ref := familyRef{f.prefix, weak.Make(f)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cleanup, ok := s.byPrefix[ref.prefix][ref.f]; ok {
		cleanup.Stop()
		s.dropLocked(ref)
	}
}

// drop is the cleanup of a collected family.
func (s *familySet) drop(ref familyRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(ref)
}

// dropLocked removes a record, and the prefix with its last family. s.mu
// must be held for writing.
func (s *familySet) dropLocked(ref familyRef) {
	p := ref.prefix
	fams := s.byPrefix[p]
	delete(fams, ref.f)
	if len(fams) > 0 {
		return
	}
	delete(s.byPrefix, p)
	for i := 1; i < len(p); i++ {
		if p[i] == ':' {
			delete(s.extended[p[:i]], p)
			if len(s.extended[p[:i]]) == 0 {
				delete(s.extended, p[:i])
			}
		}
	}
}

// evicted counts an eviction in the stats of the live families whose
// prefix the key has: the key itself, or the part before one of its colons.
func (s *familySet) evicted(key string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(key); i > 0; i = strings.LastIndexByte(key[:i], ':') {
		for w := range s.byPrefix[key[:i]] {
			if f := w.Value(); f != nil {
				f.stats.evictions.Add(1)
			}
		}
	}
}
