// Package mailbox provides the queues behind troupe's actors: a bounded or
// unbounded multi-producer queue with explicit, counted overflow policies
// and watermarks ([Queue]), configured by a [Config]. An actor's mailbox
// is such a queue (actor.WithMailbox sets its capacity and policy).
//
// The package knows nothing of actors and starts no goroutines. The
// scheduling state that runs an actor only while it has work lives in the
// runtime (internal/sched), not here: nothing in it is a user's to set.
//
// # Ordering
//
// A Queue is FIFO. Pushes made by one goroutine are dequeued in the order
// they were made (per-sender FIFO); pushes from different goroutines are
// ordered by the queue's lock.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. Here that means Push and Post
// with a nil ctx wait for space without a deadline; a nil *Config is the
// zero Config.
package mailbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Errors returned by queue operations. They are sentinels: compare with
// [errors.Is].
var (
	// ErrFull is returned by TryPush on a full bounded queue, and by Push
	// when the queue's policy is [Reject].
	ErrFull = errors.New("mailbox: full")
	// ErrClosed is returned by every push after Close, including pushes
	// that were blocked waiting for space when Close was called.
	ErrClosed = errors.New("mailbox: closed")
)

// Policy says what a push does when a bounded queue is full.
type Policy uint8

const (
	// Block makes Push wait until there is space, the queue is closed, or
	// the push's context is done. TryPush returns ErrFull. Block is the
	// default and gives end-to-end backpressure.
	Block Policy = iota
	// Reject makes Push and TryPush return ErrFull at once.
	Reject
	// DropNewest accepts the push and discards the new item. The item is
	// counted in Stats.DroppedNewest and returned to the pusher as the
	// dropped result of Push or TryPush, to dispose of.
	DropNewest
	// DropOldest accepts the push, discards the oldest queued item to make
	// room, counts it in Stats.DroppedOldest and returns it to the pusher
	// as the dropped result of Push or TryPush.
	DropOldest
)

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case Reject:
		return "reject"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Watermark identifies a watermark crossing reported to Config.OnWatermark.
type Watermark uint8

const (
	// High is reported once when the length reaches Config.High.
	High Watermark = iota + 1
	// Low is reported once, after a High, when the length falls to
	// Config.Low or below.
	Low
)

// Config configures a queue. The zero Config is an unbounded queue with no
// watermarks. A Config may be shared by many queues and must not be changed
// after the first queue is built from it.
type Config struct {
	// Capacity bounds the queue; 0 means unbounded.
	Capacity int
	// Policy applies when a bounded queue is full. Default Block.
	Policy Policy
	// High and Low are the watermarks. High 0 disables them. Low must be
	// below High.
	High, Low int
	// OnWatermark, if set, is called when the length crosses High upwards
	// (once) and then Low downwards (once), alternating. It is called with
	// the queue's lock held, so it must be fast and must not call back into
	// the queue.
	OnWatermark func(Watermark)
}

// Validate reports whether c is usable.
func (c *Config) Validate() error {
	switch {
	case c.Capacity < 0:
		return fmt.Errorf("mailbox: negative capacity %d", c.Capacity)
	case c.Policy > DropOldest:
		return fmt.Errorf("mailbox: unknown policy %d", c.Policy)
	case c.High < 0 || c.Low < 0:
		return errors.New("mailbox: negative watermark")
	case c.High > 0 && c.Low >= c.High:
		return fmt.Errorf("mailbox: low watermark %d not below high %d", c.Low, c.High)
	}
	return nil
}

// Stats is a snapshot of a queue's counters. At every quiescent point
// Enqueued = Dequeued + DroppedNewest + DroppedOldest + Len + Drained.
type Stats struct {
	Len, Capacity int
	// Enqueued counts accepted pushes, including those a drop policy then
	// discarded.
	Enqueued uint64
	// Dequeued counts items handed out by PopBatch and PopOne (not those
	// a DropOldest push discarded, nor those Close returned).
	Dequeued uint64
	// DroppedNewest and DroppedOldest count items discarded by the
	// DropNewest and DropOldest policies.
	DroppedNewest, DroppedOldest uint64
	// Rejected counts pushes refused with ErrFull.
	Rejected uint64
	// Drained counts items returned by Close.
	Drained uint64
}

