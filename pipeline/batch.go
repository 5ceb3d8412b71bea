package pipeline

import (
	"sync"
	"sync/atomic"
)

// An envelope carries one item through the pipeline with its source
// sequence number (used by checkpoints and dead letters).
type envelope[T any] struct {
	seq  uint64
	item T
}

type batchKind uint8

const (
	kData  batchKind = iota // items
	kEOS                    // end of stream, after every data batch of all upstreams
	kWake                   // handle the slot's rescued batches (sent with Urgent)
	kTick                   // a timer fired (sent with Urgent)
	kRetry                  // parked items may be due for their retry (sent with Urgent)
)

// A batch is the message between actors: up to the batch size of items
// plus the progress of the actor handling it. The progress (next,
// attempts, lastErr) lives here, not in the actor, so that when a worker
// fails on one item and the runtime redelivers the batch to the fresh
// incarnation, that incarnation resumes at the failing item and counts
// its attempt instead of starting the batch over.
//
// A batch has one owner at a time: the producer filling it, the mailbox
// (the runtime), the worker handling it, or the rescue list of a slot.
// Ownership passes with Tell (which "synchronizes before" the Receive),
// under slot.mu, or through the runtime's redelivery.
type batch[T any] struct {
	items    []envelope[T]
	next     int   // index of the next item to handle
	attempts int   // failed attempts of items[next]
	lastErr  error // last failure of items[next]
	kind     batchKind
	gen      uint64 // kTick: timer generation

	// ordered stages: the batch covers order numbers [olo, olo+on).
	olo     uint64
	on      int
	ordered bool // olo/on are assigned (resend keeps them)
	counted bool // the destination stage counted it as taken (queue depth)
	held    bool // the handler keeps it (reorder buffer): do not recycle
	// oob: a result of an ordered stage made outside any input batch (a
	// Batch group flushed by its timer, or at the end of stream: tail),
	// so without order numbers.
	oob, tail bool

	slot   *slot[T]    // destination, set by the sender (rescue and dead letters)
	sseq   uint64      // the slot's send sequence number (rescue order)
	busy   atomic.Bool // an actor is handling it (the undelivered hook must not touch it)
	inPool atomic.Bool // in the pool: catches a batch recycled twice
}

func (b *batch[T]) reset() {
	clear(b.items)
	b.items = b.items[:0]
	b.next, b.attempts, b.lastErr = 0, 0, nil
	b.kind, b.gen = kData, 0
	b.olo, b.on, b.ordered, b.counted, b.held = 0, 0, false, false, false
	b.oob, b.tail = false, false
	b.slot, b.sseq = nil, 0
}

// remaining returns the items not handled yet.
func (b *batch[T]) remaining() []envelope[T] {
	if b.next >= len(b.items) {
		return nil
	}
	return b.items[b.next:]
}

// batchPool recycles batches of one item type.
type batchPool[T any] struct {
	size int
	p    sync.Pool
}

func (bp *batchPool[T]) get() *batch[T] {
	if b, ok := bp.p.Get().(*batch[T]); ok {
		b.inPool.Store(false)
		return b
	}
	return &batch[T]{items: make([]envelope[T], 0, bp.size)}
}

func (bp *batchPool[T]) put(b *batch[T]) {
	if b == nil || cap(b.items) > 4*bp.size {
		return
	}
	if b.inPool.Swap(true) {
		panic("pipeline: batch recycled twice")
	}
	b.reset()
	bp.p.Put(b)
}
