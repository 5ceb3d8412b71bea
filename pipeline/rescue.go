package pipeline

import (
	"context"
	"slices"

	"github.com/troupe-go/troupe/actor"
)

// drainRescued handles the slot's rescued batches in order. A batch stays
// first in the list until it is fully handled, so a failure leaves it for
// the next incarnation (whose start wakes it).
func (s *slot[T]) drainRescued(ctx actor.Context) error {
	for {
		s.mu.Lock()
		if len(s.rescued) == 0 {
			s.mu.Unlock()
			return nil
		}
		b := s.rescued[0]
		s.mu.Unlock()
		if err := s.handle(ctx, b); err != nil {
			return err
		}
		s.mu.Lock()
		if i := slices.Index(s.rescued, b); i >= 0 {
			s.rescued = slices.Delete(s.rescued, i, i+1)
		}
		s.mu.Unlock()
		if !b.Held {
			s.in.pool.Put(b)
		}
	}
}

// rescue takes a batch that the runtime dead-lettered because the slot's
// actor stopped (a stage restart) or that could not be sent, and hands it
// to the slot's next actor, or dead-letters its items if the pipeline is
// stopping. It runs on the goroutine that dead-lettered the batch and
// never blocks.
func (s *slot[T]) rescue(b *batch[T]) {
	if s.in.st.p.stopping.Load() {
		s.stopBatch(b)
		return
	}
	s.mu.Lock()
	// Keep the list in send order. Two goroutines rescue concurrently
	// when a slot's actor stops: the one stopping it dead-letters its
	// queued batches while senders' later batches are refused; appending
	// in arrival order would let a later batch (even the EOS) overtake
	// queued ones.
	i := len(s.rescued)
	for i > 0 && s.rescued[i-1].SendSeq > b.SendSeq {
		i--
	}
	s.rescued = slices.Insert(s.rescued, i, b)
	ref := s.ref.Load()
	s.mu.Unlock()
	if ref != nil {
		s.wake(*ref)
	}
}

// stopBatch dead-letters the unhandled items of b with DeadStopped.
func (s *slot[T]) stopBatch(b *batch[T]) {
	if b.Kind == kData && s.in.stopped != nil {
		s.in.stopped(b)
		return
	}
	if b.Kind == kData {
		st := s.in.st
		if !b.Counted && s.in.counted {
			b.Counted = true
			st.taken.Add(int64(len(b.Items)))
			s.stats.taken.Add(int64(len(b.Items)))
		}
		for _, e := range b.Remaining() {
			st.deadLetter(e.Seq, e.Item, DeadStopped, b.Attempts, nil, nil)
		}
		b.Next = len(b.Items)
	}
	s.in.pool.Put(b)
}

// takeBack is the WithUndelivered hook of the actors that take batches
// of T (workers, reorder buffers, merges): a batch the runtime could not
// deliver comes back to its slot (see onDead) instead of going to the
// System's dead letters, so a pipeline needs nothing of its System.
func takeBack[T any](d actor.DeadLetter) bool {
	b, ok := d.Message.(*batch[T])
	if ok {
		onDead(b, d.Reason)
	}
	return ok
}

// onDead handles a batch the runtime could not deliver (takeBack).
func onDead[T any](b *batch[T], reason actor.DeadLetterReason) {
	s, _ := b.Slot.(*slot[T]) // set by send; nil if never sent
	if s == nil {
		return
	}
	if b.Busy.Load() {
		// Still held by an abandoned incarnation; it stays in flight.
		return
	}
	switch {
	case reason == actor.DeadDropped && b.Kind == kEOS:
		s.eosDropped.Store(true)
		s.in.pool.Put(b)
		if ref := s.ref.Load(); ref != nil {
			s.wake(*ref)
		}
	case reason == actor.DeadDropped:
		st := s.in.st
		if b.Kind == kData {
			if !b.Counted && s.in.counted {
				b.Counted = true
				st.taken.Add(int64(len(b.Items)))
				s.stats.taken.Add(int64(len(b.Items)))
			}
			for _, e := range b.Remaining() {
				st.deadLetter(e.Seq, e.Item, DeadDropped, 0, nil, nil)
			}
		}
		s.in.pool.Put(b)
	default:
		s.rescue(b)
	}
}

// sweepSlots dead-letters what the slots still hold once every actor
// stopped: rescued batches and the handlers' pending outputs.
func (in *inbox[T]) sweepSlots() {
	for _, s := range in.slots {
		s.mu.Lock()
		rs := s.rescued
		s.rescued = nil
		s.mu.Unlock()
		for _, b := range rs {
			s.stopBatch(b)
		}
		if s.h != nil && !s.busy.Load() {
			s.h.sweep(s)
		}
	}
}

// replay sends dead-lettered items back into the stage.
func (in *inbox[T]) replay(ctx context.Context, dls []DeadLetter) ([]DeadLetter, error) {
	var items []envelope[T]
	var rest []DeadLetter
	for _, d := range dls {
		v, ok := d.Item.(T)
		if !ok && d.Item != nil {
			rest = append(rest, d)
			continue
		}
		items = append(items, envelope[T]{Seq: d.Seq, Item: v})
	}
	in.eosMu.RLock()
	defer in.eosMu.RUnlock()
	if in.eosSent {
		return dls, ErrInputEnded
	}
	size := in.st.p.cfg.batch
	pk := newPicker(LeastLoaded(), size)
	t := in.st.p.tracker
	for len(items) > 0 {
		n := min(size, len(items))
		b := in.pool.Get()
		b.Items = append(b.Items, items[:n]...)
		i := pk.pick(int(in.st.active.Load()), n, in.load)
		// Replayed items were counted done when dead-lettered: they are
		// live again for the checkpoint watermark.
		track(t, b.Items, +1)
		if err := in.deliver(ctx, in.slots[i], b); err != nil {
			track(t, b.Items, -1)
			for _, e := range b.Items {
				rest = append(rest, DeadLetter{Stage: in.st.name, Item: e.Item, Seq: e.Seq, Reason: DeadStopped})
			}
			for _, e := range items[n:] {
				rest = append(rest, DeadLetter{Stage: in.st.name, Item: e.Item, Seq: e.Seq, Reason: DeadStopped})
			}
			return rest, err
		}
		items = items[n:]
	}
	if len(rest) > 0 {
		return rest, invalidf("%d dead letters do not hold items of type %s", len(rest), in.st.input)
	}
	return nil, nil
}

func track[T any](t *tracker, items []envelope[T], d int64) {
	if t == nil {
		return
	}
	ds := make([]seqDelta, len(items))
	for i, e := range items {
		ds[i] = seqDelta{e.Seq, d}
	}
	t.apply(ds)
}
