// Package park holds a worker's parked items: a Queue of values waiting
// for a due time (a retry backoff), earliest first, ties in the order
// they were parked. It takes no clock of its own: callers give the due
// times and compare them with theirs.
package park

import (
	"container/heap"
	"time"
)

// An Entry is one value in a Queue. Its Value is the caller's; the
// Queue owns the rest.
type Entry[V any] struct {
	Value V
	due   time.Time
	seq   uint64 // park order, for ties in due time
	i     int    // index in the heap
}

// Due returns when the entry is due.
func (e *Entry[V]) Due() time.Time { return e.due }

// A Queue orders entries by due time, then by the order they were parked
// (Push) or last delayed (Delay). The zero Queue is empty and ready to
// use. It is not safe for concurrent use: a worker owns it.
type Queue[V any] struct {
	h    entries[V]
	nseq uint64
}

// Len returns the number of entries.
func (q *Queue[V]) Len() int { return len(q.h) }

// First returns the earliest entry, nil if the queue is empty.
func (q *Queue[V]) First() *Entry[V] {
	if len(q.h) == 0 {
		return nil
	}
	return q.h[0]
}

// Push parks v until due, behind the entries already due at that time.
func (q *Queue[V]) Push(v V, due time.Time) *Entry[V] {
	q.nseq++
	e := &Entry[V]{Value: v, due: due, seq: q.nseq}
	heap.Push(&q.h, e)
	return e
}

// Delay makes e, which must be in q, due at due instead, behind the
// entries already due at that time.
func (q *Queue[V]) Delay(e *Entry[V], due time.Time) {
	q.nseq++
	e.due, e.seq = due, q.nseq
	heap.Fix(&q.h, e.i)
}

// Remove takes e, which must be in q, out of it.
func (q *Queue[V]) Remove(e *Entry[V]) { heap.Remove(&q.h, e.i) }

// Entries returns the entries in no particular order. The slice is the
// queue's own: the caller must not change it, and it is valid until the
// next change of the queue.
func (q *Queue[V]) Entries() []*Entry[V] { return q.h }

// Clear empties the queue.
func (q *Queue[V]) Clear() { q.h = nil }

// entries is the heap of a Queue (container/heap).
type entries[V any] []*Entry[V]

func (h entries[V]) Len() int { return len(h) }
func (h entries[V]) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h entries[V]) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].i = i; h[j].i = j }
func (h *entries[V]) Push(x any)   { e := x.(*Entry[V]); e.i = len(*h); *h = append(*h, e) }
func (h *entries[V]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
