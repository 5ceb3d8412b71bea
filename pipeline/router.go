package pipeline

import (
	"fmt"

	"github.com/troupe-go/troupe/route"
)

// Router kinds, as the stage code names them.
const (
	routeLeast    = route.RuleLeastLoaded
	routeWeighted = route.RuleWeighted
	routeKey      = route.RuleByKey
)

// A Router says how the producers feeding a stage spread batches over its
// workers. Each producer (a source, or a worker of the stage upstream)
// routes on its own. Build one with LeastLoaded, RoundRobin, Weighted or
// ByKey; the zero Router is invalid. It is [route.Router]: the routers
// of actor pools (package pool) are the same values.
type Router = route.Router

// LeastLoaded sends each batch to the worker with the fewest queued
// batches, ties broken in turn. It behaves like one queue shared by the
// workers, without the shared lock. It is the default. It is
// [route.LeastLoaded].
func LeastLoaded() Router { return route.LeastLoaded() }

// RoundRobin sends batches to the workers in turn. It is
// [route.RoundRobin].
func RoundRobin() Router { return route.RoundRobin() }

// Weighted spreads items over the workers in proportion to weights (one
// positive weight per worker), by deficit round-robin over batches: over
// time worker i gets weights[i]/sum(weights) of the items. It is
// [route.Weighted].
func Weighted(weights ...int) Router { return route.Weighted(weights...) }

// ByKey sends every item to the worker chosen by the hash of key(item):
// items with equal keys always reach the same worker, in the order their
// producer emitted them. Producers split their batches by worker, so
// batches are smaller when there are many workers. It is [route.ByKey].
func ByKey[T any, K comparable](key func(T) K) Router { return route.ByKey(key) }

// validateRouter checks r for a stage of workers workers over items of
// type T.
func validateRouter[T any](r Router, workers int) error {
	if err := r.Validate(workers); err != nil {
		return wrapInvalid(err)
	}
	if _, err := route.Hasher[T](r); err != nil {
		return wrapInvalid(err)
	}
	return nil
}

// wrapInvalid makes an error of package route (a router or scale that
// does not fit) match ErrInvalid too.
func wrapInvalid(err error) error { return fmt.Errorf("%w: %w", ErrInvalid, err) }

// keyHash returns the hash of a ByKey router validated for T.
func keyHash[T any](r Router) func(T) uint64 {
	h, _ := route.Hasher[T](r)
	return h
}

// picker is one producer's routing state for one destination stage (a
// [route.Picker]). It is owned by the producer (a worker slot or a source
// goroutine).
type picker struct {
	*route.Picker
	kind route.Rule
}

func newPicker(r Router, batchSize int) *picker {
	return &picker{Picker: route.NewPicker(r, batchSize), kind: r.Rule()}
}

// pick chooses a worker among the first active ones for a batch of n
// items; load(i) is worker i's queued batches.
func (pk *picker) pick(active, n int, load func(int) int) int { return pk.Pick(active, n, load) }
