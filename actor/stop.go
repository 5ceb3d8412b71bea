package actor

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/observe"
)

// shutdownCurrent stops the current incarnation as its parent asked,
// within the actor's shutdown time; the actor stays, waiting for Start.
func (p *proc[M]) shutdownCurrent(ctx context.Context) ExitReason {
	inc := p.inc.Load()
	if inc == nil {
		return Shutdown
	}
	return p.endRequested(ctx, inc, ending{reason: Shutdown, requested: true})
}

// endRequested ends inc gracefully (the current message finishes, then
// its Stop hook runs), killing it past the shutdown time or when ctx ends.
func (p *proc[M]) endRequested(ctx context.Context, inc *incarnation[M], e ending) ExitReason {
	d := p.cfg.shutdown
	if d < 0 {
		return p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: e.requested})
	}
	if p.endIdle(inc, e) {
		return p.endReasonOf(inc)
	}
	// Post the stop before cancelling ctx: a Receive that returns because
	// its ctx was cancelled must find the stop ahead of the next queued
	// message (drain checks the system lane between messages). Cancelling
	// first let the goroutine take and handle queued messages, with a
	// cancelled ctx, before the stop arrived. (kill and finishInc cancel
	// ctx themselves.)
	p.mb.PostSystem(sysMsg{kind: sysStop, gen: inc.gen, end: e})
	inc.cancel()
	ch := p.exitedCh(inc)
	var timeout <-chan time.Time
	if d != Infinity {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return p.endReasonOf(inc)
	case <-timeout:
	case <-ctx.Done():
	}
	return p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: e.requested})
}

// endIdle ends inc on the caller's goroutine when that needs no user code:
// it has no Stop hook and no children, and no goroutine runs it. (inc.actor
// was set before inc was published in p.inc, which is where the caller
// got inc from.)
func (p *proc[M]) endIdle(inc *incarnation[M], e ending) bool {
	if _, hook := inc.actor.(Stopper); hook || p.node.hasChildren() || !p.acquireFor(inc) {
		return false
	}
	p.finishInc(inc, e)
	return true
}

// acquireFor makes the caller the owner of the idle mailbox, to end inc
// on its goroutine. It reports false when the mailbox is not idle, or when
// inc already began to end by the time the caller got the mailbox: the
// caller may have loaded inc before another ender finished it and started
// the next incarnation, whose idle mailbox it would otherwise take and
// never give back (finishInc of an ended incarnation does nothing). It
// then gives the mailbox back as Release does, scheduling a run for the
// current incarnation if work is queued.
func (p *proc[M]) acquireFor(inc *incarnation[M]) bool {
	if !p.mb.TryAcquire() {
		return false
	}
	p.mu.Lock()
	live := inc.end == incLive
	p.mu.Unlock()
	if live {
		return true
	}
	if p.mb.Release() {
		p.Schedule()
	}
	return false
}

// killCurrent kills the current incarnation, as OTP's exit(Pid, kill).
func (p *proc[M]) killCurrent(requested bool) {
	if inc := p.inc.Load(); inc != nil {
		e := ending{reason: Killed, err: ErrKilled, requested: requested}
		if !requested {
			e.fid = p.sys.newFailureID() // a kill from outside is a failure
			if ce := p.sys.log.Check(zap.WarnLevel, "actor killed"); ce != nil {
				ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorKilled), zap.Stringer("failure_id", e.fid))
			}
		}
		p.kill(inc, e)
	}
}

// kill ends inc without its Stop hook. If its goroutine is in user code it
// is fenced and abandoned (counted as leaked until it returns).
func (p *proc[M]) kill(inc *incarnation[M], e ending) ExitReason {
	p.mu.Lock()
	if inc.end != incLive {
		p.mu.Unlock()
		<-p.exitedCh(inc)
		return p.endReasonOf(inc)
	}
	inc.control().abortEnd = e
	p.mu.Unlock()
	inc.abort.Store(true)
	p.mu.Lock()
	if inc.ctl != nil && inc.ctl.stopAbort != nil {
		inc.ctl.stopAbort()
	}
	p.mu.Unlock()
	inc.cancel()
	if inc.fence() {
		p.abandon(inc, e)
		return Killed
	}
	if p.acquireFor(inc) {
		p.endInc(inc, e)
		return p.endReasonOf(inc)
	}
	// Its goroutine runs runtime code: it will see abort before any user
	// code, or this system message.
	p.mb.PostSystem(sysMsg{kind: sysAbort, gen: inc.gen})
	<-p.exitedCh(inc)
	return p.endReasonOf(inc)
}

// abandon ends an incarnation whose goroutine was fenced in user code; the
// caller won the phUser→phFenced CAS and now owns the proc's in-flight
// state. The goroutine is counted as leaked until its user code returns.
func (p *proc[M]) abandon(inc *incarnation[M], e ending) {
	rec := &leakRec{path: p.path, typeName: typeName(inc.actor)}
	p.mu.Lock()
	if !inc.control().vanished {
		inc.control().leak = rec
		p.sys.addLeak(rec)
	}
	p.mu.Unlock()
	stack := stacksMentioning(allStacks(), rec.typeName)
	p.sys.log.Warn("actor abandoned", zap.String("actor", p.path), zap.String("stack", stack))
	p.sys.Emit(Event{Kind: EventLeaked, Path: p.path, Reason: e.reason, Err: e.err, Stack: []byte(stack)})
	p.node.endChildren(context.Background(), false)
	p.finishInc(inc, e)
}

