package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/supervisor"
)

// An Inlet is the actor in front of a FromRef source: other actors Tell
// items to its Ref, and Close ends the stream. Its methods are safe for
// concurrent use.
type Inlet[T any] struct {
	p      *Pipeline
	src    *source[T]
	stable actor.Ref[T] // what Ref returns: forwards to ref

	mu  sync.Mutex // guards ref
	ref actor.Ref[T]

	// Guarded by the source's lock (src.lock): the run's close state.
	closed  bool          // Close was called in this run
	ended   bool          // the stream of this run ended: later items are late
	want    uint64        // the messages the Ref had accepted when Close was called
	handled uint64        // the messages the inlet actor handled in this run
	end     chan struct{} // closed when the stream of this run ends
}

// FromRef adds a source fed by an actor: its Ref (Inlet.Ref) takes items
// from other actors and pushes back when full, like any bounded mailbox.
// The actor is the worker /…/<pipeline>/<name> of the pipeline's tree,
// with a mailbox of capacity items (policy Block): when the pipeline
// downstream is slow, the actor waits to pass its item on, its mailbox
// fills, and then Tell waits (bounded by its ctx) and TryTell fails with
// an error matching actor.ErrFull. Close ends the stream after the items
// the Ref accepted before it. Items that arrive after the stream ended
// (after Close, or once Stop or an abort stopped the sources) are
// dead-lettered with DeadStopped and counted in In and DeadLettered;
// items still in the mailbox when the pipeline's actors stop go to the
// System's dead letters, as for any actor. A capacity below 1 makes the
// pipeline invalid.
func FromRef[T any](p *Pipeline, name string, capacity int) (*Stream[T], *Inlet[T]) {
	in := &Inlet[T]{p: p}
	in.stable = actor.RefTo[T](inletEndpoint[T]{in})
	if p != nil && capacity < 1 {
		p.addErr(fmt.Errorf("source %q: %w", name, invalidf("capacity %d < 1", capacity)))
	}
	out, s := newSourceS(p, name, func(s *source[T]) error {
		p := s.p
		s.lock()
		end := in.end
		s.unlock()
		select {
		case <-end:
			return nil
		case <-p.srcCtx.Done():
		}
		s.lock()
		in.ended = true
		s.unlock()
		return errStopReading
	})
	if s == nil {
		return out, in
	}
	in.src = s
	st := s.st
	init := st.init
	st.init = func() error {
		in.mu.Lock()
		in.ref = actor.Ref[T]{}
		in.mu.Unlock()
		in.closed, in.ended, in.want, in.handled = false, false, 0, 0
		in.end = make(chan struct{})
		return init()
	}
	st.spec = func() *supervisor.ChildSpec {
		spec := supervisor.NewWorker(name, func() actor.Actor[T] { return &inletActor[T]{in: in} },
			actor.WithMailbox(max(capacity, 1), mailbox.Block), actor.WithKind(kindInlet))
		spec.Shutdown = p.cfg.shutdown
		return &spec
	}
	return out, in
}

// Ref returns the inlet's Ref. It is one Ref for every run of the
// pipeline: it delivers to the inlet actor of the current run, or of the
// last run until the next one's inlet started, so it can be kept across
// a Rerun or a restart of a pipeline child. Between two runs it behaves
// as the Ref of an ended actor: Tell and TryTell refuse items with an
// error matching actor.ErrStopped and dead-letter them (nothing is kept
// for the next run). Before the first run started, they return an error
// matching ErrNotRunning and take nothing. Its Path, PID and Stats are
// those of that run's inlet actor.
func (in *Inlet[T]) Ref() actor.Ref[T] { return in.stable }

// runRef returns the Ref of the current (or last) run's inlet actor, the
// zero Ref before the first run started.
func (in *Inlet[T]) runRef() actor.Ref[T] {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ref
}

// inletEndpoint is the far end of an Inlet's Ref: it forwards to the
// current run's inlet actor.
type inletEndpoint[T any] struct{ in *Inlet[T] }

func (e inletEndpoint[T]) Tell(ctx context.Context, v T) error {
	ref := e.in.runRef()
	if ref.PID() == nil {
		return e.in.notRunning()
	}
	return ref.Tell(ctx, v)
}

