package pipeline

import (
	"context"
	"sync"
)

// Map adds a stage that turns each item into one output with fn. fn runs
// on the stage's workers, concurrently when there are several (see
// Workers); a returned error or a panic is a failed attempt: the item is
// retried (see Retry), then dead-lettered. ctx is cancelled when the
// worker is asked to stop.
func Map[T, U any](in *Stream[T], name string, fn func(ctx context.Context, item T) (U, error), opts ...StageOption) *Stream[U] {
	return workerStage(in, name, "map", opts, nilFunc(fn == nil), false, func(st *stage, w *worker[T, U]) {
		w.step = func(ctx context.Context, w *worker[T, U], e *envelope[T]) error {
			u, err := fn(ctx, e.Item)
			if err != nil {
				return err
			}
			w.emit(e.Seq, u)
			w.c.out++
			return nil
		}
	})
}

// Filter adds a stage that passes on the items for which keep returns
// true. Dropped items are counted in Filtered. Errors and panics are
// failed attempts, as for Map.
func Filter[T any](in *Stream[T], name string, keep func(ctx context.Context, item T) (bool, error), opts ...StageOption) *Stream[T] {
	return workerStage(in, name, "filter", opts, nilFunc(keep == nil), false, func(st *stage, w *worker[T, T]) {
		w.step = func(ctx context.Context, w *worker[T, T], e *envelope[T]) error {
			ok, err := keep(ctx, e.Item)
			if err != nil {
				return err
			}
			if ok {
				w.emit(e.Seq, e.Item)
				w.c.out++
			} else {
				w.c.filtered++
				w.adj.add(e.Seq, -1)
			}
			return nil
		}
	})
}

// FlatMap adds a stage that turns each item into zero or more outputs:
// fn calls emit for each (only during its own call). The outputs of an
// attempt are passed on only if the attempt succeeds, so a retried item
// emits its outputs once.
func FlatMap[T, U any](in *Stream[T], name string, fn func(ctx context.Context, item T, emit func(U)) error, opts ...StageOption) *Stream[U] {
	return workerStage(in, name, "flatmap", opts, nilFunc(fn == nil), false, func(st *stage, w *worker[T, U]) {
		var buf []U
		add := func(v U) { buf = append(buf, v) }
		w.step = func(ctx context.Context, w *worker[T, U], e *envelope[T]) error {
			clear(buf)
			buf = buf[:0]
			if err := fn(ctx, e.Item, add); err != nil {
				return err
			}
			for _, v := range buf {
				w.emit(e.Seq, v)
			}
			w.adj.add(e.Seq, int64(len(buf))-1)
			w.c.out++
			return nil
		}
	})
}

// ToFunc adds a sink that calls fn for each item. A sink has one worker
// unless Workers says otherwise; with one worker fn sees the items in the
// order they arrive (a retry after a Retry backoff comes after the items
// that arrived meanwhile). Errors and panics are failed attempts, as for
// Map.
func ToFunc[T any](in *Stream[T], name string, fn func(ctx context.Context, item T) error, opts ...StageOption) {
	workerStage(in, name, "sink", opts, nilFunc(fn == nil), true, func(st *stage, w *worker[T, struct{}]) {
		w.step = func(ctx context.Context, w *worker[T, struct{}], e *envelope[T]) error {
			if err := fn(ctx, e.Item); err != nil {
				return err
			}
			w.c.out++
			w.adj.add(e.Seq, -1)
			return nil
		}
	})
}

// ToChan adds a sink that sends each item on ch, waiting while the
// receiver is slow (backpressure). The pipeline closes ch once it has
// stopped, whatever the outcome, so a range over ch ends.
func ToChan[T any](in *Stream[T], name string, ch chan<- T, opts ...StageOption) {
	if ch != nil && usable(in) {
		in.p.mu.Lock()
		in.p.closers = append(in.p.closers, func() { close(ch) })
		in.p.mu.Unlock()
		in.p.onceOnly(name)
	}
	workerStage(in, name, "sink", opts, nilFunc(ch == nil), true, func(st *stage, w *worker[T, struct{}]) {
		w.step = func(ctx context.Context, w *worker[T, struct{}], e *envelope[T]) error {
			select {
			case ch <- e.Item:
			case <-ctx.Done():
				return ctx.Err()
			}
			w.c.out++
			w.adj.add(e.Seq, -1)
			return nil
		}
	})
}

// A Collector gathers the items that reach a Collect sink. Its methods
// are safe for concurrent use.
type Collector[T any] struct {
	mu    sync.Mutex // guards items
	items []T
}

// Items returns a copy of the items collected so far, in arrival order.
// After Wait returned nil it holds every item.
func (c *Collector[T]) Items() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.items...)
}

// Len returns the number of items collected so far.
func (c *Collector[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Collect adds a sink that gathers the items in memory.
func Collect[T any](in *Stream[T], name string, opts ...StageOption) *Collector[T] {
	c := &Collector[T]{}
	workerStage(in, name, "sink", opts, nil, true, func(st *stage, w *worker[T, struct{}]) {
		w.step = func(ctx context.Context, w *worker[T, struct{}], e *envelope[T]) error {
			c.mu.Lock()
			c.items = append(c.items, e.Item)
			c.mu.Unlock()
			w.c.out++
			w.adj.add(e.Seq, -1)
			return nil
		}
	})
	return c
}

func nilFunc(isNil bool) error {
	if isNil {
		return invalidf("nil function")
	}
	return nil
}
