package pipeline

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// stage is the type-independent part of a stage, a source or a merge
// node: its name, configuration, counters and the hooks its typed builder
// installs.
type stage struct {
	p     *Pipeline
	name  string
	kind  string
	cfg   stageConfig
	path  string // the stage supervisor's actor path ("" for sources)
	input string // the input item type, for Replay

	active atomic.Int32 // workers routed to (autoscaling)
	acks   atomic.Int32 // workers that have not handled their EOS yet

	// Hooks installed by the typed builder. init runs at Start in build
	// order; spec returns the stage supervisor's child spec (nil for
	// sources); onDone runs once, on the goroutine of the last worker to
	// handle its EOS; sweep runs after the actors stopped and dead-letters
	// what the stage still holds; inject replays dead letters.
	init   func() error
	spec   func() *supervisor.ChildSpec
	onDone func(ctx context.Context)
	sweep  func()
	inject func(ctx context.Context, dls []DeadLetter) ([]DeadLetter, error)
	// reset resets the builder's per-run state before a run after the
	// first (see rerun.go); active0 is the first run's active workers.
	reset   func()
	active0 int32
	// workers returns the per-worker view of the stage for Snapshot (nil
	// for sources and merges without workers of their own).
	workers func() []observe.Worker

	inputs []string // the producers feeding the stage, set while building

	in, out, emitted, filtered, dead, stopped atomic.Uint64
	errs, retries, restarts, stageRestarts    atomic.Uint64
	scaleUps, scaleDowns                      atomic.Uint64
	sent, taken                               atomic.Int64
	blocked                                   atomic.Int64 // ns spent sending downstream
	lat                                       histogram
}

func (st *stage) stats() StageStats {
	s := StageStats{
		Name: st.name, Kind: st.kind, Workers: int(st.active.Load()),
		Out: st.out.Load(), Emitted: st.emitted.Load(), Filtered: st.filtered.Load(),
		DeadLettered: st.dead.Load(), Stopped: st.stopped.Load(),
		Errors: st.errs.Load(), Retries: st.retries.Load(),
		Restarts: st.restarts.Load(), StageRestarts: st.stageRestarts.Load(),
		ScaleUps: st.scaleUps.Load(), ScaleDowns: st.scaleDowns.Load(),
		Queued:  max(st.sent.Load()-st.taken.Load(), 0),
		Latency: st.lat.summary(),
	}
	s.In = st.in.Load() // read last: In only grows, so InFlight is never negative
	s.InFlight = int64(s.In) - int64(s.Out+s.Filtered+s.DeadLettered)
	return s
}

// deadLetter sends one item to the dead-letter store and counts it.
// Items stopped by the pipeline stay uncommitted for checkpoints; every
// other reason resolves the item.
func (st *stage) deadLetter(seq uint64, item any, reason Reason, attempts int, err error, adj *adjBuf) (id uint64) {
	p := st.p
	id = p.dlID.Add(1)
	p.dlq.Add(DeadLetter{
		ID: id, Stage: st.name, Item: item, Seq: seq,
		Reason: reason, Attempts: attempts, Err: err, Time: time.Now(),
	})
	st.dead.Add(1)
	if reason == ReasonStopped {
		st.stopped.Add(1)
		return id
	}
	if adj != nil {
		adj.add(seq, -1)
	} else if p.tracker != nil {
		p.tracker.apply([]seqDelta{{seq, -1}})
	}
	return id
}

// counts are a worker's local counters, added to the stage's atomics once
// per batch so that workers do not share cache lines per item.
type counts struct {
	out, emitted, filtered, errs, retries uint64
	poisoned                              uint64 // per-worker only: items dead-lettered after their last attempt
	taken                                 int64
}

func (st *stage) commit(c *counts) { st.commitSlot(c, nil) }

