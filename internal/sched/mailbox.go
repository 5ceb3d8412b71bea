// Package sched is the scheduling mailbox of troupe's actor runtime: a
// user [mailbox.Queue] plus a system lane, and the idle/running/suspended
// state that lets the runtime run an actor only while it has work.
//
// Users configure the queue (package mailbox: capacity, overflow policy,
// watermarks); nothing here is theirs to configure, which is why it is
// internal. The package starts no goroutines and calls back into the
// runtime only through the Scheduler given to NewMailbox.
package sched

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/mailbox"
)

// Scheduling states of a Mailbox.
const (
	idle      uint32 = iota // no owner; a post schedules one
	running                 // an owner is draining the mailbox
	suspended               // no owner and posts do not schedule one
)

// A Mailbox is a user [mailbox.Queue] of M plus a system lane of S, and the
// scheduling state that lets an actor runtime run an actor only while it has
// work.
//
// The system lane is unbounded, never blocks and is always served first:
// the owner checks [Mailbox.HasSystem] between user items.
//
// Exactly one owner drains a mailbox at a time. A post that finds the
// mailbox idle makes it running and calls the schedule function, which
// must arrange for an owner (typically by starting a goroutine). The owner
// gives the mailbox back with [Mailbox.Release]; a post that raced with the
// release is never lost because Release re-checks for work after going idle
// and, if it wins the mailbox back, tells the owner to continue.
//
// The happens-before edge: a post's enqueue happens before its load of
// the state; Release's store of idle happens before its re-check of the
// lengths. Either the poster sees idle (and schedules) or the releaser sees
// the item (and continues), so no wake-up is lost.
type Mailbox[M, S any] struct {
	q mailbox.Queue[M]

	lane   atomic.Pointer[sysLane[S]] // made on the first PostSystem
	sysLen atomic.Int32

	state atomic.Uint32
	sched Scheduler
}

// sysLane is the system lane, made when a system item arrives and let go
// when the last one is taken, so an idle mailbox holds none.
type sysLane[S any] struct {
	mu    sync.Mutex // guards items and dead
	items []S
	dead  bool // emptied and unlinked: a poster that finds it takes a new lane
}

// A Scheduler arranges for a mailbox to get an owner (typically by
// starting a goroutine that drains it). Schedule is called on the posting
// goroutine and must not block.
type Scheduler interface{ Schedule() }

// SchedulerFunc adapts a function to the Scheduler interface.
type SchedulerFunc func()

// Schedule calls f().
func (f SchedulerFunc) Schedule() { f() }

func (mb *Mailbox[M, S]) sysLane() *sysLane[S] {
	if l := mb.lane.Load(); l != nil {
		return l
	}
	l := new(sysLane[S])
	if mb.lane.CompareAndSwap(nil, l) {
		return l
	}
	return mb.lane.Load()
}

// NewMailbox returns a mailbox whose user queue is configured by cfg and
// which calls sched.Schedule whenever it goes from idle to running because
// of a post.
func NewMailbox[M, S any](cfg *mailbox.Config, sched Scheduler) (*Mailbox[M, S], error) {
	mb := new(Mailbox[M, S])
	if err := mb.Init(cfg, sched); err != nil {
		return nil, err
	}
	return mb, nil
}

// Init prepares a zero Mailbox in place (for embedding); see NewMailbox.
func (mb *Mailbox[M, S]) Init(cfg *mailbox.Config, sched Scheduler) error {
	if sched == nil {
		return errors.New("sched: nil scheduler")
	}
	mb.sched = sched
	return mb.q.Init(cfg)
}

// Post pushes a user item (see [mailbox.Queue.Push]) and schedules the owner.
func (mb *Mailbox[M, S]) Post(ctx context.Context, m M) (dropped M, wasDropped bool, err error) {
	dropped, wasDropped, err = mb.q.Push(ctx, m)
	if err == nil {
		mb.kick()
	}
	return
}

// TryPost pushes a user item without waiting (see [mailbox.Queue.TryPush]) and
// schedules the owner.
func (mb *Mailbox[M, S]) TryPost(m M) (dropped M, wasDropped bool, err error) {
	dropped, wasDropped, err = mb.q.TryPush(m)
	if err == nil {
		mb.kick()
	}
	return
}

