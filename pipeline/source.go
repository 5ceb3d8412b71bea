package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"
)

// errStopReading is what a source's emit returns once the source must
// stop reading (a graceful Stop, or the pipeline aborting).
var errStopReading = errors.New("pipeline: source stopped")

// source is the state of one source goroutine: its outlet, the sequence
// numbers it hands out and, for a resumable source, its tracked batch.
// It is owned by the source goroutine; FromFunc-style sources share it
// with their linger timer under mu.
type source[T any] struct {
	p   *Pipeline
	st  *stage
	out *Stream[T]
	o   outlet[T]
	adj *adjBuf
	c   counts

	seqNext, seqEnd uint64

	// resumable sources
	ts   *trackedSource
	tb   *trackedBatch
	tn   int
	next uint64 // where the input after the last item put starts

	// FromFunc-style sources: sem (a one-slot channel used as a lock)
	// guards the fields above while the linger timer may flush a partial
	// batch from its own goroutine. It is a channel, not a sync.Mutex,
	// because it is held across a blocking send: a goroutine waiting for
	// it is then durably blocked, which testing/synctest needs to move
	// its clock (a mutex wait is not).
	sem    chan struct{}
	dirty  bool        // items added since the last full flush
	armed  bool        // the linger timer is set
	closed atomic.Bool // the source ended: the timer must not flush
	timer  *time.Timer
}

func (s *source[T]) lock()   { s.sem <- struct{}{} }
func (s *source[T]) unlock() { <-s.sem }

func (s *source[T]) tryLock() bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// newSource registers a source named name whose goroutine runs run.
func newSource[T any](p *Pipeline, name string, run func(s *source[T]) error) *Stream[T] {
	out, _ := newSourceS(p, name, run)
	return out
}

// newSourceS is newSource that also returns the source (nil if it could
// not be built).
func newSourceS[T any](p *Pipeline, name string, run func(s *source[T]) error) (*Stream[T], *source[T]) {
	if p == nil {
		return &Stream[T]{}, nil
	}
	st, err := p.newStage(name, "source", nil)
	if err != nil {
		return newStream[T](p, name, true), nil
	}
	st.active.Store(1)
	out := newStream[T](p, name, false)
	s := &source[T]{p: p, st: st, out: out, sem: make(chan struct{}, 1)}
	st.init = func() error {
		out.target.addUpstream()
		s.resetRun()
		s.adj = p.newAdj()
		s.o = out.target.outlet(s.adj)
		return nil
	}
	st.sweep = func() {
		s.lock()
		defer s.unlock()
		s.o.drop()
	}
	p.mu.Lock()
	p.runners = append(p.runners, func() { p.goSource(func() { s.loop(run) }) })
	p.mu.Unlock()
	return out, s
}

func (s *source[T]) loop(run func(s *source[T]) error) {
	p := s.p
	err := run(s)
	s.stopTimer()
	s.lock()
	defer s.unlock()
	if err != nil && !errors.Is(err, errStopReading) && !(errors.Is(err, context.Canceled) && p.srcCtx.Err() != nil) {
		if !p.stopping.Load() {
			p.fail(&StageError{Stage: s.st.name, Err: err})
		}
		return
	}
	if p.stopping.Load() {
		return // the sweep dead-letters what is pending
	}
	if err := s.flush(true); err != nil {
		return
	}
	s.out.target.upstreamDone(p.runCtx)
}

// put hands one item to the outlet, sending full batches. For a
// resumable source, next is where the input after v starts: v itself
// starts at s.next, the next position of the item before it.
func (s *source[T]) put(v T, next uint64) error {
	var seq uint64
	if s.ts != nil {
		if s.tb == nil {
			s.tb = s.p.tracker.open(s.ts, s.p.cfg.batch, s.next)
			s.tn = 0
		}
		seq = s.tb.lo + uint64(s.tn)
		s.tn++
		s.next = next
		if s.tn == s.p.cfg.batch {
			s.p.tracker.close(s.tb, s.tn, s.next)
			s.tb = nil
		}
	} else {
		if s.seqNext == s.seqEnd {
			n := uint64(s.p.cfg.batch)
			s.seqNext = s.p.seq.Add(n) - n
			s.seqEnd = s.seqNext + n
		}
		seq = s.seqNext
		s.seqNext++
	}
	s.c.out++
	s.dirty = true
	if s.o.add(seq, v) {
		return s.flush(false)
	}
	return nil
}

