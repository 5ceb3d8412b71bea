package pipeline

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// A handler is the per-slot logic of an actor that takes batches of T:
// a worker, a reorder buffer or a priority merge. It lives as long as the
// pipeline, across restarts of the actor, and is only used by the actor's
// current incarnation (and by sweep once the actors stopped).
type handler[T any] interface {
	// data handles a data batch. nil means it is fully handled and may be
	// recycled; an error fails the incarnation and the runtime redelivers
	// the batch, whose progress fields say where to resume.
	data(ctx actor.Context, s *slot[T], b *batch[T]) error
	// eos handles the end of stream: flush what is held and pending.
	eos(ctx actor.Context, s *slot[T]) error
	// tick handles a timer (batch and keyed stages).
	tick(ctx actor.Context, s *slot[T], gen uint64) error
	// started runs when an incarnation starts (re-arm timers).
	started(ctx actor.Context, s *slot[T])
	// sweep dead-letters what the handler holds, after the actors stopped.
	sweep(s *slot[T])
}

// workerSpecs builds the child specs of the stage's workers, one per
// slot, giving each slot its handler h(i).
func (in *inbox[T]) workerSpecs(h func(i int) handler[T]) []supervisor.ChildSpec {
	p := in.st.p
	specs := make([]supervisor.ChildSpec, len(in.slots))
	for i, s := range in.slots {
		s.h = h(i)
		specs[i] = supervisor.NewWorker(s.name, func() actor.Actor[*batch[T]] { return &slotActor[T]{s: s} },
			actor.WithMailbox(in.capB, in.policy),
			// The batch carries per-item attempts; the runtime must never
			// dead-letter a whole batch as poison.
			actor.WithMaxAttempts(math.MaxInt32),
			// One message per turn: the runtime takes no more than one
			// batch out of the mailbox ahead of handling it, so the
			// mailbox bound is the bound on queued items.
			actor.WithThroughput(1),
			actor.WithUndelivered(takeBack[T]),
			// The runtime recovers a panic of the handler's code and
			// fails the incarnation; the slot learns of it here.
			actor.WithFailure(s.failed),
			in.st.profileLabels(),
			actor.WithKind(kindWorker))
		specs[i].Shutdown = p.cfg.shutdown
	}
	return specs
}

// A slot is one actor of a stage: the Ref of its current incarnation and
// everything that must survive its restarts (the handler, the batches
// rescued from a previous actor of the slot).
type slot[T any] struct {
	in   *inbox[T]
	idx  int
	name string
	h    handler[T]
	ref  atomic.Pointer[actor.Ref[*batch[T]]]

	mu      sync.Mutex  // guards rescued
	rescued []*batch[T] // batches of a stopped actor of this slot, by SendSeq
	sendSeq atomic.Uint64

	// eosDropped: a drop policy dropped the EOS sent to this slot; the
	// actor handles it once its mailbox is empty.
	eosDropped atomic.Bool

	// Owned by the slot's current incarnation.
	eosDone bool
	eosHeld bool // the handler deferred the EOS (errEOSHeld); handled again after each retry
	starts  int
	busy    atomic.Bool // an incarnation is inside Receive

	stats slotStats
}

// slotActor is one incarnation of a slot's actor. It has no state of its
// own: a fresh one per restart, as the runtime wants.
type slotActor[T any] struct{ s *slot[T] }

func (a *slotActor[T]) Start(ctx actor.Context) error { a.s.started(ctx); return nil }

func (a *slotActor[T]) Receive(ctx actor.Context, b *batch[T]) error {
	s := a.s
	s.busy.Store(true)
	err := s.receive(ctx, b)
	s.busy.Store(false)
	return err
}

// A failer is a handler that charges a failure of its actor to the item
// it was handling (a worker).
type failer interface{ failed(f *actor.Failure) }

// failed is the WithFailure hook of the slot's actor: it runs on the
// actor's goroutine when an incarnation failed (a panic the runtime
// recovered, or an error), before the runtime redelivers the batch in
// flight to the next one. A panic skipped the end of Receive, so the slot
// and the batch are no longer busy; the handler records the failed item.
func (s *slot[T]) failed(f *actor.Failure) {
	s.busy.Store(false)
	if b, ok := f.Message.(*batch[T]); ok {
		// A mailbox message (data or EOS): held by the runtime for its
		// redelivery, not recycled. (Control batches come with Urgent,
		// and carry no message here.)
		b.Busy.Store(false)
	}
	if fh, ok := s.h.(failer); ok {
		fh.failed(f)
	}
}