// PostSystem appends s to the system lane and schedules the owner. It
// never blocks and never fails.
func (mb *Mailbox[M, S]) PostSystem(s S) {
	for {
		l := mb.sysLane()
		l.mu.Lock()
		if l.dead {
			l.mu.Unlock()
			continue // PopSystem unlinked it after this load: take the new one
		}
		l.items = append(l.items, s)
		mb.sysLen.Store(int32(len(l.items)))
		l.mu.Unlock()
		break
	}
	mb.kick()
}

// HasSystem reports whether the system lane has items, without locking.
func (mb *Mailbox[M, S]) HasSystem() bool { return mb.sysLen.Load() > 0 }

// PopSystem removes and returns the oldest system item.
func (mb *Mailbox[M, S]) PopSystem() (s S, ok bool) {
	l := mb.lane.Load()
	if l == nil {
		return s, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) == 0 {
		return s, false
	}
	s = l.items[0]
	var zero S
	l.items[0] = zero
	l.items = l.items[1:]
	mb.sysLen.Store(int32(len(l.items)))
	if len(l.items) == 0 {
		// Unlink the empty lane under its lock: a poster that loaded it
		// sees dead once it gets the lock and makes a new one, which it
		// can only do after this CAS, so sysLen above is not overwritten
		// by a stale value.
		l.items, l.dead = nil, true
		mb.lane.CompareAndSwap(l, nil)
	}
	return s, true
}

func (mb *Mailbox[M, S]) kick() {
	if mb.state.Load() == idle && mb.state.CompareAndSwap(idle, running) {
		mb.sched.Schedule()
	}
}

func (mb *Mailbox[M, S]) hasWork() bool {
	return mb.sysLen.Load() > 0 || mb.q.Len() > 0
}

// TryAcquire makes the caller the owner of an idle mailbox. It reports
// false when the mailbox is running or suspended.
func (mb *Mailbox[M, S]) TryAcquire() bool {
	return mb.state.CompareAndSwap(idle, running)
}

// Release gives up ownership. It returns true when work arrived meanwhile
// and the caller won ownership back: the caller must then keep draining.
func (mb *Mailbox[M, S]) Release() (stillOwner bool) {
	mb.state.Store(idle)
	return mb.hasWork() && mb.state.CompareAndSwap(idle, running)
}

// Suspend gives up ownership without rescheduling: posts keep queueing
// but nothing runs until Resume.
func (mb *Mailbox[M, S]) Suspend() { mb.state.Store(suspended) }

// Resume ends a suspension. If work is queued, or pending is true (the
// owner holds items taken earlier), it makes the mailbox running and calls
// the schedule function.
func (mb *Mailbox[M, S]) Resume(pending bool) {
	if !mb.state.CompareAndSwap(suspended, idle) {
		return
	}
	if (pending || mb.hasWork()) && mb.state.CompareAndSwap(idle, running) {
		mb.sched.Schedule()
	}
}

// Suspended reports whether the mailbox is suspended.
func (mb *Mailbox[M, S]) Suspended() bool { return mb.state.Load() == suspended }

// Len returns the number of queued user items.
func (mb *Mailbox[M, S]) Len() int { return mb.q.Len() }

// Cap returns the user queue's capacity (0 = unbounded).
func (mb *Mailbox[M, S]) Cap() int { return mb.q.Cap() }

// Stats returns the user queue's counters.
func (mb *Mailbox[M, S]) Stats() mailbox.Stats { return mb.q.Stats() }

// PopBatch takes up to max user items; see [mailbox.Queue.PopBatch].
func (mb *Mailbox[M, S]) PopBatch(dst []M, max int) []M { return mb.q.PopBatch(dst, max) }

// PopOne takes the oldest user item; see [mailbox.Queue.PopOne].
func (mb *Mailbox[M, S]) PopOne() (M, bool) { return mb.q.PopOne() }

// Close closes the user queue and returns what it held; see [mailbox.Queue.Close].
// The system lane stays usable.
func (mb *Mailbox[M, S]) Close() []M { return mb.q.Close() }

// Closed reports whether Close was called.
func (mb *Mailbox[M, S]) Closed() bool { return mb.q.Closed() }