// commitSlot is commit that also adds to the per-worker counters ss.
func (st *stage) commitSlot(c *counts, ss *slotStats) {
	if ss != nil {
		if n := c.out + c.filtered + c.poisoned; n != 0 {
			ss.done.Add(n)
		}
		if c.errs != 0 {
			ss.errs.Add(c.errs)
		}
		if c.taken != 0 {
			ss.taken.Add(c.taken)
		}
	}
	if c.out != 0 {
		st.out.Add(c.out)
	}
	if c.emitted != 0 {
		st.emitted.Add(c.emitted)
	}
	if c.filtered != 0 {
		st.filtered.Add(c.filtered)
	}
	if c.errs != 0 {
		st.errs.Add(c.errs)
	}
	if c.retries != 0 {
		st.retries.Add(c.retries)
	}
	if c.taken != 0 {
		st.taken.Add(c.taken)
	}
	*c = counts{}
}

// A handler is the per-slot logic of an actor that takes batches of T:
// a worker, a reorder buffer or a priority merge. It lives as long as the
// pipeline, across restarts of the actor, and is only used by the actor's
// current incarnation (and by sweep once the actors stopped).
type handler[T any] interface {
	// data handles a data batch. nil means it is fully handled and may be
	// recycled; an error fails the incarnation and the runtime redelivers
	// the batch, whose progress fields say where to resume.
	data(ctx actor.Context, s *slot[T], b *batch[T]) error
	// eos handles the end of stream: flush what is held and pending.
	eos(ctx actor.Context, s *slot[T]) error
	// tick handles a timer (batch and keyed stages).
	tick(ctx actor.Context, s *slot[T], gen uint64) error
	// started runs when an incarnation starts (re-arm timers).
	started(ctx actor.Context, s *slot[T])
	// sweep dead-letters what the handler holds, after the actors stopped.
	sweep(s *slot[T])
}

// inbox is the input side of a stage: the slots of its actors, the pool
// of its batches, and the end-of-stream bookkeeping. It is the target of
// the stream feeding the stage.
type inbox[T any] struct {
	st     *stage
	slots  []*slot[T]
	pool   batchPool[T]
	router Router
	capB   int // mailbox capacity in batches
	policy mailbox.Policy
	ord    *orderGate // non-nil for an ordered stage

	ups     atomic.Int32 // producer groups that have not ended
	eosMu   sync.RWMutex // Replay holds it shared while sending; EOS exclusively
	eosSent bool         // guarded by eosMu
	counted bool         // counts In/sent (false for internal inboxes)
	// stopped, if set, takes the data batches stopBatch would dead-letter
	// (an internal inbox whose items are another stage's input).
	stopped func(b *batch[T])
}

func newInbox[T any](st *stage, n int, prefix string) *inbox[T] {
	in := &inbox[T]{st: st, pool: batchPool[T]{size: st.p.cfg.batch}, router: st.cfg.router, policy: st.cfg.overflow, counted: true}
	b := st.p.cfg.batch
	in.capB = max(1, (st.cfg.buffer+b-1)/b)
	in.slots = make([]*slot[T], n)
	for i := range in.slots {
		in.slots[i] = &slot[T]{in: in, idx: i, name: prefix + strconv.Itoa(i)}
	}
	return in
}

func (in *inbox[T]) load(i int) int {
	if r := in.slots[i].ref.Load(); r != nil {
		return r.Len()
	}
	return 0
}

// outlet implements target.
func (in *inbox[T]) outlet(adj *adjBuf) outlet[T] {
	o := &toStage[T]{in: in, size: in.st.p.cfg.batch, adj: adj, pk: newPicker(in.router, in.st.p.cfg.batch)}
	if in.router.Kind() == routeKey {
		o.key = keyHash[T](in.router)
		o.per = make([]*batch[T], len(in.slots))
	}
	return o
}

func (in *inbox[T]) addUpstream() { in.ups.Add(1) }

