package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
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

	// step handles one item (user code); it calls emit for each output
	// and counts the item (out, filtered).
	step func(ctx context.Context, w *worker[T, U], e *envelope[T]) error
	// onEOS emits held state at the end of stream (batch, keyed).
	onEOS func(ctx context.Context, w *worker[T, U]) error
	// onTick handles a timer; onStart re-arms timers at each start.
	onTick  func(ctx actor.Context, w *worker[T, U], gen uint64) error
	onStart func(ctx actor.Context, w *worker[T, U], s *slot[T])
	onSweep func(w *worker[T, U])
	// ordered is true when out is a reorder buffer, which must get one
	// result per input batch.
	ordered bool
	retry   *strategy.BackoffState
	// waiting accumulates the time a batch spent in sends and retry
	// backoffs; it is not processing time (latency, autoscaler
	// utilisation).
	waiting time.Duration
}

// emit passes one output downstream.
func (w *worker[T, U]) emit(seq uint64, v U) {
	if w.out.add(seq, v) {
		w.want = true
	}
	w.c.emitted++
}

func (w *worker[T, U]) data(ctx actor.Context, s *slot[T], b *batch[T]) (err error) {
	st := w.st
	if st.p.stopping.Load() {
		w.stopNow(s, b)
		return nil
	}
	if !b.counted {
		b.counted = true
		w.c.taken += int64(len(b.items))
	}
	if w.ordered {
		w.out.(*toReorder[U]).begin(b.olo, b.on)
	}
	start := time.Now()
	w.waiting = 0
	defer func() {
		if r := recover(); r != nil {
			// A panic in user code fails this incarnation; the runtime
			// redelivers b to the next one, which resumes at b.next with
			// this attempt counted.
			pe := actor.NewPanicError(r)
			b.lastErr = pe
			w.c.errs++
			err = pe
		}
		st.commit(&w.c)
	}()
	maxAttempts := st.cfg.attempts
	for b.next < len(b.items) {
		e := &b.items[b.next]
		if b.attempts >= maxAttempts {
			w.poison(e, b)
			continue
		}
		if b.attempts > 0 {
			w.c.retries++
		}
		b.attempts++
		if ierr := w.call(ctx, e); ierr != nil {
			w.c.errs++
			b.lastErr = ierr
			if st.p.stopping.Load() {
				w.stopNow(s, b)
				return nil
			}
			if ctx.Err() != nil {
				// This incarnation is being stopped (not the pipeline):
				// the item gets its attempt back on the next one.
				b.attempts--
				return ierr
			}
			if b.attempts < maxAttempts {
				if werr := w.backoff(ctx, b.attempts); werr != nil {
					return werr
				}
			}
			continue
		}
		b.next++
		b.attempts, b.lastErr = 0, nil
		if w.want {
			if serr := w.send(ctx, false); serr != nil {
				return w.sendFailed(s, b, serr)
			}
		}
	}
	d := time.Since(start) - w.waiting
	w.waiting = 0
	st.lat.record(d, len(b.items))
	if w.sc != nil {
		w.sc.busy.Add(int64(d))
	}
	if w.out != nil {
		// Adaptive batching: keep a partial output batch while more input
		// is queued; send it when the input is momentarily empty.
		all := w.ordered || s.in.load(s.idx) == 0
		if serr := w.send(ctx, all); serr != nil {
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

// poison dead-letters items[b.next] after its last attempt and moves on.
func (w *worker[T, U]) poison(e *envelope[T], b *batch[T]) {
	reason := ReasonPoison
	var de *deadlineError
	if errors.As(b.lastErr, &de) {
		reason = ReasonDeadline
	}
	w.st.deadLetter(e.seq, e.item, reason, b.attempts, b.lastErr, w.adj)
	b.next++
	b.attempts, b.lastErr = 0, nil
}

// backoff waits before the next attempt of an item that returned an
// error (the stage's Retry backoff).
func (w *worker[T, U]) backoff(ctx context.Context, attempt int) error {
	cfg := w.st.cfg.retry
	if cfg.Min <= 0 {
		return nil
	}
	if attempt <= 1 || w.retry == nil {
		w.retry = strategy.NewBackoffState(cfg)
	}
	d := w.retry.Next(nil)
	t := time.NewTimer(d)
	defer t.Stop()
	defer func(start time.Time) { w.waiting += time.Since(start) }(time.Now())
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker[T, U]) send(ctx context.Context, all bool) error {
	w.want = false
	w.adj.flush()
	t := time.Now()
	err := w.out.send(ctx, all)
	w.waiting += time.Since(t)
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
	if !b.counted {
		b.counted = true
		w.c.taken += int64(len(b.items))
	}
	w.st.commit(&w.c)
	for _, e := range b.remaining() {
		w.st.deadLetter(e.seq, e.item, ReasonStopped, b.attempts, nil, nil)
	}
	b.next = len(b.items)
	if w.out != nil {
		w.out.drop()
	}
}

func (w *worker[T, U]) eos(ctx actor.Context, s *slot[T]) error {
	if w.onEOS != nil {
		if err := w.onEOS(ctx, w); err != nil {
			return err
		}
	}
	w.st.commit(&w.c)
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
	return w.onTick(ctx, w, gen)
}

func (w *worker[T, U]) started(ctx actor.Context, s *slot[T]) {
	if w.onStart != nil {
		w.onStart(ctx, w, s)
	}
}

func (w *worker[T, U]) sweep(s *slot[T]) {
	if w.onSweep != nil {
		w.onSweep(w)
	}
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
		err = st.cfg.router.validate(st.cfg.workers, typeName[T]())
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
	inb := newInbox[T](st, st.cfg.workers, "w")
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
	st.init = func() error {
		st.acks.Store(int32(len(inb.slots)))
		if ro != nil {
			ro.init()
		}
		return nil
	}
	st.spec = func() *supervisor.ChildSpec {
		specs := inb.workerSpecs(func(i int) handler[T] {
			w := &worker[T, U]{st: st, adj: p.newAdj(), sc: sc}
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