func (e inletEndpoint[T]) TryTell(v T) error {
	ref := e.in.runRef()
	if ref.PID() == nil {
		return e.in.notRunning()
	}
	return ref.TryTell(v)
}

func (e inletEndpoint[T]) PID() actor.PID { return e.in.runRef().PID() }

func (e inletEndpoint[T]) System() *actor.System {
	if e.in.p == nil {
		return nil
	}
	return e.in.p.System()
}

func (in *Inlet[T]) notRunning() error {
	name := ""
	if in.src != nil {
		name = in.src.st.name
	}
	return fmt.Errorf("pipeline: source %q: %w", name, ErrNotRunning)
}

// Close ends the stream of the current run once the items the Ref
// accepted before Close are in the pipeline. It returns ErrNotRunning if
// no run has started, nil if the stream already ended, or ctx.Err() if ctx
// ended while the source was busy passing an item on. A nil ctx waits as
// long as that takes.
func (in *Inlet[T]) Close(ctx context.Context) error {
	ref := in.runRef()
	if in.src == nil || ref.PID() == nil {
		return ErrNotRunning
	}
	ctx = orBackground(ctx)
	s := in.src
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer s.unlock()
	if in.closed || in.ended {
		return nil
	}
	in.closed = true
	in.want = ref.Stats().Accepted
	in.maybeEnd()
	return nil
}

// maybeEnd ends the stream once every item accepted before Close was
// handled; the source's lock is held.
func (in *Inlet[T]) maybeEnd() {
	if in.closed && !in.ended && in.handled >= in.want {
		in.ended = true
		close(in.end)
	}
}

// receive passes one item from the Ref's mailbox into the pipeline.
func (in *Inlet[T]) receive(v T) {
	s := in.src
	s.lock()
	defer s.unlock()
	in.handled++
	if in.ended || s.p.stopping.Load() {
		s.st.in.Add(1)
		s.st.deadLetter(0, v, DeadStopped, 0, nil, nil)
		return
	}
	if err := s.put(v, 0); err == nil && in.runRef().Len() == 0 {
		// Adaptive batching: send a partial batch when no item waits.
		_ = s.flush(true)
	}
	// An error means the pipeline is aborting: the sweep dead-letters
	// what the source holds.
	in.maybeEnd()
}

// inletActor is one incarnation of a FromRef source's actor.
type inletActor[T any] struct{ in *Inlet[T] }

func (a *inletActor[T]) Start(ctx actor.Context) error {
	ref, _ := actor.Self[T](ctx)
	a.in.mu.Lock()
	a.in.ref = ref
	a.in.mu.Unlock()
	return nil
}

func (a *inletActor[T]) Receive(_ actor.Context, v T) error {
	a.in.receive(v)
	return nil
}

// ToRef adds a sink that delivers each item to an actor and waits for its
// acknowledgement: wrap makes the message for the item and an ack
// function, which the actor calls once it has handled the item (later
// calls are ignored). The item is done, for the counters and the
// checkpoint, only when ack(nil) was called. ack(err), a Tell that fails
// (the actor stopped), or an ack that does not come before the attempt's
// Timeout is a failed attempt: the item is retried and dead-lettered as
// poison after its last attempt, following the stage's Retry options.
// Each worker has one item in flight, so Workers(n) bounds the items sent
// and not yet acknowledged to n; the actor's bounded mailbox pushes back
// as for any Tell. A zero ref or a nil wrap makes the pipeline invalid.
func ToRef[T, M any](in *Stream[T], name string, ref actor.Ref[M], wrap func(item T, ack func(error)) M, opts ...StageOption) {
	bad := nilFunc(wrap == nil)
	if bad == nil && ref.PID() == nil {
		bad = invalidf("zero Ref")
	}
	workerStage(in, name, "sink", opts, bad, true, func(st *stage, w *worker[T, struct{}]) {
		w.step = func(ctx context.Context, w *worker[T, struct{}], e *envelope[T]) error {
			acked := make(chan error, 1)
			var once atomic.Bool
			ack := func(err error) {
				if once.CompareAndSwap(false, true) {
					acked <- err
				}
			}
			if err := ref.Tell(ctx, wrap(e.Item, ack)); err != nil {
				return err
			}
			select {
			case err := <-acked:
				if err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
			w.c.out++
			w.adj.add(e.Seq, -1)
			return nil
		}
	})
}
