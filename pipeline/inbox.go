package pipeline

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline/internal/order"
)

// inbox is the input side of a stage: the slots of its actors, the pool
// of its batches, and the end-of-stream bookkeeping. It is the target of
// the stream feeding the stage.
type inbox[T any] struct {
	st     *stage
	slots  []*slot[T]
	pool   batchPool[T]
	router Router
	capB   int // mailbox capacity in batches
	policy mailbox.Policy
	ord    *order.Gate // non-nil for an ordered stage

	ups     atomic.Int32 // producer groups that have not ended
	eosMu   sync.RWMutex // Replay holds it shared while sending; EOS exclusively
	eosSent bool         // guarded by eosMu
	counted bool         // counts In/sent (false for internal inboxes)
	// stopped, if set, takes the data batches stopBatch would dead-letter
	// (an internal inbox whose items are another stage's input).
	stopped func(b *batch[T])
}

func newInbox[T any](st *stage, n int, prefix string) *inbox[T] {
	in := &inbox[T]{st: st, pool: batchPool[T]{Size: st.p.cfg.batch}, router: st.cfg.router, policy: st.cfg.overflow, counted: true}
	b := st.p.cfg.batch
	in.capB = max(1, (st.cfg.buffer+b-1)/b)
	in.slots = make([]*slot[T], n)
	for i := range in.slots {
		in.slots[i] = &slot[T]{in: in, idx: i, name: prefix + strconv.Itoa(i)}
	}
	return in
}

func (in *inbox[T]) load(i int) int {
	if r := in.slots[i].ref.Load(); r != nil {
		return r.Len()
	}
	return 0
}

// outlet implements target.
func (in *inbox[T]) outlet(adj *adjBuf) outlet[T] {
	o := &toStage[T]{in: in, size: in.st.p.cfg.batch, adj: adj, pk: newPicker(in.router, in.st.p.cfg.batch)}
	if in.router.Rule() == routeKey {
		o.key = keyHash[T](in.router)
		o.per = make([]*batch[T], len(in.slots))
	}
	return o
}

func (in *inbox[T]) addUpstream() { in.ups.Add(1) }

// upstreamDone records that one producer group has sent everything; the
// last one sends EOS to every slot, behind all the data in its mailbox.
//
// The EOS is sent with the pipeline's context, not the caller's: the
// caller is often a worker whose incarnation may be stopped (a group
// restart) while it waits for room, and an EOS that is not delivered
// would leave the stage waiting forever. An abort cancels that context.
func (in *inbox[T]) upstreamDone(context.Context) {
	if in.ups.Add(-1) != 0 {
		return
	}
	in.eosMu.Lock()
	in.eosSent = true
	in.eosMu.Unlock()
	ctx := in.st.p.runCtx
	for _, s := range in.slots {
		b := in.pool.Get()
		b.Kind = kEOS
		if err := in.deliver(ctx, s, b); err != nil {
			return // only when the pipeline aborts
		}
	}
}

// deliver sends b to slot s, waiting while its mailbox is full. A batch
// refused because the slot's actor stopped (ErrStopped) has been handed
// to the workers' undelivered hook (takeBack), which rescues it: it counts as delivered. Any
// other error (the sender's context ended) leaves b with the caller.
func (in *inbox[T]) deliver(ctx context.Context, s *slot[T], b *batch[T]) error {
	return in.send(ctx, s, b, false)
}

// send is deliver; with try it returns actor.ErrFull at once instead of
// waiting for room.
func (in *inbox[T]) send(ctx context.Context, s *slot[T], b *batch[T], try bool) error {
	b.Slot = s
	b.SendSeq = s.sendSeq.Add(1)
	n := len(b.Items)
	if b.Kind == kData {
		if in.ord != nil && !b.Ordered {
			if err := in.ord.Acquire(ctx, n); err != nil {
				return err
			}
			b.OrderLo, b.OrderN, b.Ordered = in.ord.Assign(n), n, true
		}
		if in.counted {
			in.st.in.Add(uint64(n))
			in.st.sent.Add(int64(n))
			s.stats.recv.Add(uint64(n))
		}
	}
	ref := s.ref.Load()
	var err error
	switch {
	case ref == nil:
		s.rescue(b)
	case try:
		err = ref.TryTell(b)
	default:
		err = ref.Tell(ctx, b)
	}
	if err == nil || errors.Is(err, actor.ErrStopped) {
		return nil
	}
	if b.Kind == kData && in.counted {
		in.st.in.Add(^uint64(n - 1))
		in.st.sent.Add(-int64(n))
		s.stats.recv.Add(^uint64(n - 1))
	}
	return err
}

// deliverShared sends b to the least loaded worker that has room, like a
// queue shared by the workers: a producer never waits on one worker (a
// slow or stuck one) while another has room. When all are full it waits
// on the least loaded one for a short while, then looks again. It adds
// to *waited the time it spent once worker first had no room (or, for an
// ordered stage, from the start: the order window may make it wait),
// reading no clock when that worker has room.
func (in *inbox[T]) deliverShared(ctx context.Context, first int, b *batch[T], waited *time.Duration) error {
	if in.ord == nil {
		err := in.send(ctx, in.slots[first], b, true)
		if !errors.Is(err, actor.ErrFull) {
			return err
		}
	}
	t := mono()
	err := in.shared(ctx, first, b)
	*waited += mono() - t
	return err
}

// shared is deliverShared's loop.
func (in *inbox[T]) shared(ctx context.Context, first int, b *batch[T]) error {
	active := min(int(in.st.active.Load()), len(in.slots))
	wait := time.Millisecond
	for {
		err := in.send(ctx, in.slots[first], b, true)
		if !errors.Is(err, actor.ErrFull) {
			return err
		}
		best, bestLoad := first, in.load(first)
		for k := 1; k < active; k++ {
			i := (first + k) % active
			l := in.load(i)
			if l < in.capB {
				err = in.send(ctx, in.slots[i], b, true)
				if !errors.Is(err, actor.ErrFull) {
					return err
				}
			}
			if l < bestLoad {
				best, bestLoad = i, l
			}
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err = in.send(wctx, in.slots[best], b, false)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		first = best
		wait = min(2*wait, 16*time.Millisecond)
		active = min(int(in.st.active.Load()), len(in.slots))
	}
}