// upstreamDone records that one producer group has sent everything; the
// last one sends EOS to every slot, behind all the data in its mailbox.
//
// The EOS is sent with the pipeline's context, not the caller's: the
// caller is often a worker whose incarnation may be stopped (a group
// restart) while it waits for room, and an EOS that is not delivered
// would leave the stage waiting forever. An abort cancels that context.
func (in *inbox[T]) upstreamDone(context.Context) {
	if in.ups.Add(-1) != 0 {
		return
	}
	in.eosMu.Lock()
	in.eosSent = true
	in.eosMu.Unlock()
	ctx := in.st.p.runCtx
	for _, s := range in.slots {
		b := in.pool.get()
		b.kind = kEOS
		if err := in.deliver(ctx, s, b); err != nil {
			return // only when the pipeline aborts
		}
	}
}

// deliver sends b to slot s, waiting while its mailbox is full. A batch
// refused because the slot's actor stopped (ErrStopped) has been handed
// to the workers' undelivered hook (takeBack), which rescues it: it counts as delivered. Any
// other error (the sender's context ended) leaves b with the caller.
func (in *inbox[T]) deliver(ctx context.Context, s *slot[T], b *batch[T]) error {
	return in.send(ctx, s, b, false)
}

// send is deliver; with try it returns actor.ErrFull at once instead of
// waiting for room.
func (in *inbox[T]) send(ctx context.Context, s *slot[T], b *batch[T], try bool) error {
	b.slot = s
	b.sseq = s.sendSeq.Add(1)
	n := len(b.items)
	if b.kind == kData {
		if in.ord != nil && !b.ordered {
			if err := in.ord.acquire(ctx, n); err != nil {
				return err
			}
			b.olo, b.on, b.ordered = in.ord.assign(n), n, true
		}
		if in.counted {
			in.st.in.Add(uint64(n))
			in.st.sent.Add(int64(n))
			s.stats.recv.Add(uint64(n))
		}
	}
	ref := s.ref.Load()
	var err error
	switch {
	case ref == nil:
		s.rescue(b)
	case try:
		err = ref.TryTell(b)
	default:
		err = ref.Tell(ctx, b)
	}
	if err == nil || errors.Is(err, actor.ErrStopped) {
		return nil
	}
	if b.kind == kData && in.counted {
		in.st.in.Add(^uint64(n - 1))
		in.st.sent.Add(-int64(n))
		s.stats.recv.Add(^uint64(n - 1))
	}
	return err
}