// flush sends the full batches (all: the partial ones too).
func (s *source[T]) flush(all bool) error {
	if n := s.c.out; n != 0 {
		s.st.in.Add(n)
		s.st.emitted.Add(n)
		s.st.out.Add(n)
		s.c.out = 0
	}
	if all {
		if s.tb != nil {
			s.p.tracker.close(s.tb, s.tn, s.next)
			s.tb = nil
		}
		s.dirty = false
	}
	s.adj.flush()
	if wt, ok := s.o.(waitTaker); ok {
		// The outlet times its waits: no clock read when it found room.
		err := s.o.send(s.p.runCtx, all)
		if d := wt.takeWaited(); d != 0 {
			s.st.blocked.Add(int64(d))
		}
		return err
	}
	t := mono()
	err := s.o.send(s.p.runCtx, all)
	s.st.blocked.Add(int64(mono() - t))
	return err
}

// FromSlice adds a source that emits the items of a slice, in order. The
// slice must not change while the pipeline runs.
func FromSlice[T any](p *Pipeline, name string, items []T) *Stream[T] {
	return newSource(p, name, func(s *source[T]) error {
		b := s.p.cfg.batch
		for i, v := range items {
			if i%b == 0 && s.p.srcCtx.Err() != nil {
				return errStopReading
			}
			if err := s.put(v, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// FromChan adds a source that emits what it receives from ch, until ch
// is closed. It sends a partial batch whenever ch is momentarily empty,
// so items are not held back at low rates. A graceful Stop leaves what is
// still in ch there.
func FromChan[T any](p *Pipeline, name string, ch <-chan T) *Stream[T] {
	if ch == nil && p != nil {
		p.addErr(fmt.Errorf("source %q: %w", name, invalidf("nil channel")))
	}
	return newSource(p, name, func(s *source[T]) error {
		return s.readChan(ch, s.p.srcCtx.Done())
	})
}

func (s *source[T]) readChan(ch <-chan T, stop <-chan struct{}) error {
	b := s.p.cfg.batch
	n := 0
	for {
		var v T
		var ok bool
		select {
		case v, ok = <-ch:
		default:
			// The input is momentarily empty: send what we have.
			if err := s.flush(true); err != nil {
				return err
			}
			select {
			case v, ok = <-ch:
			case <-stop:
				return errStopReading
			}
		}
		if !ok {
			return nil
		}
		if err := s.put(v, 0); err != nil {
			return err
		}
		if n++; n%b == 0 {
			select {
			case <-stop:
				return errStopReading
			default:
			}
		}
	}
}

// FromSeq adds a source that emits the values of seq. Iteration stops
// early on a graceful Stop or an abort. A partial batch is sent once the
// pipeline's linger time passed without a full one (see WithLinger).
func FromSeq[T any](p *Pipeline, name string, seq iter.Seq[T]) *Stream[T] {
	if seq == nil {
		if p != nil {
			p.addErr(fmt.Errorf("source %q: %w", name, invalidf("nil sequence")))
		}
		return newSource(p, name, func(*source[T]) error { return nil })
	}
	return FromFunc(p, name, func(ctx context.Context, emit func(T) error) error {
		for v := range seq {
			if err := emit(v); err != nil {
				return err
			}
		}
		return nil
	})
}

// FromFunc adds a source driven by gen: gen calls emit for each item and
// returns when its input ends (nil) or fails (a fatal error: the pipeline
// stops with a *StageError naming the source). emit blocks while the
// pipeline is full (backpressure) and returns an error once the source
// must stop (a graceful Stop or an abort); gen should then return that
// error. ctx is cancelled at the same time. emit must be called only from
// gen's goroutine.
func FromFunc[T any](p *Pipeline, name string, gen func(ctx context.Context, emit func(T) error) error) *Stream[T] {
	if gen == nil && p != nil {
		p.addErr(fmt.Errorf("source %q: %w", name, invalidf("nil function")))
	}
	return newSource(p, name, func(s *source[T]) error {
		ctx := s.p.srcCtx
		s.startTimer()
		return gen(ctx, func(v T) error {
			if ctx.Err() != nil {
				return errStopReading
			}
			s.lock()
			defer s.unlock()
			err := s.put(v, 0)
			s.arm()
			return err
		})
	})
}

// FromResumable adds a source that can restart where a previous run left
// off. At start it loads a position from cp (0 if there is none) and
// calls open with it. open reads its input from that position and emits
// each item with its next position: where the input after the item
// starts, so that a run started there reads the items after this one
// and no part of this one. That is Kafka's committed offset (the offset
// of the next record to read), a line's number + 1, or for a record of
// a file the byte offset just after it (its end, not its start + 1).
// Next positions must not decrease (else the source fails with an error
// wrapping ErrPosition); items that share a next position are parts of
// one record, which a restart reads again whole. Otherwise open behaves
// as FromFunc's gen. FromLines is a ready source of a file's lines.
//
// While the pipeline runs it commits to cp (see WithCheckpointEvery, and
// once more when it stops) its low watermark: the next position of the
// last item of its longest done prefix, the items before the oldest one
// that is not yet out of a sink, filtered, or dead-lettered (items
// dead-lettered because the pipeline stopped do not count). It is from
// when no item is done, and the next position of the last item once all
// are. Items are tracked by source batch (see WithBatchSize), so the
// watermark stops where the batch holding the oldest undone item starts.
// Positions are opaque to the pipeline; the committed one is always from
// or a next position that open emitted, so a restart from it neither
// skips an item nor starts inside one, and reprocesses at most the items
// after it that were already done.
//
// Flat-map, batch and keyed stages keep an item uncommitted until all of
// its outputs are done; a keyed stage holds the oldest item of each key's
// state until the key is flushed, unless cp is a StateCheckpointer and
// this is the pipeline's only resumable source: then the keyed states are
// saved with each position and restored at start, and an item is done
// once folded into a state (see Keyed and StateCheckpointer).
func FromResumable[T any](p *Pipeline, name string, cp Checkpointer, open func(ctx context.Context, from uint64, emit func(item T, next uint64) error) error) *Stream[T] {
	if p == nil {
		return &Stream[T]{}
	}
	if open == nil || cp == nil {
		p.addErr(fmt.Errorf("source %q: %w", name, invalidf("nil function or checkpointer")))
	}
	p.mu.Lock()
	first := !p.trackd
	p.trackd = true
	p.ckpt.sources = append(p.ckpt.sources, cp)
	if first {
		p.runners = append(p.runners, func() {
			p.bgWG.Add(1)
			// Owner: the pipeline; stopped by bgCancel in manage, which
			// waits for it.
			go func() { defer p.bgWG.Done(); p.tracker.commitLoop(p.bgCtx, p.cfg.checkpoint) }()
		})
	}
	p.mu.Unlock()
	return newSource(p, name, func(s *source[T]) error {
		ctx := s.p.srcCtx
		from, err := s.p.loadFrom(ctx, cp)
		if err != nil {
			return fmt.Errorf("loading checkpoint: %w", err)
		}
		ts := &trackedSource{name: name, cp: cp, last: from, saved: from, pause: s.pause, resume: s.unlock}
		s.lock()
		s.ts, s.next = ts, from
		s.unlock()
		s.p.tracker.addSource(ts)
		s.startTimer()
		return open(ctx, from, func(v T, next uint64) error {
			if ctx.Err() != nil {
				return errStopReading
			}
			s.lock()
			defer s.unlock()
			if next < s.next {
				return fmt.Errorf("%w: next position %d is before %d", ErrPosition, next, s.next)
			}
			err := s.put(v, next)
			s.arm()
			return err
		})
	})
}

// The linger timer flushes a partial batch of a FromFunc-style source
// whose producer is slow. Its callback never waits for the source: if the
// source holds the lock it is busy sending anyway, and the callback only
// tries again later. After the source ended (closed), a late callback
// returns without touching anything, so the source need not wait for it.

func (s *source[T]) startTimer() {
	if s.timer != nil {
		// A run after the first keeps the timer (a late callback of the
		// last run may still read it).
		s.timer.Stop()
		return
	}
	s.timer = time.AfterFunc(time.Hour, s.linger)
	s.timer.Stop()
}

// arm sets the timer after items were added; called with the lock held.
func (s *source[T]) arm() {
	if s.dirty && !s.armed {
		s.armed = true
		s.timer.Reset(s.p.cfg.linger)
	}
}

func (s *source[T]) linger() {
	if !s.tryLock() {
		if !s.closed.Load() {
			s.timer.Reset(s.p.cfg.linger)
		}
		return
	}
	defer s.unlock()
	s.armed = false
	if s.closed.Load() || !s.dirty {
		return
	}
	_ = s.flush(true) // an error means the pipeline is aborting: the sweep takes over
}

func (s *source[T]) stopTimer() {
	if s.timer == nil {
		return
	}
	s.lock()
	s.closed.Store(true)
	s.timer.Stop()
	s.unlock()
}

// resetRun clears the state of the last run (nothing runs the source
// yet: its goroutine starts after Start's inits).
func (s *source[T]) resetRun() {
	s.lock() // a late linger callback of the last run may hold it
	defer s.unlock()
	s.c = counts{}
	s.seqNext, s.seqEnd = 0, 0
	s.ts, s.tb, s.tn, s.next = nil, nil, 0, 0
	s.dirty, s.armed = false, false
	s.closed.Store(false)
}
