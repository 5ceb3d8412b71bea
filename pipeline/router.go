package pipeline

import (
	"hash/maphash"
)

type routeKind uint8

const (
	routeLeast routeKind = iota + 1
	routeRR
	routeWeighted
	routeKey
)

// A Router says how the producers feeding a stage spread batches over its
// workers. Each producer (a source, or a worker of the stage upstream)
// routes on its own, without locks. Build one with LeastLoaded,
// RoundRobin, Weighted or ByKey; the zero Router is invalid.
type Router struct {
	kind    routeKind
	weights []int
	key     any // func(T) uint64, built by ByKey
	keyType string
}

// LeastLoaded sends each batch to the worker with the fewest queued
// batches, ties broken in turn. It behaves like one queue shared by the
// workers, without the shared lock. It is the default.
func LeastLoaded() Router { return Router{kind: routeLeast} }

// RoundRobin sends batches to the workers in turn.
func RoundRobin() Router { return Router{kind: routeRR} }

// Weighted spreads items over the workers in proportion to weights (one
// positive weight per worker), by deficit round-robin over batches: over
// time worker i gets weights[i]/sum(weights) of the items.
func Weighted(weights ...int) Router {
	return Router{kind: routeWeighted, weights: append([]int(nil), weights...)}
}

// ByKey sends every item to the worker chosen by the hash of key(item):
// items with equal keys always reach the same worker, in the order their
// producer emitted them. Producers split their batches by worker, so
// batches are smaller when there are many workers.
func ByKey[T any, K comparable](key func(T) K) Router {
	r := Router{kind: routeKey, keyType: typeName[T]()}
	if key == nil {
		return r
	}
	seed := maphash.MakeSeed()
	r.key = func(v T) uint64 { return maphash.Comparable(seed, key(v)) }
	return r
}

func (r Router) validate(workers int, itemType string) error {
	switch r.kind {
	case routeWeighted:
		if len(r.weights) != workers {
			return invalidf("%d weights for %d workers", len(r.weights), workers)
		}
		for _, w := range r.weights {
			if w < 1 {
				return invalidf("weight %d < 1", w)
			}
		}
	case routeKey:
		if r.key == nil {
			return invalidf("ByKey with a nil key function")
		}
		if r.keyType != itemType {
			return invalidf("ByKey for items of type %s on a stage of %s", r.keyType, itemType)
		}
	}
	return nil
}

// picker is one producer's routing state for one destination stage. It
// is owned by the producer (a worker slot or a source goroutine).
type picker struct {
	kind    routeKind
	next    int
	weights []int
	deficit []int
	quantum int
}

func newPicker(r Router, batchSize int) *picker {
	pk := &picker{kind: r.kind, weights: r.weights}
	if r.kind == routeWeighted {
		pk.deficit = make([]int, len(r.weights))
		pk.quantum = batchSize
		pk.next = len(r.weights) - 1
	}
	return pk
}

// pick chooses a worker among the first active ones for a batch of n
// items; load(i) is worker i's queued batches.
func (pk *picker) pick(active, n int, load func(int) int) int {
	if active <= 1 {
		return 0
	}
	switch pk.kind {
	case routeRR:
		pk.next++
		if pk.next >= active {
			pk.next = 0
		}
		return pk.next
	case routeWeighted:
		// Deficit round-robin: each visit credits a worker its weight ×
		// quantum; a worker is chosen while its credit covers the batch.
		if active > len(pk.deficit) {
			active = len(pk.deficit)
		}
		for range 4 * active * 64 {
			i := pk.next
			if i >= active {
				i, pk.next = 0, 0
			}
			if pk.deficit[i] >= n {
				pk.deficit[i] -= n
				return i
			}
			pk.next++
			if pk.next >= active {
				pk.next = 0
			}
			pk.deficit[pk.next] += pk.weights[pk.next] * pk.quantum
		}
		return pk.next
	}
	// Least loaded, ties broken in turn from the last choice.
	pk.next++
	if pk.next >= active {
		pk.next = 0
	}
	best, bestLoad := pk.next, load(pk.next)
	for k := 1; k < active && bestLoad > 0; k++ {
		i := pk.next + k
		if i >= active {
			i -= active
		}
		if l := load(i); l < bestLoad {
			best, bestLoad = i, l
		}
	}
	return best
}
