package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pipeline/internal/park"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// A worker is the handler of one worker slot of a stage taking T and
// emitting U. It survives the restarts of the slot's actor: the per-item
// engine below keeps its progress in the batch, its pending outputs here.
type worker[T, U any] struct {
	st   *stage
	out  outlet[U] // nil for a sink
	adj  *adjBuf
	sc   *scaler
	want bool // out has a full batch to send
	c    counts
	ss   *slotStats // the slot's per-worker counters

	// step handles one item (user code); it calls emit for each output
	// and counts the item (out, filtered).
	step func(ctx context.Context, w *worker[T, U], e *envelope[T]) error
	// onEOS emits held state at the end of stream (batch, keyed).
	onEOS func(ctx context.Context, w *worker[T, U]) error
	// onTick handles a timer; onStart re-arms timers at each start.
	onTick  func(ctx actor.Context, w *worker[T, U], gen uint64) error
	onStart func(ctx actor.Context, w *worker[T, U], s *slot[T])
	onSweep func(w *worker[T, U])
	// ordered is true when out is a reorder buffer (a *toReorder[U]).
	ordered bool
	// waiting accumulates the time a batch spent in sends waiting for
	// room downstream (a send to a stage's workers that finds room at
	// once is not timed), waiting for room to park and retrying parked
	// items; it is not processing time (latency, autoscaler utilisation).
	waiting time.Duration
	// dirty: outputs were emitted since the last send of everything
	// pending (all), so the end of a batch has something to send.
	// justSent: no step ran since the last send, which ended at sentAt
	// (a reading of mono): the end of a batch reuses that reading.
	dirty    bool
	justSent bool
	sentAt   time.Duration

	// Retries after a backoff (see park). keyOf is the key hash under
	// ByKey routing (nil otherwise); rnd draws the jitter.
	keyOf func(T) uint64
	rnd   *rand.Rand
	parking[T]

	// stepping is the batch whose current item is in a step (user code),
	// nil between steps. A panic in a step unwinds to the runtime, which
	// recovers it and fails the incarnation; its WithFailure hook (failed)
	// finds here the batch whose item failed.
	stepping *batch[T]
}

// parking holds a worker's parked items: the items waiting out their
// Retry backoff, and under ByKey routing the later items of their keys,
// held behind them. It is owned by the slot's current incarnation (and
// by the sweep once the actors stopped), like the rest of the worker.
//
// A parked item leaves its batch, so the worker goes on with the items
// behind it; one runtime delay (actor.After), armed for the earliest due
// item, posts a kRetry message to the slot's actor, whose handler retries
// the due items (in due order) through data, so that attempts, panics,
// poison and dead letters work as for any batch. A parked item stays in
// the queue until it is done: a panic during its retry fails the
// incarnation (system messages are not redelivered, and its delay ends
// with it; failed counts the attempt), and the next incarnation's start
// re-arms the delay, which finds it due at once and resumes it with that
// attempt counted.
type parking[T any] struct {
	parked park.Queue[parkedBatch[T]]
	keys   map[uint64]*parked[T] // ByKey: the parked batch of each held key
	held   int                   // items in parked, not yet handled
	firing *parked[T]            // the parked batch being retried
	stop   func() bool           // cancels the armed kRetry (actor.After); nil if none
}

// parked is one parked item, in a batch of its own (Value.b):
// Items[Next] waits for its retry at Due, and under ByKey routing the
// items after it are the later items of its key. In an ordered stage the
// batch has one item and covers its order number.
type parked[T any] = park.Entry[parkedBatch[T]]

// parkedBatch is what a worker parks: the batch and, under ByKey
// routing, the key of its items.
type parkedBatch[T any] struct {
	b     *batch[T]
	key   uint64
	keyed bool
}

// emit passes one output downstream.
func (w *worker[T, U]) emit(seq uint64, v U) {
	if w.out.add(seq, v) {
		w.want = true
	}
	w.dirty = true
	w.c.emitted++
}

