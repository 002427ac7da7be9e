package caches

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The registry maps connection names to connections, as database/sql's maps
// driver names to drivers.
var registry = &connRegistry{}

type connRegistry struct {
	gen atomic.Uint64 // bumped whenever a name may map to another Conn

	mu       sync.RWMutex        // guards the fields below
	loaded   bool                // the environment was read
	loadErr  error               // what reading it reported
	conns    map[string]*Conn    // by name
	origin   map[string]string   // by name: the variable or "Register"
	implicit map[string]struct{} // names given an in-process store by default
}

// Register makes c the connection called name. It fails if a CACHES_DSN
// variable or an earlier Register already defined name; it replaces the
// in-process store that an unconfigured default connection received.
func Register(name string, c *Conn) error {
	r := registry
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(); err != nil {
		return err
	}
	if _, implicit := r.implicit[name]; !implicit {
		if from, taken := r.origin[name]; taken {
			return fmt.Errorf("caches: connection %s is already defined by %s", quoteName(name), from)
		}
	} else {
		delete(r.implicit, name)
		r.conns[name].Close()
	}
	c.setName(name)
	r.conns[name], r.origin[name] = c, "Register"
	r.gen.Add(1)
	return nil
}

// Override makes c the connection called name until restore is called,
// whatever defined name before: a CACHES_DSN variable, [Register] or
// nothing. The connection it hides is neither closed nor forgotten: restore
// brings it back (or forgets name when nothing defined it), unless the
// registry was closed or name was registered anew meanwhile. A CACHES_DSN
// variable that cannot be parsed does not stop it: name then finds c,
// while other names report the error. Tests use it (through
// cachestest.Use) so that the developer's environment cannot change what
// they run against.
func Override(name string, c *Conn) (restore func()) {
	r := registry
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loadLocked()
	conns := r.conns
	old, hadOld := conns[name]
	origin, implicit := r.origin[name], r.implicit
	_, wasImplicit := implicit[name]
	delete(implicit, name)
	c.setName(name)
	conns[name], r.origin[name] = c, "Override"
	r.gen.Add(1)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !sameMap(r.conns, conns) || r.conns[name] != c {
			return
		}
		delete(r.conns, name)
		delete(r.origin, name)
		if hadOld {
			r.conns[name], r.origin[name] = old, origin
			if wasImplicit {
				r.implicit[name] = struct{}{}
			}
		}
		r.gen.Add(1)
	}
}

// sameMap reports whether a and b are one map: the registry was not
// closed and loaded again in between.
func sameMap(a, b map[string]*Conn) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// Unregister forgets the connection called name without closing it, so that
// the name can be registered again. It reports whether name was defined.
func Unregister(name string) bool {
	r := registry
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.conns[name]
	delete(r.conns, name)
	delete(r.origin, name)
	delete(r.implicit, name)
	r.gen.Add(1)
	return ok
}

// Connection returns the connection called name ("" is the default). The
// first call reads the CACHES_DSN variables. When nothing defines the default
// connection it is a new in-process store; any other undefined name is an
// error wrapping [ErrUnknownConnection].
func Connection(name string) (*Conn, error) {
	r := registry
	r.mu.RLock()
	c, ok := r.conns[name]
	loaded, loadErr := r.loaded, r.loadErr
	r.mu.RUnlock()
	switch {
	case ok:
		return c, nil
	case loaded && loadErr != nil:
		return nil, loadErr
	case loaded && name != "":
		return nil, unknownConn(name)
	}
	return r.lookupSlow(name)
}

func (r *connRegistry) lookupSlow(name string) (*Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(); err != nil {
		return nil, err
	}
	if c, ok := r.conns[name]; ok {
		return c, nil
	}
	if name != "" {
		return nil, unknownConn(name)
	}
	c := NewMemoryConn(MemoryOptions{})
	r.conns[name], r.origin[name] = c, "default"
	r.implicit[name] = struct{}{}
	return c, nil
}

func unknownConn(name string) error {
	return fmt.Errorf("%w %s (define it with CACHES_DSN_<SUFFIX>=…#%s or caches.Register)", ErrUnknownConnection, quoteName(name), name)
}

func quoteName(name string) string {
	if name == "" {
		return "(default)"
	}
	return fmt.Sprintf("%q", name)
}

// Configure reads the CACHES_DSN variables now, instead of at first use, and
// reports every error they contain. Programs call it at startup to fail fast
// on a bad configuration; calling it again changes nothing until [Close].
func Configure() error {
	r := registry
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked()
}

// Verify checks that every configured connection answers, so that a
// program fails at startup on a wrong host or password, not at its first
// request. It reads the CACHES_DSN variables, as [Configure] does
// (returning their errors), then pings every registered connection at once
// ([Conn.Ping]) and returns one error per connection that did not answer,
// joined, each naming the connection and its hosts. ctx bounds the wait:
// give it a deadline (each DSN's dial_timeout, 5 s by default, and
// max_retries bound each ping too). The default connection that nothing
// defined is an in-process store and needs no check.
func Verify(ctx context.Context) error {
	if err := Configure(); err != nil {
		return err
	}
	conns := registry.snapshot()
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { errs[i] = c.Ping(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// snapshot returns the registered connections, by name.
func (r *connRegistry) snapshot() []*Conn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := slices.Sorted(maps.Keys(r.conns))
	conns := make([]*Conn, len(names))
	for i, n := range names {
		conns[i] = r.conns[n]
	}
	return conns
}

// Close closes every registered connection and forgets them: the next use
// reads the CACHES_DSN variables again. Closing twice is not an error.
func Close() error {
	r := registry
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, c := range r.conns {
		errs = append(errs, c.Close())
	}
	r.loaded, r.loadErr = false, nil
	r.conns, r.origin, r.implicit = nil, nil, nil
	r.gen.Add(1)
	return errors.Join(errs...)
}

// loadLocked reads the environment once. r.mu must be held for writing.
func (r *connRegistry) loadLocked() error {
	if r.loaded {
		return r.loadErr
	}
	r.loaded = true
	r.conns, r.origin = map[string]*Conn{}, map[string]string{}
	r.implicit = map[string]struct{}{}
	specs, err := envSpecs(os.Environ())
	if err != nil {
		r.loadErr = err
		return err
	}
	for _, s := range specs {
		c, err := s.spec.conn()
		if err != nil {
			r.loadErr = fmt.Errorf("caches: %s: %w", s.variable, err)
			return r.loadErr
		}
		r.conns[s.spec.name], r.origin[s.spec.name] = c, s.variable
	}
	r.gen.Add(1)
	return nil
}

type envSpec struct {
	variable string
	spec     *dsnSpec
}

// envSpecs parses every CACHES_DSN and CACHES_DSN_<suffix> variable of env
// (KEY=value strings). Empty variables are ignored. All errors are reported,
// each naming its variable.
func envSpecs(env []string) ([]envSpec, error) {
	var specs []envSpec
	var errs []error
	byName := map[string]string{}
	slices.Sort(env)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k != "CACHES_DSN" && !strings.HasPrefix(k, "CACHES_DSN_")) || v == "" {
			continue
		}
		spec, err := parseDSN(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("caches: %s: %w", k, err))
			continue
		}
		if other, dup := byName[spec.name]; dup {
			errs = append(errs, fmt.Errorf("caches: %s and %s both define connection %s", other, k, quoteName(spec.name)))
			continue
		}
		byName[spec.name] = k
		specs = append(specs, envSpec{variable: k, spec: spec})
	}
	return specs, errors.Join(errs...)
}
