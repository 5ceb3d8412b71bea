package actor

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"time"
)

// run drains the mailbox on a System worker goroutine. It is called when
// the mailbox went from idle to running; it owns the mailbox (and the
// proc's in-flight fields) until it releases or suspends it, then returns
// and the worker goes back to the pool.
func (p *proc[M]) run() {
	inc := p.inc.Load()
	if inc == nil {
		p.mb.Suspend()
		return
	}
	if p.sys.labels {
		if r := p.rare.Load(); r != nil {
			if lc := r.labels.Load(); lc != nil {
				pprof.SetGoroutineLabels(*lc) // the worker clears them when run returns
			}
		}
	}
	for {
		if !p.drain(inc) {
			return
		}
		if p.hasCur || p.batchLeft() {
			// Turn over with work in hand: yield, then go on.
			runtime.Gosched()
			continue
		}
		if inc.abort.Load() {
			p.endInc(inc, p.abortEnding(inc))
			return
		}
		if b := p.bb; b != nil {
			b.items, b.i = b.items[:0], 0
			if cap(b.items) > 64 {
				p.bb = nil
			}
		}
		if !p.mb.Release() {
			return
		}
	}
}

// drain runs one turn: system messages first, then up to throughput user
// messages. It returns false when the goroutine must exit without
// releasing the mailbox (the incarnation ended or was fenced).
func (p *proc[M]) drain(inc *incarnation[M]) bool {
	budget := p.cfg.throughput
	for n := 0; n < budget; n++ {
		if p.mb.HasSystem() {
			if !p.system(inc) {
				return false
			}
			continue
		}
		if p.hasCur {
			if int(p.attempts) >= p.cfg.maxAttempts {
				// Killed or abandoned on its last attempt.
				p.poison()
				continue
			}
		} else if p.batchLeft() {
			var zero envelope[M]
			b := p.bb
			p.cur, p.hasCur, p.attempts = b.items[b.i], true, 0
			b.items[b.i] = zero
			b.i++
		} else {
			l := p.mb.Len()
			if l == 0 {
				return true
			}
			if l == 1 || budget-n == 1 {
				m, ok := p.mb.PopOne()
				if !ok {
					return true
				}
				p.pending.Add(1)
				p.cur, p.hasCur, p.attempts = m, true, 0
			} else {
				if p.bb == nil {
					p.bb = new(batchBuf[M])
				}
				b := p.bb
				b.items, b.i = p.mb.PopBatch(b.items[:0], budget-n), 0
				if len(b.items) == 0 {
					return true
				}
				p.pending.Add(int32(len(b.items)))
				continue
			}
		}
		if !p.deliver(inc) {
			return false
		}
	}
	return true
}

// deliver hands p.cur to the incarnation.
func (p *proc[M]) deliver(inc *incarnation[M]) bool {
	p.attempts++
	inc.attempt = p.attempts
	env := p.cur // read before enterUser: a killer may reuse p.cur once it fenced us
	ask := env.ask()
	if ask != nil && ask.ctx.Err() != nil {
		// The asker gave up before the request was handled: nobody waits
		// for the answer, so it is not handled.
		p.attempts--
		p.expire()
		return true
	}
	var ctx Context = inc
	var cancel context.CancelFunc
	if ask != nil && ask.ctx.Done() != nil {
		ctx, cancel = inc.forRequest(ask.ctx)
	}
	var began, wait int64 = 0, -1 // with clocks: when the Receive began, how long m waited
	if p.sys.clocks {
		began = p.sys.mono()
		if env.rq != nil && env.rq.sent != 0 && p.attempts == 1 {
			wait = began - env.rq.sent
			if k := p.kc.Load(); k != nil && k.clk != nil {
				k.clk.wait.observe(wait)
			}
		}
	}
	entry, res := inc.enterUser()
	switch res {
	case vanished:
		p.vanish(inc)
		return false
	case aborted:
		p.attempts-- // never handed over
		if cancel != nil {
			inc.doneRequest(cancel)
		}
		p.endInc(inc, p.abortEnding(inc))
		return false
	}
	var t *time.Timer
	if d := p.cfg.deadline; d > 0 {
		t = time.AfterFunc(d, func() { p.expired(inc, entry) })
	}
	err := p.receive(ctx, inc, env.m, env.trace())
	if t != nil {
		t.Stop()
	}
	if cancel != nil {
		inc.doneRequest(cancel) // touches only inc, under its incCtx lock
	}
	if !inc.leaveUser(entry) {
		p.vanish(inc)
		return false
	}
	if began != 0 {
		p.clockProcess(began, wait, err)
	}
	if err == nil {
		p.resolve()
		p.processed.Add(1)
		return true
	}
	if ask != nil && ask.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Receive gave up because the asker did: not a failure of the
		// actor, and nobody waits for the answer.
		p.attempts--
		p.expire()
		return true
	}
	if errors.Is(err, context.Canceled) && inc.Err() != nil && (p.mb.HasSystem() || inc.abort.Load()) {
		// Receive gave up because the incarnation was asked to stop (its
		// ctx was cancelled and the stop is queued): not a failure. The
		// message stays in flight (redelivered after a restart, dead-
		// lettered on a final stop) and the loop serves the stop next.
		p.attempts--
		return true
	}
	return p.fail(inc, err, true)
}