func (w *worker[T, U]) data(ctx actor.Context, s *slot[T], b *batch[T]) error {
	st := w.st
	if st.p.stopping.Load() {
		w.stopNow(s, b)
		return nil
	}
	if !b.Counted {
		b.Counted = true
		w.c.taken += int64(len(b.Items))
	}
	var ro *toReorder[U]
	if w.ordered {
		ro = w.out.(*toReorder[U])
	}
	// firing: b is a parked batch being retried. Its items are not parked
	// or held again: an item of it that fails again stays where it is.
	firing := w.firing != nil && w.firing.Value.b == b
	start := mono()
	w.waiting, w.justSent = 0, false
	// data runs nested when a retry runs inside waitRoom: the outer call
	// owns busySince.
	busy := w.ss.busySince.Load() == 0
	if busy {
		w.ss.busySince.Store(busyMark(start))
	}
	// A panic in a step is not recovered here: it unwinds through this
	// defer to the runtime, which fails the incarnation and calls failed,
	// then redelivers b to the next incarnation, which resumes at b.Next
	// with this attempt counted.
	defer func() {
		st.commitSlot(&w.c, w.ss)
		if busy {
			w.ss.busySince.Store(0)
		}
	}()
	maxAttempts := st.cfg.attempts
	end := b.OrderLo + uint64(b.OrderN) // ordered: the order numbers of b end here
loop:
	for b.Next < len(b.Items) {
		w.justSent = false
		e := &b.Items[b.Next]
		if w.parked.Len() > 0 && !firing { // a single test on the common path
			if w.held >= st.cfg.buffer {
				if werr := w.waitRoom(ctx, s); werr != nil {
					return werr
				}
				if st.p.stopping.Load() {
					w.stopNow(s, b)
					return nil
				}
			}
			if len(w.keys) > 0 && w.hold(e) {
				b.Next++
				continue
			}
		}
		if ro != nil {
			ro.ensure(b.OrderLo+uint64(b.Next), end)
		}
		if b.Attempts >= maxAttempts {
			w.poison(e, b)
			continue
		}
		if b.Attempts > 0 {
			w.c.retries++
		}
		b.Attempts++
		w.stepping = b
		ierr := w.call(ctx, e)
		w.stepping = nil
		if ierr != nil {
			// An attempt cut short by a stop is not a failure: the
			// item is dead-lettered as stopped, or gets its attempt
			// back on the next incarnation.
			if st.p.stopping.Load() {
				w.stopNow(s, b)
				return nil
			}
			b.LastErr = ierr
			if ctx.Err() != nil {
				// This incarnation is being stopped (not the pipeline).
				b.Attempts--
				return ierr
			}
			w.c.errs++
			if b.Attempts < maxAttempts {
				st.p.logRetry(st, b.Attempts, ierr)
				if d := w.delay(b.Attempts); d > 0 {
					if firing {
						w.repark(ctx, d)
						break loop // the items after it (its key's) wait behind it
					}
					w.park(ctx, s, b, e, ro, d)
				}
			}
			continue
		}
		b.Next++
		b.Attempts, b.LastErr = 0, nil
		if w.want {
			if serr := w.send(ctx, false); serr != nil {
				return w.sendFailed(s, b, serr)
			}
		}
	}
	if ro != nil && b.Next >= len(b.Items) {
		ro.finish(end)
	}
	// end: the clock read after the last send, if no step ran after it.
	fin := w.sentAt
	if !w.justSent {
		fin = mono()
	}
	d := fin - start - w.waiting
	w.waiting = 0
	st.lat.Record(d, len(b.Items))
	if w.sc != nil {
		w.sc.busy.Add(int64(d))
	}
	if w.out != nil && (w.dirty || w.ordered) {
		// Adaptive batching: keep a partial output batch while more input
		// is queued; send it when the input is momentarily empty.
		all := w.ordered || s.in.load(s.idx) == 0
		if serr := w.sendAt(ctx, all, fin); serr != nil {
			return w.sendFailed(s, b, serr)
		}
	}
	w.adj.flush()
	return nil
}

