package actor

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/observe"
)

// endInc ends the incarnation on the goroutine that owns it: its children
// stop, its Stop hook runs (unless it is killed), then finishInc.
func (p *proc[M]) endInc(inc *incarnation[M], e ending) {
	p.stopChildrenOf(inc)
	if st, ok := inc.actor.(Stopper); ok && e.reason != Killed {
		entry, res := inc.enterUser()
		switch res {
		case vanished:
			p.vanish(inc)
			return
		case aborted:
			e = p.abortEnding(inc)
		case entered:
			if p.cfg.passPanics {
				st.Stop(inc, e.reason)
			} else {
				_ = guard(func() error { st.Stop(inc, e.reason); return nil })
			}
			if !inc.leaveUser(entry) {
				p.vanish(inc)
				return
			}
		}
	}
	p.finishInc(inc, e)
}

// stopChildrenOf stops inc's children, last spawned first, each within its
// shutdown time. A kill of inc that arrives meanwhile (its own shutdown
// time ran out) cuts it short: the children still running are then killed
// rather than waited for.
func (p *proc[M]) stopChildrenOf(inc *incarnation[M]) {
	if !p.node.hasChildren() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.mu.Lock()
	inc.control().stopAbort = cancel
	p.mu.Unlock()
	p.node.endChildren(ctx, false)
}

// finishInc records the end of an incarnation, then tells whoever must
// know: the closer, the parent, or the default restart policy.
func (p *proc[M]) finishInc(inc *incarnation[M], e ending) {
	inc.cancel()
	p.mu.Lock()
	if inc.end != incLive {
		p.mu.Unlock()
		return
	}
	inc.end = incFinishing
	p.mb.Suspend()
	if p.inc.Load() == inc {
		p.inc.Store(nil)
	}
	inc.endReason = e.reason
	p.r().lastEnd = ending{reason: e.reason, err: e.err, fid: e.fid}
	closing := p.state == stClosing
	if !closing {
		p.state = stWaiting
	}
	gen := inc.gen
	p.mu.Unlock()
	p.recordFailure(e)

	if p.sys.observed() {
		ev := Event{Kind: EventStopped, Path: p.path, Reason: e.reason, Err: e.err, FailureID: e.fid}
		switch e.reason {
		case Failed:
			ev.Kind = EventFailed
			var f *Failure
			if errors.As(e.err, &f) {
				ev.Stack, ev.Trace = f.Stack(), f.trace
			}
		case Killed:
			ev.Kind = EventKilled
		}
		p.sys.Emit(ev)
	}
	// Only now wake whoever waits for this end (a parent in Shutdown): the
	// event of a child's end is emitted before anything that follows from
	// it, as OTP records a death before its consequences.
	p.mu.Lock()
	inc.end = incEnded
	if inc.ctl != nil && inc.ctl.exited != nil {
		close(inc.ctl.exited)
	}
	p.mu.Unlock()
	switch {
	case closing:
		p.finish(ending{reason: e.reason, err: e.err, requested: true})
	case e.requested:
	case p.managed:
		p.parent.cell.postExit(Exit{Child: p, Reason: e.reason, Err: e.err, Incarnation: gen, FailureID: e.fid})
	default:
		p.defaultPolicy(e)
	}
}

// defaultPolicy is what an actor without a managing parent does when an
// incarnation ends by itself: restart in place after a failure (a kill
// counts as one), stop for good after a normal exit.
func (p *proc[M]) defaultPolicy(e ending) {
	if e.reason == Normal || e.reason == Shutdown {
		p.closeNow(e)
		return
	}
	var err error
	for try := 0; try < p.cfg.maxAttempts; try++ {
		if err = p.start(); err == nil {
			p.sys.Emit(Event{Kind: EventRestarted, Path: p.path, FailureID: e.fid})
			if ce := p.sys.log.Check(zap.InfoLevel, "actor restarted"); ce != nil {
				ce.Write(zap.String("actor", p.path), zap.Stringer("failure_id", e.fid))
			}
			return
		}
		if errors.Is(err, ErrStopped) {
			return
		}
	}
	p.closeNow(ending{reason: Failed, err: err})
}

// closeNow stops an actor that has no incarnation for good.
func (p *proc[M]) closeNow(e ending) {
	p.mu.Lock()
	if p.state == stClosing || p.state == stClosed {
		p.mu.Unlock()
		return
	}
	p.state = stClosing
	p.mu.Unlock()
	p.finish(e)
}

