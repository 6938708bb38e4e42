package cloud

import (
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// registry maps provider types to backends. The package-level functions
// use one; tests use their own.
type registry struct {
	mu       sync.RWMutex
	backends map[string]Backend
}

var backends registry

// Register makes a backend available under a provider type. Like
// database/sql.Register it panics on a nil backend or a type registered
// twice, and on a type that cannot be a provider block's label referred to
// as provider.TYPE: all are programming errors, found when the program
// starts. Backends call it in init.
func Register(typ string, b Backend) { backends.register(typ, b) }

// Lookup returns the backend registered for a provider type. An unknown
// type has none: callers report it, never fall back to another cloud.
func Lookup(typ string) (Backend, bool) { return backends.lookup(typ) }

// Types lists the registered provider types, sorted.
func Types() []string { return backends.types() }

func (r *registry) register(typ string, b Backend) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b == nil {
		panic(fmt.Sprintf("cloud: Register of a nil backend for %q", typ))
	}
	if !hclsyntax.ValidIdentifier(typ) {
		panic(fmt.Sprintf("cloud: Register with type %q, which is not an identifier (provider.TYPE could not refer to it)", typ))
	}
	if _, dup := r.backends[typ]; dup {
		panic(fmt.Sprintf("cloud: Register called twice for %q", typ))
	}
	if r.backends == nil {
		r.backends = map[string]Backend{}
	}
	r.backends[typ] = b
}

func (r *registry) lookup(typ string) (Backend, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.backends[typ]
	return b, ok
}

func (r *registry) types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.backends))
	for t := range r.backends {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
