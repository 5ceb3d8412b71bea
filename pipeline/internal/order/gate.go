// Package order holds the bookkeeping of an ordered stage's input: a Gate
// that numbers the items entering the stage and bounds how many are
// between its input and its reorder buffer.
package order

import (
	"context"
	"sync"
	"sync/atomic"
)

// A Gate hands out permits and order numbers. A producer takes permits
// for a batch (Acquire) before it numbers it (Assign), so every numbered
// batch holds permits and the oldest one can always make progress: the
// reorder buffer, which releases the permits of what it passed on, never
// waits for a batch that waits for permits. Its methods are safe for
// concurrent use.
type Gate struct {
	mu      sync.Mutex    // guards free, waiters
	free    int           // permits available
	waiters chan struct{} // closed when permits are released
	next    atomic.Uint64 // next order number
}

// NewGate returns a gate with permits permits, numbering from 0.
func NewGate(permits int) *Gate { return &Gate{free: permits} }

// Acquire takes n permits, waiting until they are free or ctx ends (then
// it returns ctx.Err() and takes none).
func (g *Gate) Acquire(ctx context.Context, n int) error {
	for {
		g.mu.Lock()
		if g.free >= n {
			g.free -= n
			g.mu.Unlock()
			return nil
		}
		if g.waiters == nil {
			g.waiters = make(chan struct{})
		}
		w := g.waiters
		g.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back n permits and wakes the waiting Acquires.
func (g *Gate) Release(n int) {
	g.mu.Lock()
	g.free += n
	if g.waiters != nil {
		close(g.waiters)
		g.waiters = nil
	}
	g.mu.Unlock()
}

// Assign returns the first of n consecutive order numbers.
func (g *Gate) Assign(n int) uint64 { return g.next.Add(uint64(n)) - uint64(n) }

// Free returns the permits available now.
func (g *Gate) Free() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.free
}

// Reset makes the gate as NewGate(permits) made it, for a new run. No
// Acquire may be waiting.
func (g *Gate) Reset(permits int) {
	g.mu.Lock()
	g.free, g.waiters = permits, nil
	g.mu.Unlock()
	g.next.Store(0)
}