// finish stops the actor for good. It runs once, on the goroutine that
// ended its last incarnation (or found none): queued and in-flight
// messages go to dead letters, watchers are told, the parent forgets it.
func (p *proc[M]) finish(e ending) {
	p.node.stopChildren(context.Background())
	rest := p.mb.Close()
	defer p.drainSystem()
	fid := e.fid
	n := 0
	dl := func(env envelope[M]) {
		n++
		p.undeliverable(env, DeadStopped, nil, 0, fid)
	}
	if p.hasCur {
		env := p.cur
		p.resolve() // before the dead letter, which may end an Ask
		dl(env)
	}
	p.dropBatch(dl)
	p.bb = nil
	for _, env := range rest {
		dl(env)
	}
	if n > 0 {
		p.r().deadLettered.Add(uint64(n))
	}

	if k := p.kc.Load(); k != nil {
		if e.reason >= Normal && e.reason <= Killed {
			k.stops[e.reason].Add(1)
		}
		k.retired.Add(p.processed.Load())
	}
	// Free the name before Done closes: a Spawn of the same name after
	// Stop returned must succeed.
	p.parent.removeChild(&p.node)
	p.mu.Lock()
	p.state = stClosed
	p.parked.Store(false)
	r := p.r()
	r.final = Terminated{Path: p.path, Reason: e.reason, Err: e.err}
	ws := r.watchers
	r.watchers = nil
	gen := p.gen
	notify := !e.requested || p.notifyOnClose
	p.mu.Unlock()
	p.mb.Suspend()

	// Watchers hear of the stop before Done closes, so a Stop that
	// returned "synchronizes after" every watch notification.
	for _, w := range ws {
		w.fn(r.final)
	}
	p.mu.Lock()
	if p.done == nil {
		p.done = closedCh
	} else {
		close(p.done)
	}
	p.mu.Unlock()
	if p.managed && notify {
		p.parent.cell.postExit(Exit{Child: p, Reason: e.reason, Err: e.err, Incarnation: gen, Final: true, FailureID: e.fid})
	}
}

// start begins a new incarnation: factory, then Start hook, on the caller's
// goroutine. It is the OTP start function.
func (p *proc[M]) start() error {
	p.mu.Lock()
	prev := p.state
	switch prev {
	case stRunning, stStarting:
		p.mu.Unlock()
		return ErrRunning
	case stClosing, stClosed:
		p.mu.Unlock()
		return ErrStopped
	}
	p.state = stStarting
	p.gen++
	gen := p.gen
	p.mu.Unlock()

	inc := &incarnation[M]{p: p, gen: gen, started: p.sys.now().UnixNano()}
	err := guard(func() error {
		inc.actor = p.factory()
		if inc.actor == nil {
			return ErrNilFactory
		}
		if p.kc.Load() == nil {
			kind := p.cfg.kind
			if kind == "" {
				kind = kindName(inc.actor)
			}
			k := p.sys.kindOf(kind)
			k.spawns.Add(1)
			p.kc.Store(k)
			if p.sys.labels {
				lc := p.profileLabels(k.name)
				p.r().labels.Store(&lc)
			}
		}
		if fi := p.sys.faults; fi != nil {
			if err := fi.BeforeStart(inc); err != nil {
				return err
			}
		}
		if s, ok := inc.actor.(Starter); ok {
			return s.Start(inc)
		}
		return nil
	})
	if err != nil {
		inc.cancel()
		p.node.endChildren(context.Background(), false)
		p.mu.Lock()
		closing := p.state == stClosing
		if !closing {
			p.state = prev
		}
		p.mu.Unlock()
		se := &StartError{Path: p.path, Err: err, ID: p.sys.newFailureID()}
		err = se
		if ce := p.sys.log.Check(zap.WarnLevel, "actor start failed"); ce != nil {
			ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorStart), zap.Stringer("failure_id", se.ID), zap.Error(se.Err))
		}
		p.recordFailure(ending{reason: Failed, err: se, fid: se.ID})
		p.sys.Emit(Event{Kind: EventFailed, Path: p.path, Reason: Failed, Err: err, FailureID: se.ID})
		if closing {
			p.finish(ending{reason: Failed, err: err, requested: true, fid: se.ID})
		}
		return err
	}
	p.mu.Lock()
	if p.state == stClosing {
		// Stopped while starting: end the incarnation we just made.
		p.inc.Store(inc)
		p.mu.Unlock()
		p.endInc(inc, ending{reason: Shutdown, requested: true})
		return ErrStopped
	}
	p.state = stRunning
	p.parked.Store(false)
	p.inc.Store(inc)
	if gen > 1 { // every start after the first is a restart, in place or by a supervisor
		p.r().restarts.Add(1)
		if k := p.kc.Load(); k != nil {
			k.restarts.Add(1)
		}
	}
	pending := p.hasCur || p.batchLeft()
	p.mu.Unlock()
	p.sys.Emit(Event{Kind: EventStarted, Path: p.path})
	p.mb.Resume(pending)
	return nil
}

// Start implements Child.
func (p *proc[M]) Start(ctx context.Context) error {
	if err := orBackground(ctx).Err(); err != nil {
		return err
	}
	return p.start()
}