// expired runs on a timer goroutine when the Receive entered as entry
// overran its deadline. It fences only that entry: if the goroutine has
// left it (and maybe entered user code again, for a hook or the next
// message), the CAS fails and the timer does nothing.
func (p *proc[M]) expired(inc *incarnation[M], entry uint64) {
	if !inc.phase.CompareAndSwap(entry|phUser, entry|phFenced) {
		return
	}
	stack := stacksMentioning(allStacks(), typeName(inc.actor))
	f := &Failure{Path: p.path, Err: fmt.Errorf("%w after %v", ErrDeadline, p.cfg.deadline), Message: p.cur.m, Attempt: int(p.attempts), stuck: []byte(stack), ID: p.sys.newFailureID(), trace: p.cur.trace()}
	if ce := p.sys.log.Check(zap.WarnLevel, "actor failed"); ce != nil {
		ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorTimeout),
			zap.Stringer("failure_id", f.ID), zap.Int("attempt", f.Attempt), zap.Error(f.Err))
	}
	p.r().failures.Add(1)
	p.r().lastErr = f
	if int(p.attempts) >= p.cfg.maxAttempts {
		p.poison()
	}
	p.sys.goStart()
	// Owner: this goroutine ends the fenced incarnation and runs whatever
	// follows (parent notification or restart); counted in sys.gos.
	go func() {
		defer p.sys.goExit()
		p.abandon(inc, ending{reason: Failed, err: f, fid: f.ID})
	}()
}

// typeName returns the name goroutine stacks give a's type: its package
// path and its name without type arguments, like "example.com/pkg.T"
// (stacksMentioning also finds the pointer-receiver form "pkg.(*T)").
// The dots of the path's last element are escaped as in symbol names.
func typeName(a any) string {
	if a == nil {
		return ""
	}
	t := reflect.TypeOf(a)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name, pkg := t.Name(), t.PkgPath()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if name == "" || pkg == "" {
		return strings.TrimLeft(fmt.Sprintf("%T", a), "*")
	}
	i := strings.LastIndexByte(pkg, '/') + 1
	return pkg[:i] + strings.ReplaceAll(pkg[i:], ".", "%2e") + "." + name
}

// Park implements Child: the actor refuses messages until its next Start,
// and what it had queued goes to dead letters.
func (p *proc[M]) Park() {
	p.mu.Lock()
	if p.state != stWaiting {
		p.mu.Unlock()
		return
	}
	p.state = stParked
	p.parked.Store(true)
	p.mu.Unlock()
	// No goroutine owns the mailbox while waiting: drain it here.
	var fid observe.FailureID
	if r := p.rare.Load(); r != nil {
		fid = r.lastEnd.fid // read without mu: Park runs on the parent's goroutine after the end
	}
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
	for _, env := range p.mb.PopBatch(nil, 0) {
		dl(env)
	}
	if n > 0 {
		p.r().deadLettered.Add(uint64(n))
	}
}

// Close implements Child: stop for good without telling the parent.
func (p *proc[M]) Close(ctx context.Context) error {
	return p.stopFinal(orBackground(ctx), false, false)
}

// Stop implements PID.
func (p *proc[M]) Stop(ctx context.Context) error { return p.stopFinal(orBackground(ctx), false, true) }

// StopNow implements PID.
func (p *proc[M]) StopNow() { _ = p.stopFinal(context.Background(), true, true) }

// stopFinal stops the actor for good: its current incarnation ends (its
// children first), then queued messages go to dead letters. It waits until
// the actor stopped or ctx ended.
func (p *proc[M]) stopFinal(ctx context.Context, kill, notify bool) error {
	p.mu.Lock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	done := p.done
	switch p.state {
	case stClosed:
		// finish may still be telling watchers: Done closes right after.
		p.mu.Unlock()
		return waitDone(ctx, done)
	case stClosing:
		inc := p.inc.Load()
		p.mu.Unlock()
		if kill && inc != nil {
			p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: true})
		}
		return waitDone(ctx, done)
	}
	prev := p.state
	p.state = stClosing
	p.notifyOnClose = notify
	inc := p.inc.Load()
	var last ending
	if r := p.rare.Load(); r != nil {
		last = r.lastEnd
	}
	p.mu.Unlock()
	e := ending{reason: Shutdown, requested: true}
	switch {
	case prev == stStarting:
		// start finishes the stop when the incarnation is built.
	case inc == nil:
		// No incarnation runs (the child is down, parked or waiting for
		// a restart): it ends for good as its last incarnation ended, so
		// watchers see the real reason, as OTP monitors do.
		if last.reason != 0 {
			e.reason, e.err, e.fid = last.reason, last.err, last.fid
		}
		p.finish(e)
	case kill:
		p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: true})
	case p.endIdle(inc, e):
	default:
		p.sys.goStart()
		// Owner: this goroutine ends the incarnation within the actor's
		// shutdown time even if the caller stops waiting (ctx); it exits
		// when the incarnation ended or was abandoned. Counted in sys.gos.
		go func() {
			defer p.sys.goExit()
			p.endRequested(context.Background(), inc, e)
		}()
	}
	return waitDone(ctx, done)
}

func waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