// receive runs the Receive of m, as user code. carried is what the
// Propagator injected into m, nil if nothing.
func (p *proc[M]) receive(ctx Context, inc *incarnation[M], m M, carried any) (err error) {
	if !p.cfg.passPanics {
		defer func() {
			if r := recover(); r != nil {
				err = NewPanicError(r)
			}
		}()
	}
	if carried != nil && p.sys.prop != nil {
		ctx = inc.withTrace(ctx, p.sys.prop, carried)
	}
	if fi := p.sys.faults; fi != nil {
		if err := fi.BeforeReceive(ctx); err != nil {
			return err
		}
	}
	return inc.actor.Receive(ctx, m)
}

// clockProcess records the time of the Receive that began at began (and
// returned err) in the kind's clocks, and tells the clock sinks (wait is
// how long the message waited, -1 for a redelivery).
func (p *proc[M]) clockProcess(began, wait int64, err error) {
	k := p.kc.Load()
	if k == nil || k.clk == nil {
		return
	}
	t := ""
	if err != nil && !errors.Is(err, StopNormal) && !errors.Is(err, StopShutdown) {
		t = ErrorType(err)
	}
	d := p.sys.mono() - began
	k.recordProcess(t, d)
	if sinks := p.sys.sinks.Load(); sinks != nil {
		for _, r := range *sinks {
			r.sink.ObserveMessage(k.name, t, time.Duration(wait), time.Duration(d))
		}
	}
}

// guard runs f as user code with panics turned into errors.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = NewPanicError(r)
		}
	}()
	return f()
}

// resolve forgets the message in flight after it was handled or disposed of.
func (p *proc[M]) resolve() {
	var zero envelope[M]
	p.cur, p.hasCur, p.attempts = zero, false, 0
	if r := p.rare.Load(); r != nil {
		r.lastErr = nil
	}
	p.pending.Add(-1)
}

// system handles one system message; false means the goroutine must exit.
func (p *proc[M]) system(inc *incarnation[M]) bool {
	s, ok := p.mb.PopSystem()
	if !ok {
		return true
	}
	switch s.kind {
	case sysStop:
		if s.gen != inc.gen {
			return true
		}
		p.endInc(inc, s.end)
		return false
	case sysAbort:
		if s.gen != inc.gen {
			return true
		}
		p.endInc(inc, p.abortEnding(inc))
		return false
	case sysExit:
		h, ok := inc.actor.(ExitHandler)
		if !ok {
			return true
		}
		return p.userCall(inc, func() error { return h.HandleExit(inc, s.exit) })
	case sysFunc:
		return p.userCall(inc, func() error { return s.fn(inc) })
	}
	return true
}

// userCall runs a system callback as user code.
func (p *proc[M]) userCall(inc *incarnation[M], f func() error) bool {
	inc.attempt = 1 // system callbacks are delivered once
	entry, res := inc.enterUser()
	switch res {
	case vanished:
		p.vanish(inc)
		return false
	case aborted:
		p.endInc(inc, p.abortEnding(inc))
		return false
	}
	var err error
	if p.cfg.passPanics {
		err = f()
	} else {
		err = guard(f)
	}
	if !inc.leaveUser(entry) {
		p.vanish(inc)
		return false
	}
	if err != nil {
		return p.fail(inc, err, false)
	}
	return true
}

// batchBuf holds the messages a turn took from the mailbox in one batch.
type batchBuf[M any] struct {
	items []envelope[M]
	i     int // next to handle
}

func (p *proc[M]) batchLeft() bool { return p.bb != nil && p.bb.i < len(p.bb.items) }

// dropBatch hands the batch's unhandled messages to dl and empties it.
func (p *proc[M]) dropBatch(dl func(envelope[M])) {
	b := p.bb
	if b == nil {
		return
	}
	var zero envelope[M]
	for ; b.i < len(b.items); b.i++ {
		dl(b.items[b.i])
		b.items[b.i] = zero
		p.pending.Add(-1)
	}
	b.items, b.i = b.items[:0], 0
}
