package actor

import (
	"errors"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/observe"
)

// poison dead-letters the message in flight after its last attempt.
//
// The counters move before the dead letter goes out: it may end an Ask,
// and the asker then reads Stats that already count it (nothing in flight).
func (p *proc[M]) poison() {
	r := p.r()
	env, err, attempts := p.cur, r.lastErr, int(p.attempts)
	r.deadLettered.Add(1)
	p.resolve()
	p.undeliverable(env, DeadPoison, err, attempts, failureIDOf(err))
}

// expire dead-letters the request in flight whose asker gave up.
func (p *proc[M]) expire() {
	r := p.r()
	r.deadLettered.Add(1)
	r.expired.Add(1)
	d := DeadLetter{Recipient: p.path, Message: p.cur.m, Reason: DeadExpired, Err: p.cur.ask().ctx.Err(), Attempts: int(p.attempts)}
	p.resolve() // first, as in poison
	p.deadLetter(d)
}

// deadLetter hands d to the actor's WithUndelivered hook, or to the
// System's dead letters if there is none or it did not take d.
func (p *proc[M]) deadLetter(d DeadLetter) {
	if f := p.cfg.undelivered; f != nil && f(d) {
		return
	}
	p.sys.deadLetter(d)
}

// undeliverable dead-letters env for reason r and, if it is a request,
// ends its Ask at once with an *UndeliveredError saying why. The caller
// counts it.
func (p *proc[M]) undeliverable(env envelope[M], r DeadLetterReason, err error, attempts int, fid observe.FailureID) {
	p.deadLetter(DeadLetter{Recipient: p.path, Message: env.m, Reason: r, Err: err, Attempts: attempts, FailureID: fid})
	if rq := env.ask(); rq != nil {
		rq.f.abandon(&UndeliveredError{Path: p.path, Reason: r, Attempts: attempts, Err: err})
	}
}

// fail handles an error from user code on the incarnation's goroutine.
// withMsg says whether p.cur was being handled.
func (p *proc[M]) fail(inc *incarnation[M], err error, withMsg bool) bool {
	switch {
	case errors.Is(err, StopNormal):
		if withMsg {
			p.resolve()
			p.processed.Add(1)
		}
		p.endInc(inc, ending{reason: Normal})
		return false
	case errors.Is(err, StopShutdown):
		if withMsg {
			p.resolve()
			p.processed.Add(1)
		}
		// A supervisor that gives up says which failure made it.
		p.endInc(inc, ending{reason: Shutdown, fid: failureIDOf(err)})
		return false
	}
	f := &Failure{Path: p.path, Err: err, ID: p.sys.newFailureID()}
	if withMsg {
		f.Message, f.Attempt, f.trace = p.cur.m, int(p.attempts), p.cur.trace()
		p.r().lastErr = f
	}
	p.r().failures.Add(1)
	if ce := p.sys.log.Check(zap.WarnLevel, "actor failed"); ce != nil {
		ce.Write(zap.String("actor", p.path), zap.String("error.type", ErrorType(err)),
			zap.Stringer("failure_id", f.ID), zap.Int("attempt", f.Attempt), zap.Error(err))
	}
	if h := p.cfg.failed; h != nil {
		p.failureHook(h, f)
	}
	if withMsg && int(p.attempts) >= p.cfg.maxAttempts {
		p.poison()
	}
	p.endInc(inc, ending{reason: Failed, err: f, fid: f.ID})
	return false
}

// failureHook runs the WithFailure hook h with f on the incarnation's
// goroutine; a panic in h is logged and otherwise ignored.
func (p *proc[M]) failureHook(h func(*Failure), f *Failure) {
	if p.cfg.passPanics {
		h(f)
		return
	}
	if err := guard(func() error { h(f); return nil }); err != nil {
		p.sys.log.Error("actor failure hook panicked", zap.String("actor", p.path),
			zap.Stringer("failure_id", f.ID), zap.Error(err))
	}
}

// drainSystem dead-letters the Urgent messages left in the system lane of
// a stopped actor; other system messages are moot once it stopped.
func (p *proc[M]) drainSystem() {
	for {
		s, ok := p.mb.PopSystem()
		if !ok {
			return
		}
		if s.kind == sysFunc && s.msg != nil {
			// Not in Stats.DeadLettered: Urgent messages bypass the
			// mailbox, so they are not in Stats.Accepted either.
			p.deadLetter(DeadLetter{Recipient: p.path, Message: s.msg, Reason: DeadStopped})
		}
	}
}