func (s *slot[T]) started(ctx actor.Context) {
	ref, _ := actor.Self[*batch[T]](ctx)
	s.starts++
	if s.starts > 1 {
		s.in.st.restarts.Add(1)
		s.stats.restarts.Add(1)
		if s.in.counted {
			s.in.st.p.logRestart(s.in.st, s.idx, &s.stats)
		}
	}
	s.mu.Lock()
	s.ref.Store(&ref)
	pending := len(s.rescued) > 0
	s.mu.Unlock()
	s.h.started(ctx, s)
	if pending {
		s.wake(ref)
	}
}

func (s *slot[T]) wake(ref actor.Ref[*batch[T]]) {
	w := s.in.pool.Get()
	w.Kind = kWake
	_ = ref.Urgent(w) // lost only if the actor stopped: the next start or the sweep takes over
}

func (s *slot[T]) receive(ctx actor.Context, b *batch[T]) error {
	switch b.Kind {
	case kWake:
		s.in.pool.Put(b)
		if err := s.drainRescued(ctx); err != nil {
			return err
		}
		return s.droppedEOS(ctx)
	case kTick:
		g := b.Gen
		s.in.pool.Put(b)
		if s.in.st.p.stopping.Load() {
			return nil
		}
		return s.h.tick(ctx, s, g)
	case kRetry:
		s.in.pool.Put(b)
		if s.in.st.p.stopping.Load() {
			return nil // the sweep dead-letters the parked items
		}
		if r, ok := s.h.(retrier[T]); ok {
			if err := r.retryDue(ctx, s); err != nil {
				var pe *actor.PanicError
				if ctx.Err() != nil && !errors.As(err, &pe) {
					// This incarnation is being stopped: not a failure (a
					// system message's error would count as one). The
					// item got its attempt back and stays parked; the
					// next incarnation's start re-arms its timer.
					return nil
				}
				return err
			}
		}
		return s.heldEOS(ctx)
	}
	b.Busy.Store(true)
	err := s.handle(ctx, b)
	b.Busy.Store(false)
	if err != nil {
		return err
	}
	if !b.Held {
		s.in.pool.Put(b)
	}
	return s.droppedEOS(ctx)
}

// droppedEOS handles an EOS that a drop policy dropped (DropNewest on a
// full mailbox): it stands behind everything that was queued then, so it
// is handled once the mailbox is empty. The undelivered hook wakes the
// actor after setting the flag, so an idle actor sees it too.
func (s *slot[T]) droppedEOS(ctx actor.Context) error {
	if !s.eosDropped.Load() || s.in.load(s.idx) != 0 {
		return nil
	}
	s.eosDropped.Store(false)
	b := s.in.pool.Get()
	b.Kind = kEOS
	if err := s.handle(ctx, b); err != nil {
		s.eosDropped.Store(true)
		return err
	}
	s.in.pool.Put(b)
	return nil
}

// heldEOS handles an EOS that the handler deferred because it still held
// parked items; it runs after each round of retries and defers it again
// while some remain.
func (s *slot[T]) heldEOS(ctx actor.Context) error {
	if !s.eosHeld {
		return nil
	}
	s.eosHeld = false
	b := s.in.pool.Get()
	b.Kind = kEOS
	err := s.handle(ctx, b)
	s.in.pool.Put(b)
	if err != nil {
		s.eosHeld = true
	}
	return err
}

// errEOSHeld is returned by a handler's eos to defer the end of stream:
// it still holds items (parked for a retry) that must go out before it.
var errEOSHeld = errors.New("pipeline: end of stream held")

// A retrier is a handler that parks items for a retry backoff (a worker).
// retryDue retries the parked items that are due; the slot's kRetry
// messages call it.
type retrier[T any] interface {
	retryDue(ctx actor.Context, s *slot[T]) error
}

func (s *slot[T]) handle(ctx actor.Context, b *batch[T]) error {
	if b.Kind == kEOS {
		if s.eosDone || s.in.st.p.stopping.Load() {
			return nil
		}
		if err := s.h.eos(ctx, s); err != nil {
			if errors.Is(err, errEOSHeld) {
				s.eosHeld = true
				return nil
			}
			return err
		}
		s.eosDone = true
		if !s.in.counted {
			return nil // an internal actor (reorder buffer): not a worker
		}
		if st := s.in.st; st.acks.Add(-1) == 0 && st.onDone != nil {
			st.onDone(ctx)
		}
		return nil
	}
	return s.h.data(ctx, s, b)
}