// deliverShared sends b to the least loaded worker that has room, like a
// queue shared by the workers: a producer never waits on one worker (a
// slow or stuck one) while another has room. When all are full it waits
// on the least loaded one for a short while, then looks again.
func (in *inbox[T]) deliverShared(ctx context.Context, first int, b *batch[T]) error {
	active := min(int(in.st.active.Load()), len(in.slots))
	wait := time.Millisecond
	for {
		err := in.send(ctx, in.slots[first], b, true)
		if !errors.Is(err, actor.ErrFull) {
			return err
		}
		best, bestLoad := first, in.load(first)
		for k := 1; k < active; k++ {
			i := (first + k) % active
			l := in.load(i)
			if l < in.capB {
				err = in.send(ctx, in.slots[i], b, true)
				if !errors.Is(err, actor.ErrFull) {
					return err
				}
			}
			if l < bestLoad {
				best, bestLoad = i, l
			}
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err = in.send(wctx, in.slots[best], b, false)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		first = best
		wait = min(2*wait, 16*time.Millisecond)
		active = min(int(in.st.active.Load()), len(in.slots))
	}
}

// workerSpecs builds the child specs of the stage's workers, one per
// slot, giving each slot its handler h(i).
func (in *inbox[T]) workerSpecs(h func(i int) handler[T]) []supervisor.ChildSpec {
	p := in.st.p
	specs := make([]supervisor.ChildSpec, len(in.slots))
	for i, s := range in.slots {
		s.h = h(i)
		specs[i] = supervisor.NewWorker(s.name, func() actor.Actor[*batch[T]] { return &slotActor[T]{s: s} },
			actor.WithMailbox(in.capB, in.policy),
			// The batch carries per-item attempts; the runtime must never
			// dead-letter a whole batch as poison.
			actor.WithMaxAttempts(math.MaxInt32),
			// One message per turn: the runtime takes no more than one
			// batch out of the mailbox ahead of handling it, so the
			// mailbox bound is the bound on queued items.
			actor.WithThroughput(1),
			actor.WithUndelivered(takeBack[T]),
			// The runtime recovers a panic of the handler's code and
			// fails the incarnation; the slot learns of it here.
			actor.WithFailure(s.failed),
			in.st.profileLabels(),
			actor.WithKind(kindWorker))
		specs[i].Shutdown = p.cfg.shutdown
	}
	return specs
}

// stageSpec wraps children in the stage supervisor's spec.
func (st *stage) stageSpec(children []supervisor.ChildSpec) *supervisor.ChildSpec {
	starts := 0
	opts := []supervisor.Option{
		supervisor.WithStrategy(st.cfg.kind),
		supervisor.WithIntensity(st.cfg.intensity, st.cfg.period),
		supervisor.WithInit(func(actor.Context) error {
			// Runs on the stage supervisor's goroutine at each start.
			starts++
			if starts > 1 {
				st.stageRestarts.Add(1)
			}
			return nil
		}),
	}
	if st.cfg.backoff.Min > 0 {
		opts = append(opts, supervisor.WithBackoff(st.cfg.backoff))
	}
	spec := supervisor.NewSupervisor(st.name, children, opts...)
	spec.Restart = strategy.Temporary
	if st.cfg.giveUp == RestartStage {
		spec.Restart = strategy.Permanent
	}
	return &spec
}

// A slot is one actor of a stage: the Ref of its current incarnation and
// everything that must survive its restarts (the handler, the batches
// rescued from a previous actor of the slot).
type slot[T any] struct {
	in   *inbox[T]
	idx  int
	name string
	h    handler[T]
	ref  atomic.Pointer[actor.Ref[*batch[T]]]

	mu      sync.Mutex  // guards rescued
	rescued []*batch[T] // batches of a stopped actor of this slot, by sseq
	sendSeq atomic.Uint64

	// eosDropped: a drop policy dropped the EOS sent to this slot; the
	// actor handles it once its mailbox is empty.
	eosDropped atomic.Bool

	// Owned by the slot's current incarnation.
	eosDone bool
	eosHeld bool // the handler deferred the EOS (errEOSHeld); handled again after each retry
	starts  int
	busy    atomic.Bool // an incarnation is inside Receive

	stats slotStats
}

// slotStats are the counters of one worker (slot) for Snapshot: items
// delivered to it, finished by it (succeeded, filtered or poisoned),
// taken out of its mailbox, its failed attempts and restarts, and when
// it started on the batch it handles (Unix ns, 0 when idle).
type slotStats struct {
	recv, done, errs, restarts atomic.Uint64
	taken                      atomic.Int64
	busySince                  atomic.Int64
	fid                        atomic.Uint64 // the worker's last failure (observe.FailureID), for logs
}

// slotActor is one incarnation of a slot's actor. It has no state of its
// own: a fresh one per restart, as the runtime wants.
type slotActor[T any] struct{ s *slot[T] }

func (a *slotActor[T]) Start(ctx actor.Context) error { a.s.started(ctx); return nil }

func (a *slotActor[T]) Receive(ctx actor.Context, b *batch[T]) error {
	s := a.s
	s.busy.Store(true)
	err := s.receive(ctx, b)
	s.busy.Store(false)
	return err
}

// A failer is a handler that charges a failure of its actor to the item
// it was handling (a worker).
type failer interface{ failed(f *actor.Failure) }

// failed is the WithFailure hook of the slot's actor: it runs on the
// actor's goroutine when an incarnation failed (a panic the runtime
// recovered, or an error), before the runtime redelivers the batch in
// flight to the next one. A panic skipped the end of Receive, so the slot
// and the batch are no longer busy; the handler records the failed item.
func (s *slot[T]) failed(f *actor.Failure) {
	s.busy.Store(false)
	if b, ok := f.Message.(*batch[T]); ok {
		// A mailbox message (data or EOS): held by the runtime for its
		// redelivery, not recycled. (Control batches come with Urgent,
		// and carry no message here.)
		b.busy.Store(false)
	}
	if fh, ok := s.h.(failer); ok {
		fh.failed(f)
	}
}

func (s *slot[T]) started(ctx actor.Context) {
	ref, _ := actor.Self[*batch[T]](ctx)
	s.starts++
	if s.starts > 1 {
		s.in.st.restarts.Add(1)
		s.stats.restarts.Add(1)
		if s.in.counted {
			s.in.st.p.logRestart(s.in.st, s.idx, &s.stats)
		}
	}
	s.mu.Lock()
	s.ref.Store(&ref)
	pending := len(s.rescued) > 0
	s.mu.Unlock()
	s.h.started(ctx, s)
	if pending {
		s.wake(ref)
	}
}

func (s *slot[T]) wake(ref actor.Ref[*batch[T]]) {
	w := s.in.pool.get()
	w.kind = kWake
	_ = ref.Urgent(w) // lost only if the actor stopped: the next start or the sweep takes over
}

func (s *slot[T]) receive(ctx actor.Context, b *batch[T]) error {
	switch b.kind {
	case kWake:
		s.in.pool.put(b)
		if err := s.drainRescued(ctx); err != nil {
			return err
		}
		return s.droppedEOS(ctx)
	case kTick:
		g := b.gen
		s.in.pool.put(b)
		if s.in.st.p.stopping.Load() {
			return nil
		}
		return s.h.tick(ctx, s, g)
	case kRetry:
		s.in.pool.put(b)
		if s.in.st.p.stopping.Load() {
			return nil // the sweep dead-letters the parked items
		}
		if r, ok := s.h.(retrier[T]); ok {
			if err := r.retryDue(ctx, s); err != nil {
				var pe *actor.PanicError
				if ctx.Err() != nil && !errors.As(err, &pe) {
					// This incarnation is being stopped: not a failure (a
					// system message's error would count as one). The
					// item got its attempt back and stays parked; the
					// next incarnation's start re-arms its timer.
					return nil
				}
				return err
			}
		}
		return s.heldEOS(ctx)
	}
	b.busy.Store(true)
	err := s.handle(ctx, b)
	b.busy.Store(false)
	if err != nil {
		return err
	}
	if !b.held {
		s.in.pool.put(b)
	}
	return s.droppedEOS(ctx)
}

// droppedEOS handles an EOS that a drop policy dropped (DropNewest on a
// full mailbox): it stands behind everything that was queued then, so it
// is handled once the mailbox is empty. The undelivered hook wakes the
// actor after setting the flag, so an idle actor sees it too.
func (s *slot[T]) droppedEOS(ctx actor.Context) error {
	if !s.eosDropped.Load() || s.in.load(s.idx) != 0 {
		return nil
	}
	s.eosDropped.Store(false)
	b := s.in.pool.get()
	b.kind = kEOS
	if err := s.handle(ctx, b); err != nil {
		s.eosDropped.Store(true)
		return err
	}
	s.in.pool.put(b)
	return nil
}

// heldEOS handles an EOS that the handler deferred because it still held
// parked items; it runs after each round of retries and defers it again
// while some remain.
func (s *slot[T]) heldEOS(ctx actor.Context) error {
	if !s.eosHeld {
		return nil
	}
	s.eosHeld = false
	b := s.in.pool.get()
	b.kind = kEOS
	err := s.handle(ctx, b)
	s.in.pool.put(b)
	if err != nil {
		s.eosHeld = true
	}
	return err
}

// errEOSHeld is returned by a handler's eos to defer the end of stream:
// it still holds items (parked for a retry) that must go out before it.
var errEOSHeld = errors.New("pipeline: end of stream held")

// A retrier is a handler that parks items for a retry backoff (a worker).
// retryDue retries the parked items that are due; the slot's kRetry
// messages call it.
type retrier[T any] interface {
	retryDue(ctx actor.Context, s *slot[T]) error
}

func (s *slot[T]) handle(ctx actor.Context, b *batch[T]) error {
	if b.kind == kEOS {
		if s.eosDone || s.in.st.p.stopping.Load() {
			return nil
		}
		if err := s.h.eos(ctx, s); err != nil {
			if errors.Is(err, errEOSHeld) {
				s.eosHeld = true
				return nil
			}
			return err
		}
		s.eosDone = true
		if !s.in.counted {
			return nil // an internal actor (reorder buffer): not a worker
		}
		if st := s.in.st; st.acks.Add(-1) == 0 && st.onDone != nil {
			st.onDone(ctx)
		}
		return nil
	}
	return s.h.data(ctx, s, b)
}

// drainRescued handles the slot's rescued batches in order. A batch stays
// first in the list until it is fully handled, so a failure leaves it for
// the next incarnation (whose start wakes it).
func (s *slot[T]) drainRescued(ctx actor.Context) error {
	for {
		s.mu.Lock()
		if len(s.rescued) == 0 {
			s.mu.Unlock()
			return nil
		}
		b := s.rescued[0]
		s.mu.Unlock()
		if err := s.handle(ctx, b); err != nil {
			return err
		}
		s.mu.Lock()
		if i := slices.Index(s.rescued, b); i >= 0 {
			s.rescued = slices.Delete(s.rescued, i, i+1)
		}
		s.mu.Unlock()
		if !b.held {
			s.in.pool.put(b)
		}
	}
}

// rescue takes a batch that the runtime dead-lettered because the slot's
// actor stopped (a stage restart) or that could not be sent, and hands it
// to the slot's next actor, or dead-letters its items if the pipeline is
// stopping. It runs on the goroutine that dead-lettered the batch and
// never blocks.
func (s *slot[T]) rescue(b *batch[T]) {
	if s.in.st.p.stopping.Load() {
		s.stopBatch(b)
		return
	}
	s.mu.Lock()
	// Keep the list in send order. Two goroutines rescue concurrently
	// when a slot's actor stops: the one stopping it dead-letters its
	// queued batches while senders' later batches are refused; appending
	// in arrival order would let a later batch (even the EOS) overtake
	// queued ones.
	i := len(s.rescued)
	for i > 0 && s.rescued[i-1].sseq > b.sseq {
		i--
	}
	s.rescued = slices.Insert(s.rescued, i, b)
	ref := s.ref.Load()
	s.mu.Unlock()
	if ref != nil {
		s.wake(*ref)
	}
}

// stopBatch dead-letters the unhandled items of b with ReasonStopped.
func (s *slot[T]) stopBatch(b *batch[T]) {
	if b.kind == kData && s.in.stopped != nil {
		s.in.stopped(b)
		return
	}
	if b.kind == kData {
		st := s.in.st
		if !b.counted && s.in.counted {
			b.counted = true
			st.taken.Add(int64(len(b.items)))
			s.stats.taken.Add(int64(len(b.items)))
		}
		for _, e := range b.remaining() {
			st.deadLetter(e.seq, e.item, ReasonStopped, b.attempts, nil, nil)
		}
		b.next = len(b.items)
	}
	s.in.pool.put(b)
}

// takeBack is the WithUndelivered hook of the actors that take batches
// of T (workers, reorder buffers, merges): a batch the runtime could not
// deliver comes back to its slot (see onDead) instead of going to the
// System's dead letters, so a pipeline needs nothing of its System.
func takeBack[T any](d actor.DeadLetter) bool {
	b, ok := d.Message.(*batch[T])
	if ok {
		b.onDead(d.Reason)
	}
	return ok
}

// onDead handles a batch the runtime could not deliver (takeBack).
func (b *batch[T]) onDead(reason actor.DeadLetterReason) {
	s := b.slot
	if s == nil {
		return
	}
	if b.busy.Load() {
		// Still held by an abandoned incarnation; it stays in flight.
		return
	}
	switch {
	case reason == actor.DeadDropped && b.kind == kEOS:
		s.eosDropped.Store(true)
		s.in.pool.put(b)
		if ref := s.ref.Load(); ref != nil {
			s.wake(*ref)
		}
	case reason == actor.DeadDropped:
		st := s.in.st
		if b.kind == kData {
			if !b.counted && s.in.counted {
				b.counted = true
				st.taken.Add(int64(len(b.items)))
				s.stats.taken.Add(int64(len(b.items)))
			}
			for _, e := range b.remaining() {
				st.deadLetter(e.seq, e.item, ReasonOverflow, 0, nil, nil)
			}
		}
		s.in.pool.put(b)
	default:
		s.rescue(b)
	}
}

// sweepSlots dead-letters what the slots still hold once every actor
// stopped: rescued batches and the handlers' pending outputs.
func (in *inbox[T]) sweepSlots() {
	for _, s := range in.slots {
		s.mu.Lock()
		rs := s.rescued
		s.rescued = nil
		s.mu.Unlock()
		for _, b := range rs {
			s.stopBatch(b)
		}
		if s.h != nil && !s.busy.Load() {
			s.h.sweep(s)
		}
	}
}

// replay sends dead-lettered items back into the stage.
func (in *inbox[T]) replay(ctx context.Context, dls []DeadLetter) ([]DeadLetter, error) {
	var items []envelope[T]
	var rest []DeadLetter
	for _, d := range dls {
		v, ok := d.Item.(T)
		if !ok && d.Item != nil {
			rest = append(rest, d)
			continue
		}
		items = append(items, envelope[T]{seq: d.Seq, item: v})
	}
	in.eosMu.RLock()
	defer in.eosMu.RUnlock()
	if in.eosSent {
		return dls, ErrInputEnded
	}
	size := in.st.p.cfg.batch
	pk := newPicker(LeastLoaded(), size)
	t := in.st.p.tracker
	for len(items) > 0 {
		n := min(size, len(items))
		b := in.pool.get()
		b.items = append(b.items, items[:n]...)
		i := pk.pick(int(in.st.active.Load()), n, in.load)
		// Replayed items were counted done when dead-lettered: they are
		// live again for the checkpoint watermark.
		track(t, b.items, +1)
		if err := in.deliver(ctx, in.slots[i], b); err != nil {
			track(t, b.items, -1)
			for _, e := range b.items {
				rest = append(rest, DeadLetter{Stage: in.st.name, Item: e.item, Seq: e.seq, Reason: ReasonStopped})
			}
			for _, e := range items[n:] {
				rest = append(rest, DeadLetter{Stage: in.st.name, Item: e.item, Seq: e.seq, Reason: ReasonStopped})
			}
			return rest, err
		}
		items = items[n:]
	}
	if len(rest) > 0 {
		return rest, invalidf("%d dead letters do not hold items of type %s", len(rest), in.st.input)
	}
	return nil, nil
}

func track[T any](t *tracker, items []envelope[T], d int64) {
	if t == nil {
		return
	}
	ds := make([]seqDelta, len(items))
	for i, e := range items {
		ds[i] = seqDelta{e.seq, d}
	}
	t.apply(ds)
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

func validName(name string) error {
	if name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, "$") {
		return invalidf("name %q (it must be non-empty, without '/', not starting with '$')", name)
	}
	return nil
}

// The actor kinds of the pipeline's actors (troupe.actor.kind in metrics
// and the tree view): bounded by code, the same for every pipeline; the
// troupe.stage.* metrics tell stages apart.
const (
	kindPipeline = "pipeline"         // a pipeline run as a supervisor's child
	kindWorker   = "pipeline.worker"  // a stage's worker
	kindReorder  = "pipeline.reorder" // the reorder buffer of an Ordered stage
	kindMerge    = "pipeline.merge"   // the worker of a PriorityMerge
	kindInlet    = "pipeline.inlet"   // the actor behind FromRef's Ref
)

// profileLabels is the spawn option that labels the stage's workers in
// profiles, under actor.WithProfilerLabels on the pipeline's System.
func (st *stage) profileLabels() actor.SpawnOption {
	return actor.WithExtraProfilerLabels(observe.AttrPipeline, st.p.cfg.name, observe.AttrStage, st.name)
}