// call runs one attempt of the step, with the stage's timeout if any.
func (w *worker[T, U]) call(ctx context.Context, e *envelope[T]) error {
	if d := w.st.cfg.timeout; d > 0 {
		tctx, cancel := context.WithTimeout(ctx, d)
		err := w.step(tctx, w, e)
		timedOut := err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded)
		cancel()
		if timedOut {
			return &deadlineError{err}
		}
		return err
	}
	return w.step(ctx, w, e)
}

type deadlineError struct{ err error }

func (e *deadlineError) Error() string { return "pipeline: attempt timed out: " + e.err.Error() }
func (e *deadlineError) Unwrap() error { return e.err }

// failed is the slot actor's WithFailure hook (see slot.failed): it runs
// on the actor's goroutine after the runtime recovered a panic of a step,
// before the incarnation ends and b is redelivered. The failed attempt of
// the item at b.Next was counted in b.Attempts before the step; failed
// records its error, for the retry or the poison dead letter the next
// incarnation decides on. A failure outside a step (a send cut short by
// a stop, a timer's handling) leaves stepping nil: there is no item to
// charge it to.
func (w *worker[T, U]) failed(f *actor.Failure) {
	b := w.stepping
	if b == nil {
		return
	}
	w.stepping = nil
	b.LastErr = f.Err
	w.c.errs++
	w.ss.fid.Store(uint64(f.ID))
	w.st.commitSlot(&w.c, w.ss)
}

// poison dead-letters Items[b.Next] after its last attempt and moves on.
func (w *worker[T, U]) poison(e *envelope[T], b *batch[T]) {
	reason := DeadPoison
	var de *deadlineError
	if errors.As(b.LastErr, &de) {
		reason = DeadTimeout
	}
	id := w.st.deadLetter(e.Seq, e.Item, reason, b.Attempts, b.LastErr, w.adj)
	w.c.poisoned++
	var fid observe.FailureID
	var pe *actor.PanicError
	if errors.As(b.LastErr, &pe) {
		fid = observe.FailureID(w.ss.fid.Load()) // the failure of the attempt that panicked
	}
	w.st.p.logPoison(w.st, id, reason, b.Attempts, b.LastErr, fid)
	b.Next++
	b.Attempts, b.LastErr = 0, nil
}

// delay returns the Retry backoff after an item's attempts-th failed
// attempt: the attempts-th delay of the stage's Backoff, jittered with
// the worker's generator. It is a function of the attempt number and one
// draw, so it needs no per-item state.
func (w *worker[T, U]) delay(attempts int) time.Duration {
	cfg := w.st.cfg.retry
	if cfg.Min <= 0 {
		return 0
	}
	bs := strategy.NewBackoffState(cfg)
	for range attempts - 1 {
		bs.Next(nil)
	}
	return bs.Next(w.rnd)
}

// park takes Items[b.Next], which just failed, out of b to wait d for
// its retry, and moves b on to the next item. In an ordered stage it ends
// the current result before the item (see toReorder).
func (w *worker[T, U]) park(ctx actor.Context, s *slot[T], b *batch[T], e *envelope[T], ro *toReorder[U], d time.Duration) {
	nb := s.in.pool.Get()
	nb.Items = append(nb.Items, *e)
	nb.Attempts, nb.LastErr = b.Attempts, b.LastErr
	nb.Counted = true
	if ro != nil {
		at := b.OrderLo + uint64(b.Next)
		ro.split(at)
		nb.OrderLo, nb.OrderN, nb.Ordered = at, 1, true
	}
	v := parkedBatch[T]{b: nb}
	if w.keyOf != nil {
		v.key, v.keyed = w.keyOf(e.Item), true
	}
	pb := w.parked.Push(v, time.Now().Add(d))
	if v.keyed {
		if w.keys == nil {
			w.keys = map[uint64]*parked[T]{}
		}
		w.keys[v.key] = pb
	}
	w.held++
	b.Next++
	b.Attempts, b.LastErr = 0, nil
	w.arm(ctx)
}

