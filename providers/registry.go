package providers

import (
	"fmt"
	"sort"
	"sync"
)

var (
	mu       sync.RWMutex
	registry = map[string]Provider{}
)

// Register makes a provider available by name. Like database/sql.Register it
// panics on nil or on a duplicate name: both are programming errors.
func Register(p Provider) {
	mu.Lock()
	defer mu.Unlock()
	if p == nil {
		panic("providers: Register of a nil provider")
	}
	if _, dup := registry[p.Name()]; dup {
		panic(fmt.Sprintf("providers: Register called twice for %q", p.Name()))
	}
	registry[p.Name()] = p
}

// Lookup returns the provider registered under name.
func Lookup(name string) (Provider, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// Names lists the registered providers, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
