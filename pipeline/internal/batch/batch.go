// Package batch holds the message the actors of a pipeline pass each
// other: a Batch of items with the progress of the actor handling it, and
// a Pool that recycles batches. It knows nothing of stages or actors:
// the destination of a batch is a type parameter, which the pipeline
// fills with its worker slot.
package batch

import (
	"sync"
	"sync/atomic"
)

// An Envelope carries one item through the pipeline with its source
// sequence number (used by checkpoints and dead letters).
type Envelope[T any] struct {
	Seq  uint64
	Item T
}

// Kind says what a Batch is: items, or a control message.
type Kind uint8

// The kinds of batches.
const (
	Data  Kind = iota // items
	EOS               // end of stream, after every data batch of all upstreams
	Wake              // handle the slot's rescued batches (sent with Urgent)
	Tick              // a timer fired (sent with Urgent)
	Retry             // parked items may be due for their retry (sent with Urgent)
)

// A Batch is the message between actors: up to the batch size of items
// plus the progress of the actor handling it. The progress (Next,
// Attempts, LastErr) lives here, not in the actor, so that when a worker
// fails on one item and the runtime redelivers the batch to the fresh
// incarnation, that incarnation resumes at the failing item and counts
// its attempt instead of starting the batch over.
//
// A Batch has one owner at a time: the producer filling it, the mailbox
// (the runtime), the worker handling it, or the rescue list of a slot.
// Ownership passes with Tell (which "synchronizes before" the Receive),
// under the slot's lock, or through the runtime's redelivery.
type Batch[T any] struct {
	Items    []Envelope[T]
	Next     int   // index of the next item to handle
	Attempts int   // failed attempts of Items[Next]
	LastErr  error // last failure of Items[Next]
	Kind     Kind
	Gen      uint64 // Tick: timer generation

	// Ordered stages: the batch covers order numbers [OrderLo, OrderLo+OrderN).
	OrderLo uint64
	OrderN  int
	Ordered bool // OrderLo/OrderN are assigned (a resend keeps them)
	Counted bool // the destination stage counted it as taken (queue depth)
	Held    bool // the handler keeps it (reorder buffer): do not recycle
	// OOB: a result of an ordered stage made outside any input batch (a
	// Batch group flushed by its timer, or at the end of stream: Tail),
	// so without order numbers.
	OOB, Tail bool

	Slot    any         // destination (a worker slot), set by the sender (rescue and dead letters)
	SendSeq uint64      // the slot's send sequence number (rescue order)
	Busy    atomic.Bool // an actor is handling it (the undelivered hook must not touch it)
	inPool  atomic.Bool // in the pool: catches a batch recycled twice
}

func (b *Batch[T]) reset() {
	clear(b.Items)
	b.Items = b.Items[:0]
	b.Next, b.Attempts, b.LastErr = 0, 0, nil
	b.Kind, b.Gen = Data, 0
	b.OrderLo, b.OrderN, b.Ordered, b.Counted, b.Held = 0, 0, false, false, false
	b.OOB, b.Tail = false, false
	b.Slot, b.SendSeq = nil, 0
}

// Remaining returns the items not handled yet: Items[Next:].
func (b *Batch[T]) Remaining() []Envelope[T] {
	if b.Next >= len(b.Items) {
		return nil
	}
	return b.Items[b.Next:]
}

// A Pool recycles batches of one item type. Size is the batch size: a
// fresh batch has room for Size items, and Put drops a batch that grew
// beyond 4×Size. The zero Pool (Size 0) works, without preallocation. A
// Pool must not be copied after first use.
type Pool[T any] struct {
	Size int
	p    sync.Pool
}

// Get returns an empty Data batch, recycled or fresh.
func (bp *Pool[T]) Get() *Batch[T] {
	if b, ok := bp.p.Get().(*Batch[T]); ok {
		b.inPool.Store(false)
		return b
	}
	return &Batch[T]{Items: make([]Envelope[T], 0, bp.Size)}
}

// Put resets b and recycles it; a nil b is ignored. The caller must not
// use b afterwards. Putting a batch that is already in the pool panics:
// two owners recycled it, which would hand it to two producers.
func (bp *Pool[T]) Put(b *Batch[T]) {
	if b == nil || cap(b.Items) > 4*bp.Size {
		return
	}
	if b.inPool.Swap(true) {
		panic("pipeline: batch recycled twice")
	}
	b.reset()
	bp.p.Put(b)
}