// repark makes the parked batch being retried wait d more: its current
// item failed again.
func (w *worker[T, U]) repark(ctx actor.Context, d time.Duration) {
	w.parked.Delay(w.firing, time.Now().Add(d))
	w.arm(ctx)
}

// hold parks e behind the parked item of its key, if any (ByKey routing:
// the items of one key stay in order).
func (w *worker[T, U]) hold(e *envelope[T]) bool {
	pb := w.keys[w.keyOf(e.Item)]
	if pb == nil {
		return false
	}
	pb.Value.b.Items = append(pb.Value.b.Items, *e)
	w.held++
	return true
}

// arm arms a runtime delay (actor.After) that posts a kRetry to the
// slot's actor when the earliest parked item is due, in place of the one
// armed before. The delay belongs to the incarnation of ctx: the next
// incarnation's start arms it again. A kRetry that finds nothing due (a
// delay that fired just before it was replaced) is harmless.
func (w *worker[T, U]) arm(ctx actor.Context) {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	first := w.parked.First()
	if first == nil {
		return
	}
	d := max(time.Until(first.Due()), 0)
	// ctx is the slot actor's own, so After cannot fail.
	w.stop, _ = actor.After(ctx, d, &batch[T]{Kind: kRetry})
}

// retryDue retries the parked items that are due, earliest first, and
// re-arms the timer for the next one.
func (w *worker[T, U]) retryDue(ctx actor.Context, s *slot[T]) error {
	now := time.Now()
	for pb := w.parked.First(); pb != nil && !pb.Due().After(now); pb = w.parked.First() {
		if err := w.retryOne(ctx, s, pb); err != nil {
			return err
		}
	}
	w.arm(ctx)
	return nil
}

// retryOne retries the parked batch pb through data. pb leaves the queue
// once it is done; if its item failed again, data re-parked it.
func (w *worker[T, U]) retryOne(ctx actor.Context, s *slot[T], pb *parked[T]) error {
	if err := w.fire(ctx, s, pb); err != nil {
		return err
	}
	if len(pb.Value.b.Remaining()) > 0 {
		// An item failed again: data re-parked pb, due after now, so
		// retryDue does not pick it again in this round.
		return nil
	}
	w.parked.Remove(pb)
	if pb.Value.keyed && w.keys[pb.Value.key] == pb {
		delete(w.keys, pb.Value.key)
	}
	s.in.pool.Put(pb.Value.b)
	return nil
}

// fire runs the retry of the parked batch pb through data. Its
// bookkeeping is deferred, so that it is done when a step's panic unwinds
// through it to the runtime as well.
func (w *worker[T, U]) fire(ctx actor.Context, s *slot[T], pb *parked[T]) error {
	b := pb.Value.b
	before := len(b.Remaining())
	waiting := w.waiting // retryOne may run inside data (waitRoom)
	start := time.Now()
	w.firing = pb
	defer func() {
		w.firing = nil
		w.waiting = waiting + time.Since(start)
		w.held -= before - len(b.Remaining())
	}()
	return w.data(ctx, s, b)
}

