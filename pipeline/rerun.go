package pipeline

import (
	"fmt"
	"sync/atomic"
)

// A pipeline is a definition; each run is an incarnation of it. The graph
// built before the first Start (stages, inboxes, slots, outlets' targets)
// is kept, and what belongs to one run is reset before the next:
// resetLocked resets the pipeline's own run state, each stage's counters
// (resetRun), and each builder's per-run state through the stage's reset
// hook (inboxes and slots, sources, reorder buffers, priority lanes). The
// per-worker handlers are not reset: each run's spec builds fresh ones.

// resetLocked prepares a pipeline whose run ended for the next run; p.mu
// is held. It refuses a pipeline that cannot run again.
func (p *Pipeline) resetLocked() error {
	if len(p.once) > 0 {
		return fmt.Errorf("pipeline: cannot run again: stage %q (ToChan and Dynamic run once): %w", p.once[0], ErrInvalid)
	}
	if n := p.srcLive.Load(); n > 0 {
		return fmt.Errorf("pipeline: cannot run again: %d source(s) of the last run still running: %w", n, ErrInvalid)
	}
	p.failMu.Lock()
	p.failErr = nil
	p.failMu.Unlock()
	p.failCh = make(chan struct{})
	p.sinksDone = make(chan struct{})
	p.done = make(chan struct{})
	p.result = nil
	p.stopping.Store(false)
	p.draining.Store(false)
	p.srcClosed = false
	p.sys, p.root, p.tracker = nil, nil, nil
	p.deadLog.last.Store(0)
	p.deadLog.since.Store(0)
	p.deadLog.total.Store(0)
	for _, st := range p.stages {
		st.resetRun()
	}
	return nil
}

// resetRun zeroes the stage's counters and resets its builder's per-run
// state.
func (st *stage) resetRun() {
	for _, c := range []*atomic.Uint64{&st.in, &st.out, &st.emitted, &st.filtered, &st.dead, &st.stopped,
		&st.errs, &st.retries, &st.restarts, &st.stageRestarts, &st.scaleUps, &st.scaleDowns} {
		c.Store(0)
	}
	st.sent.Store(0)
	st.taken.Store(0)
	st.blocked.Store(0)
	st.lat.Reset()
	st.active.Store(st.active0)
	if st.reset != nil {
		st.reset()
	}
}

// resetRun makes the inbox ready for a new run: no producer registered,
// no end of stream sent, fresh slots.
func (in *inbox[T]) resetRun() {
	in.ups.Store(0)
	in.eosMu.Lock()
	in.eosSent = false
	in.eosMu.Unlock()
	for _, s := range in.slots {
		s.resetRun()
	}
}

// resetRun makes a slot ready for a new run. Its actor of the last run
// has stopped: its Ref is dropped until the new one starts.
func (s *slot[T]) resetRun() {
	s.mu.Lock()
	s.rescued = nil
	s.mu.Unlock()
	s.ref.Store(nil)
	s.eosDropped.Store(false)
	s.eosDone, s.eosHeld, s.starts = false, false, 0
	s.busy.Store(false)
	ss := &s.stats
	for _, c := range []*atomic.Uint64{&ss.recv, &ss.done, &ss.errs, &ss.restarts, &ss.fid, &ss.out, &ss.emitted} {
		c.Store(0)
	}
	ss.taken.Store(0)
	ss.busySince.Store(0)
}

// resetRun makes a reorder buffer ready for a new run: its order gate
// opens its whole window again and numbering restarts at 0.
func (r *reorder[U]) resetRun(free int) {
	r.rin.resetRun()
	r.mu.Lock()
	r.stopped = nil
	r.mu.Unlock()
	r.pending = map[uint64]*batch[U]{}
	r.tail, r.next, r.want = nil, 0, false
	r.gate.Reset(free)
}

// onceOnly records that the stage name cannot run again.
func (p *Pipeline) onceOnly(name string) {
	p.mu.Lock()
	p.once = append(p.once, name)
	p.mu.Unlock()
}
