package route

import (
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
)

// ErrInvalid is wrapped by the errors of Validate, Hasher and
// Scale.Validate: a router or a scale that does not fit.
var ErrInvalid = errors.New("route: invalid")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Rule says which rule a Router follows.
type Rule uint8

// Router kinds. The zero Kind is the zero Router's.
const (
	RuleLeastLoaded Rule = iota + 1
	RuleRoundRobin
	RuleWeighted
	RuleByKey
)

// String returns "least-loaded", "round-robin", "weighted" or "by-key".
func (k Rule) String() string {
	switch k {
	case RuleLeastLoaded:
		return "least-loaded"
	case RuleRoundRobin:
		return "round-robin"
	case RuleWeighted:
		return "weighted"
	case RuleByKey:
		return "by-key"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// A Router says how senders spread work over a set of workers. Build one
// with LeastLoaded, RoundRobin, Weighted or ByKey; the zero Router is
// invalid. A Router is a small value, safe to copy and to share.
type Router struct {
	kind    Rule
	weights []int
	key     any // func(T) uint64, built by ByKey
	keyType reflect.Type
}

// LeastLoaded sends each message (or batch) to the worker with the fewest
// queued, ties broken in turn. It behaves like one queue shared by the
// workers, without the shared lock.
func LeastLoaded() Router { return Router{kind: RuleLeastLoaded} }

// RoundRobin sends messages (or batches) to the workers in turn.
func RoundRobin() Router { return Router{kind: RuleRoundRobin} }

// Weighted spreads work over the workers in proportion to weights (one
// positive weight per worker), by deficit round-robin: over time worker i
// gets weights[i]/sum(weights) of the items.
func Weighted(weights ...int) Router {
	return Router{kind: RuleWeighted, weights: append([]int(nil), weights...)}
}

// ByKey sends every item to the worker chosen by the hash of key(item):
// items with equal keys always reach the same worker, in the order their
// sender sent them. A nil key makes the Router invalid (Validate says so).
func ByKey[T any, K comparable](key func(T) K) Router {
	r := Router{kind: RuleByKey, keyType: reflect.TypeFor[T]()}
	if key == nil {
		return r
	}
	seed := maphash.MakeSeed()
	r.key = func(v T) uint64 { return maphash.Comparable(seed, key(v)) }
	return r
}

// ByHash is ByKey with the hash given: every item goes to worker
// hash(item) % workers. Use it when the placement must be known outside
// the router, such as a hash that is stable across processes, or to put
// saved per-key state back where its key's items will go. A nil hash
// makes the Router invalid (Validate says so).
func ByHash[T any](hash func(T) uint64) Router {
	r := Router{kind: RuleByKey, keyType: reflect.TypeFor[T]()}
	if hash != nil {
		r.key = hash
	}
	return r
}

// Rule returns the router's kind (0 for the zero Router).
func (r Router) Rule() Rule { return r.kind }

// IsZero reports whether r is the zero Router.
func (r Router) IsZero() bool { return r.kind == 0 }

// Weights returns a copy of a Weighted router's weights (nil for the
// other kinds).
func (r Router) Weights() []int { return append([]int(nil), r.weights...) }

// String returns the kind, with the weights of a Weighted router, like
// "weighted(3,1)".
func (r Router) String() string {
	if r.kind != RuleWeighted {
		return r.kind.String()
	}
	s := "weighted("
	for i, w := range r.weights {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(w)
	}
	return s + ")"
}

// Validate reports (wrapping ErrInvalid) a router that cannot spread work
// over workers workers: the zero Router, a Weighted one without exactly
// one weight per worker or with a weight below 1, a ByKey one with a nil
// key function, or fewer than one worker.
func (r Router) Validate(workers int) error {
	switch {
	case r.kind == 0:
		return invalidf("zero Router")
	case workers < 1:
		return invalidf("%d workers", workers)
	}
	switch r.kind {
	case RuleWeighted:
		if len(r.weights) != workers {
			return invalidf("%d weights for %d workers", len(r.weights), workers)
		}
		for _, w := range r.weights {
			if w < 1 {
				return invalidf("weight %d < 1", w)
			}
		}
	case RuleByKey:
		if r.key == nil {
			return invalidf("ByKey with a nil key function")
		}
	}
	return nil
}

// Hasher returns the hash of a ByKey router for items of type T; the
// worker of item v among n is Hasher(v) % n. It returns nil and no error
// for the other kinds, and an error wrapping ErrInvalid for a ByKey router
// built for another item type or with a nil key function.
func Hasher[T any](r Router) (func(T) uint64, error) {
	if r.kind != RuleByKey {
		return nil, nil
	}
	if t := reflect.TypeFor[T](); r.keyType != t {
		return nil, invalidf("ByKey for items of type %s used for %s", r.keyType, t)
	}
	if r.key == nil {
		return nil, invalidf("ByKey with a nil key function")
	}
	return r.key.(func(T) uint64), nil
}

// A Picker is the routing state of a Router for one destination: it
// chooses a worker for each message or batch. It is safe for concurrent
// use: RoundRobin and LeastLoaded advance one atomic cursor, Weighted
// takes a lock. ByKey routing does not go through a Picker (see Hasher);
// a Picker of a ByKey router picks like LeastLoaded.
type Picker struct {
	kind    Rule
	next    atomic.Uint32
	mu      sync.Mutex // Weighted only
	wnext   int
	weights []int
	deficit []int
	quantum int
}

// NewPicker returns a Picker for r. quantum is the credit unit of a
// Weighted router: the usual batch size (1 for single messages).
func NewPicker(r Router, quantum int) *Picker {
	pk := &Picker{kind: r.kind, weights: r.weights}
	if r.kind == RuleWeighted {
		pk.deficit = make([]int, len(r.weights))
		pk.quantum = max(quantum, 1)
		pk.wnext = len(r.weights) - 1
	}
	return pk
}

// Pick chooses a worker among the first active ones (0 ≤ result <
// active) for n items; load(i) is worker i's queued work, read only by
// LeastLoaded.
func (pk *Picker) Pick(active, n int, load func(int) int) int {
	if active <= 1 {
		return 0
	}
	switch pk.kind {
	case RuleRoundRobin:
		return int(pk.next.Add(1) % uint32(active))
	case RuleWeighted:
		return pk.weighted(active, n)
	}
	// Least loaded, ties broken in turn from the last choice.
	start := int(pk.next.Add(1) % uint32(active))
	best, bestLoad := start, load(start)
	for k := 1; k < active && bestLoad > 0; k++ {
		i := start + k
		if i >= active {
			i -= active
		}
		if l := load(i); l < bestLoad {
			best, bestLoad = i, l
		}
	}
	return best
}

// weighted is deficit round-robin: each visit credits a worker its weight
// × quantum; a worker is chosen while its credit covers the n items.
func (pk *Picker) weighted(active, n int) int {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if active > len(pk.deficit) {
		active = len(pk.deficit)
	}
	for range 4 * active * 64 {
		i := pk.wnext
		if i >= active {
			i, pk.wnext = 0, 0
		}
		if pk.deficit[i] >= n {
			pk.deficit[i] -= n
			return i
		}
		pk.wnext++
		if pk.wnext >= active {
			pk.wnext = 0
		}
		pk.deficit[pk.wnext] += pk.weights[pk.wnext] * pk.quantum
	}
	return pk.wnext
}