const minRing = 8

// A Queue is a FIFO of M, safe for any number of concurrent pushers and one
// popper at a time. Its storage is a ring that grows on demand (up to the
// capacity, for a bounded queue) and is released when the queue empties, so
// an empty queue costs a few words. A Queue must not be copied after first
// use; build it with [NewQueue] or [Queue.Init].
type Queue[M any] struct {
	cfg *Config

	mu      sync.Mutex    // guards everything below, except length
	buf     []M           // ring; len(buf) is a power of two or 0
	head, n int           // first item, item count
	closed  bool          // set once by Close
	above   bool          // a High was reported and no Low since
	waiters chan struct{} // closed (and reset) when space frees or on Close
	enq     uint64        // Stats.Enqueued
	deq     uint64        // Stats.Dequeued
	rare    *rareStats    // the other counters, allocated on first use

	length atomic.Int64 // mirror of n, written under mu, read lock-free
}

// rareStats holds counters most queues never touch; keeping them out of
// line keeps an idle queue small.
type rareStats struct {
	droppedNewest, droppedOldest, rejected, drained uint64
}

func (q *Queue[M]) rareLocked() *rareStats {
	if q.rare == nil {
		q.rare = new(rareStats)
	}
	return q.rare
}

var defaultConfig = &Config{}

// NewQueue returns an empty queue configured by cfg (nil means the zero
// Config). cfg is not copied: it may be shared and must not change.
func NewQueue[M any](cfg *Config) (*Queue[M], error) {
	q := new(Queue[M])
	if err := q.Init(cfg); err != nil {
		return nil, err
	}
	return q, nil
}

// Init prepares a zero Queue in place (for embedding); see NewQueue.
func (q *Queue[M]) Init(cfg *Config) error {
	if cfg == nil {
		cfg = defaultConfig
	} else if err := cfg.Validate(); err != nil {
		return err
	}
	q.cfg = cfg
	return nil
}

// Len returns the number of queued items. It does not take the lock.
func (q *Queue[M]) Len() int { return int(q.length.Load()) }

// Cap returns the capacity (0 = unbounded).
func (q *Queue[M]) Cap() int { return q.cfg.Capacity }

// Stats returns a snapshot of the counters.
func (q *Queue[M]) Stats() Stats {
	q.mu.Lock()
	s := Stats{Len: q.n, Capacity: q.cfg.Capacity, Enqueued: q.enq, Dequeued: q.deq}
	if r := q.rare; r != nil {
		s.DroppedNewest, s.DroppedOldest, s.Rejected, s.Drained = r.droppedNewest, r.droppedOldest, r.rejected, r.drained
	}
	q.mu.Unlock()
	return s
}

// Push appends m. On a full bounded queue it follows the queue's policy;
// with Block it waits until there is space, the queue is closed
// (ErrClosed) or ctx is done (ctx.Err(), so errors.Is(err,
// context.Canceled) works). dropped reports an item a drop policy
// discarded (the new one for DropNewest, the oldest for DropOldest); the
// caller owns it.
func (q *Queue[M]) Push(ctx context.Context, m M) (dropped M, wasDropped bool, err error) {
	return q.push(ctx, m, true)
}

// TryPush is Push that never waits: on a full queue with policy Block it
// returns ErrFull (and counts it in Stats.Rejected).
func (q *Queue[M]) TryPush(m M) (dropped M, wasDropped bool, err error) {
	return q.push(nil, m, false)
}

