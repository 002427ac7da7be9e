package caches

import (
	"runtime"
	"strings"
	"sync"
	"weak"
)

// familySet is a connection's record of the families that use it, by key
// prefix (the hash tag applied): an in-process store's evictions count in
// the stats of the families whose keys they were. It holds the families
// weakly, so that a family the program drops is collected; a cleanup then
// removes its record. Recording a family costs O(1), however many there
// are.
type familySet struct {
	mu       sync.RWMutex                                        // guards byPrefix
	byPrefix map[string]map[weak.Pointer[family]]runtime.Cleanup // by prefix: the families and their cleanups
}

// familyRef names one record of a familySet.
type familyRef struct {
	prefix string
	f      weak.Pointer[family]
}

// add records f; recording it again changes nothing. Families without
// prefix are not recorded: no key can be told to be theirs.
func (s *familySet) add(f *family) {
	if f.prefix == "" {
		return
	}
	ref := familyRef{f.prefix, weak.Make(f)}
	s.mu.Lock()
	defer s.mu.Unlock()
	fams := s.byPrefix[ref.prefix]
	if _, ok := fams[ref.f]; ok {
		return
	}
	if fams == nil {
		if s.byPrefix == nil {
			s.byPrefix = map[string]map[weak.Pointer[family]]runtime.Cleanup{}
		}
		fams = map[weak.Pointer[family]]runtime.Cleanup{}
		s.byPrefix[ref.prefix] = fams
	}
	fams[ref.f] = runtime.AddCleanup(f, s.drop, ref)
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

// dropLocked removes a record. s.mu must be held for writing.
func (s *familySet) dropLocked(ref familyRef) {
	fams := s.byPrefix[ref.prefix]
	delete(fams, ref.f)
	if len(fams) == 0 {
		delete(s.byPrefix, ref.prefix)
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