// waitRoom waits while the worker holds as many parked items as its
// Buffer: it retries the earliest as soon as it is due, until there is
// room for one more. Meanwhile the worker takes no input, so its
// producers wait (backpressure).
func (w *worker[T, U]) waitRoom(ctx actor.Context, s *slot[T]) error {
	for w.held >= w.st.cfg.buffer && w.parked.Len() > 0 && !w.st.p.stopping.Load() {
		if d := time.Until(w.parked.First().Due()); d > 0 {
			start := time.Now()
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			w.waiting += time.Since(start)
		}
		if err := w.retryDue(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker[T, U]) send(ctx context.Context, all bool) error {
	if _, ok := w.out.(waitTaker); ok {
		return w.sendAt(ctx, all, 0)
	}
	return w.sendAt(ctx, all, mono())
}

// sendAt is send, given a reading t of mono taken just before (unused
// for a waitTaker outlet).
func (w *worker[T, U]) sendAt(ctx context.Context, all bool, t time.Duration) error {
	w.want = false
	w.adj.flush()
	err := w.out.send(ctx, all)
	var d time.Duration
	if wt, ok := w.out.(waitTaker); ok {
		// The outlet timed its waits: no clock read for a send that
		// found room. The batch's end reads the clock.
		d = wt.takeWaited()
	} else {
		w.sentAt = mono()
		w.justSent = true
		d = w.sentAt - t
	}
	if err == nil && all {
		w.dirty = false
	}
	w.waiting += d
	if d != 0 {
		w.st.blocked.Add(int64(d))
	}
	return err
}

// sendFailed handles a send that returned an error: the pipeline is
// stopping (dead-letter everything held), or this incarnation is being
// stopped (fail it; the runtime keeps b for the next one, the pending
// outputs stay here).
func (w *worker[T, U]) sendFailed(s *slot[T], b *batch[T], err error) error {
	if w.st.p.stopping.Load() {
		w.stopNow(s, b)
		return nil
	}
	return err
}

// stopNow dead-letters the rest of b and the pending outputs.
func (w *worker[T, U]) stopNow(s *slot[T], b *batch[T]) {
	if !b.Counted {
		b.Counted = true
		w.c.taken += int64(len(b.Items))
	}
	w.st.commitSlot(&w.c, w.ss)
	for _, e := range b.Remaining() {
		w.st.deadLetter(e.Seq, e.Item, DeadStopped, b.Attempts, nil, nil)
	}
	b.Next = len(b.Items)
	if w.out != nil {
		w.out.drop()
	}
}

func (w *worker[T, U]) eos(ctx actor.Context, s *slot[T]) error {
	if w.parked.Len() > 0 {
		// The parked items go out before the end of stream (see
		// slot.heldEOS); what is pending goes out now, as the input ended.
		if w.out != nil {
			if err := w.send(ctx, true); err != nil {
				if w.st.p.stopping.Load() {
					w.out.drop()
					return nil
				}
				return err
			}
		}
		return errEOSHeld
	}
	if w.onEOS != nil {
		if w.ordered {
			w.out.(*toReorder[U]).atEOS = true
		}
		if err := w.onEOS(ctx, w); err != nil {
			return err
		}
	}
	w.st.commitSlot(&w.c, w.ss)
	if w.out == nil {
		return nil
	}
	if err := w.send(ctx, true); err != nil {
		if w.st.p.stopping.Load() {
			w.out.drop()
			return nil
		}
		return err
	}
	return nil
}

func (w *worker[T, U]) tick(ctx actor.Context, s *slot[T], gen uint64) error {
	if w.onTick == nil {
		return nil
	}
	// A tick can emit (a Batch group passed on by its timer, a Keyed
	// flush): its counters are committed here like those of a data batch,
	// or they would wait for the worker's next batch, which may never
	// come (the pipeline stops), leaving the items in flight.
	defer w.st.commitSlot(&w.c, w.ss)
	return w.onTick(ctx, w, gen)
}

func (w *worker[T, U]) started(ctx actor.Context, s *slot[T]) {
	if w.onStart != nil {
		w.onStart(ctx, w, s)
	}
	// The previous incarnation's delay ended with it, or it may have
	// failed retrying: look again.
	w.arm(ctx)
}

func (w *worker[T, U]) sweep(s *slot[T]) {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	for _, pb := range w.parked.Entries() {
		b := pb.Value.b
		for i, e := range b.Remaining() {
			attempts := 0
			if i == 0 {
				attempts = b.Attempts
			}
			w.st.deadLetter(e.Seq, e.Item, DeadStopped, attempts, nil, nil)
		}
		s.in.pool.Put(b)
	}
	w.parked.Clear()
	w.keys, w.held = nil, 0
	if w.onSweep != nil {
		w.onSweep(w)
	}
	// Counters left by a message handler that failed (a panic in a
	// Keyed Flush, say) before it committed them.
	w.st.commitSlot(&w.c, w.ss)
	if w.out != nil {
		w.out.drop()
	}
	w.adj.flush()
}

// workerStage builds a stage of workers taking T and emitting U (a sink
// when sink is true). setup fills in each worker's step and hooks.
func workerStage[T, U any](in *Stream[T], name, kind string, opts []StageOption, bad error, sink bool,
	setup func(st *stage, w *worker[T, U])) *Stream[U] {
	if !usable(in) {
		return &Stream[U]{}
	}
	p := in.p
	st, err := p.newStage(name, kind, opts)
	if err == nil && bad != nil {
		err = fmt.Errorf("%s %q: %w", kind, name, bad)
		p.addErr(err)
	}
	if err == nil {
		err = validateRouter[T](st.cfg.router, st.cfg.workers)
		if err != nil {
			err = fmt.Errorf("%s %q: %w", kind, name, err)
			p.addErr(err)
		}
	}
	if err != nil {
		absorb(in)
		return newStream[U](p, name, true)
	}
	var out *Stream[U]
	if !sink {
		out = newStream[U](p, name, false)
	} else {
		p.mu.Lock()
		p.sinks++
		p.mu.Unlock()
	}
	st.input = typeName[T]()
	st.inputs = in.from
	inb := newInbox[T](st, st.cfg.workers, "w")
	st.workers = inb.observeWorkers
	for _, s := range inb.slots {
		st.slots = append(st.slots, &s.stats)
	}
	if err := connect(in, name, target[T](inb)); err != nil {
		return newStream[U](p, name, true)
	}
	var sc *scaler
	if st.cfg.scale != nil {
		sc = &scaler{st: st, cfg: *st.cfg.scale, capB: inb.capB, depth: func() int {
			d := 0
			for i := range inb.slots {
				d += inb.load(i)
			}
			return d
		}}
		p.mu.Lock()
		p.runners = append(p.runners, func() {
			p.bgWG.Add(1)
			// Owner: the pipeline; stopped by bgCancel in manage, which
			// waits for it.
			go func() { defer p.bgWG.Done(); autoscaleLoop(p.bgCtx, sc) }()
		})
		p.mu.Unlock()
	}
	var ro *reorder[U]
	if st.cfg.ordered && !sink {
		ro = newReorder[T, U](st, out, inb)
	}
	st.reset = func() {
		inb.resetRun()
		if ro != nil {
			ro.resetRun(ro.window0)
		}
	}
	st.init = func() error {
		st.acks.Store(int32(len(inb.slots)))
		if ro != nil {
			ro.init()
		}
		return nil
	}
	st.spec = func() *supervisor.ChildSpec {
		specs := inb.workerSpecs(func(i int) handler[T] {
			w := &worker[T, U]{st: st, adj: p.newAdj(), sc: sc, rnd: p.workerRand(st.name, i), ss: &inb.slots[i].stats}
			p.slotsByPath[p.rootPath+"/"+st.name+"/"+inb.slots[i].name] = w.ss
			if st.cfg.router.Rule() == routeKey {
				w.keyOf = keyHash[T](st.cfg.router)
			}
			switch {
			case ro != nil:
				w.out = ro.workerOutlet(i)
				w.ordered = true
			case !sink:
				w.out = out.target.outlet(w.adj)
			}
			setup(st, w)
			return w
		})
		if ro != nil {
			specs = append(specs, ro.spec())
		}
		return st.stageSpec(specs)
	}
	switch {
	case sink:
		st.onDone = func(context.Context) { p.sinkDone() }
	case ro != nil:
		st.onDone = ro.inputDone
	default:
		st.onDone = func(ctx context.Context) { out.target.upstreamDone(ctx) }
	}
	st.sweep = func() {
		inb.sweepSlots()
		if ro != nil {
			ro.sweepAll()
		}
	}
	st.inject = inb.replay
	if !sink {
		prev := st.init
		st.init = func() error {
			out.target.addUpstream()
			return prev()
		}
	}
	return out
}

// workerRand returns the jitter generator of worker i of stage name,
// seeded from the pipeline's seed (WithSeed), the name and i.
func (p *Pipeline) workerRand(name string, i int) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(p.cfg.seed, h.Sum64()^uint64(i)*0x9e3779b97f4a7c15))
}