// push implements Push (wait) and TryPush (!wait).
//
// TryPush decides "full" in the same critical section that would have
// pushed. Checking for space, unlocking and then calling Push with a done
// context is wrong: another pusher can fill the queue in between, and
// TryPush then returns context.Canceled instead of ErrFull and leaves the
// refusal uncounted.
func (q *Queue[M]) push(ctx context.Context, m M, wait bool) (dropped M, wasDropped bool, err error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return dropped, false, ErrClosed
		}
		c := q.cfg.Capacity
		if c == 0 || q.n < c {
			q.pushLocked(m)
			q.mu.Unlock()
			return dropped, false, nil
		}
		switch q.cfg.Policy {
		case Reject:
			q.rareLocked().rejected++
			q.mu.Unlock()
			return dropped, false, ErrFull
		case DropNewest:
			q.enq++
			q.rareLocked().droppedNewest++
			q.mu.Unlock()
			return m, true, nil
		case DropOldest:
			old := q.popOneLocked()
			q.rareLocked().droppedOldest++
			q.deq-- // popOneLocked counted it as dequeued
			q.pushLocked(m)
			q.mu.Unlock()
			return old, true, nil
		}
		// Block.
		if !wait {
			q.rareLocked().rejected++
			q.mu.Unlock()
			return dropped, false, ErrFull
		}
		// Waiters share one channel that the popper closes when it
		// frees space. A woken waiter retries under the lock, so a barging
		// pusher can take the space first; per-sender order is unaffected
		// because a sender has at most one push in progress.
		if q.waiters == nil {
			q.waiters = make(chan struct{})
		}
		w := q.waiters
		q.mu.Unlock()
		if ctx == nil {
			<-w
			continue
		}
		select {
		case <-w:
		case <-ctx.Done():
			return dropped, false, ctx.Err()
		}
	}
}

func (q *Queue[M]) pushLocked(m M) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = m
	q.n++
	q.enq++
	q.length.Store(int64(q.n))
	if h := q.cfg.High; h > 0 && !q.above && q.n >= h {
		q.above = true
		if f := q.cfg.OnWatermark; f != nil {
			f(High)
		}
	}
}

func (q *Queue[M]) grow() {
	size := 2 * len(q.buf)
	if size < minRing {
		size = minRing
	}
	nb := make([]M, size)
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = nb, 0
}

func (q *Queue[M]) popOneLocked() M {
	var zero M
	i := q.head
	m := q.buf[i]
	q.buf[i] = zero
	q.head = (i + 1) & (len(q.buf) - 1)
	q.n--
	q.deq++
	return m
}

// PopBatch appends up to max queued items (all of them if max <= 0) to dst
// in FIFO order and returns the extended slice. It wakes blocked pushers
// when it frees space. Only one goroutine may pop at a time.
func (q *Queue[M]) PopBatch(dst []M, max int) []M {
	q.mu.Lock()
	k := q.n
	if max > 0 && k > max {
		k = max
	}
	for range k {
		dst = append(dst, q.popOneLocked())
	}
	if k > 0 {
		q.afterPopLocked()
	}
	q.mu.Unlock()
	return dst
}

func (q *Queue[M]) afterPopLocked() {
	q.length.Store(int64(q.n))
	if q.n == 0 && len(q.buf) > 4*minRing {
		q.buf, q.head = nil, 0 // release storage of a queue that emptied
	}
	if q.waiters != nil {
		close(q.waiters)
		q.waiters = nil
	}
	if q.above && q.n <= q.cfg.Low {
		q.above = false
		if f := q.cfg.OnWatermark; f != nil {
			f(Low)
		}
	}
}

// PopOne removes and returns the oldest item, if any. It wakes blocked
// pushers. Only one goroutine may pop at a time.
func (q *Queue[M]) PopOne() (m M, ok bool) {
	q.mu.Lock()
	if q.n > 0 {
		m, ok = q.popOneLocked(), true
		q.afterPopLocked()
	}
	q.mu.Unlock()
	return m, ok
}

// Close makes every later push fail with ErrClosed, wakes blocked pushers,
// and returns the items still queued (in FIFO order) for the caller to
// dispose of. Close is idempotent; later calls return nil.
func (q *Queue[M]) Close() []M {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	var rest []M
	if q.n > 0 {
		rest = make([]M, 0, q.n)
		for q.n > 0 {
			rest = append(rest, q.popOneLocked())
		}
		q.deq -= uint64(len(rest))
		q.rareLocked().drained += uint64(len(rest))
	}
	q.buf = nil
	q.length.Store(0)
	if q.waiters != nil {
		close(q.waiters)
		q.waiters = nil
	}
	return rest
}

// Closed reports whether Close was called.
func (q *Queue[M]) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
