package remote

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"sync"

	pactor "github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-go/troupe/actor"
)

// A Handle is a typed reference, on this node, to an actor exposed on
// another node (Expose): Tell and TryTell send it an M, Watch reports how
// it ended. A Handle has a credit window (WithWindow): it may have that
// many messages sent and not yet acknowledged by the remote gateway; Tell
// waits for credit, TryTell returns actor.ErrFull without it. When the
// remote actor stops for good, or its node is lost, the handle is down
// for good: its watchers get the reason, its unacknowledged messages are
// counted lost in transit (Node.LostInTransit) and dead-lettered, and
// later sends fail. A Handle is safe for concurrent use.
//
// Handle implements actor.Endpoint[M]: Ref wraps one in an ordinary
// actor.Ref[M] (actor.RefTo), through which Tell, TryTell, actor.Ask and
// the PID's Watch, Stop and Done work as on a local actor.
type Handle[M any] struct{ h *handle }

var _ actor.Endpoint[int] = (*Handle[int])(nil)

// Ref returns an actor.Ref[M] for the actor exposed under name on the
// node at addr: Dial, then actor.RefTo. See Dial for the errors.
func Ref[M any](n *Node, addr, name string) (actor.Ref[M], error) {
	h, err := Dial[M](n, addr, name)
	if err != nil {
		return actor.Ref[M]{}, err
	}
	return actor.RefTo[M](h), nil
}

// handle is the untyped core of a Handle.
type handle struct {
	n      *Node
	addr   string // the remote node
	name   string // the exposed name
	gw     *pactor.PID
	self   *pactor.PID // the handle's protoactor actor: acks, replies, exits
	window uint64

	mu       sync.Mutex
	sent     uint64 // last sequence number sent
	acked    uint64 // last acknowledged
	unacked  []any  // by seq % len(unacked); grows up to window (keep)
	credit   chan struct{}
	corr     uint64
	pending  map[uint64]pendingReply
	watchers map[*func(actor.Terminated)]struct{}
	final    *actor.Terminated
	done     chan struct{}

	// The wire queue: everything the handle sends to the gateway goes
	// through out, in order, and leaves in batches (flushQueue), as
	// Nagle's algorithm without its delay: a message leaves at once when
	// every message on the wire is acknowledged; else it waits for the
	// next ack, for flushAt messages to queue, or for its sender to wait
	// for credit, whichever comes first. Control messages leave at once.
	out     []*envelope
	spare   []*envelope // a drained out, for reuse
	flushed uint64      // last sequence number on the wire
	wire    sync.Mutex  // held while taking out and sending it: the wire order is out's

	deadLettered uint64 // lost in transit or refused here
}

// Dial returns a Handle to the actor exposed under name on the node at
// addr (its Addr). It does not wait for the other node: a name that is
// not exposed there ends the handle with NoConnection and ErrNotExposed
// once the node answers. It returns an error matching ErrUnregistered if
// M is not registered (an interface M is checked at each send instead),
// ErrNoConnection if membership declared that node dead, ErrClosed after
// Close.
func Dial[M any](n *Node, addr, name string) (*Handle[M], error) {
	if n == nil {
		return nil, fmt.Errorf("remote: nil node: %w", actor.ErrNilRef)
	}
	if t := reflect.TypeFor[M](); t.Kind() != reflect.Interface && lookupType(t) == nil {
		return nil, fmt.Errorf("remote: dial %s/%s: %v: %w", addr, name, t, ErrUnregistered)
	}
	h := &handle{
		n:        n,
		addr:     addr,
		name:     name,
		gw:       pactor.NewPID(addr, gatewayPrefix+name),
		window:   uint64(n.window),
		unacked:  make([]any, min(n.window, 64)),
		credit:   make(chan struct{}),
		pending:  map[uint64]pendingReply{},
		watchers: map[*func(actor.Terminated)]struct{}{},
		done:     make(chan struct{}),
	}
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return nil, fmt.Errorf("remote: dial %s/%s: %w", addr, name, ErrClosed)
	case n.dead[addr]:
		n.mu.Unlock()
		return nil, fmt.Errorf("remote: dial %s/%s: %w", addr, name, nodeLost(addr))
	}
	set := n.handles[addr]
	if set == nil {
		set = map[*handle]struct{}{}
		n.handles[addr] = set
	}
	set[h] = struct{}{}
	n.mu.Unlock()
	// The name is fixed before the spawn: the actor may run before
	// SpawnNamed returns, and it reads h.self.
	// n.nonce keeps a restarted node (same address) from getting the acks
	// and exits meant for the handles of its previous run.
	id := "troupe-handle-" + n.nonce + "-" + strconv.FormatUint(n.handleSeq.Add(1), 10)
	h.self = pactor.NewPID(n.addr, id)
	if _, err := n.pa.Root.SpawnNamed(pactor.PropsFromFunc(h.receive), id); err != nil {
		n.mu.Lock()
		delete(n.handles[addr], h)
		n.mu.Unlock()
		return nil, fmt.Errorf("remote: dial %s/%s: %w", addr, name, err)
	}
	// The watch goes first on the stream, ahead of any message.
	h.control(kindWatch)
	return &Handle[M]{h: h}, nil
}

// Batch limits: a batch takes at most maxBatch messages and, after the
// first, maxBatchBytes of payload; a sender flushes the queue itself
// when flushAt messages queued.
const (
	maxBatch      = 256
	maxBatchBytes = 64 << 10
	flushAt       = 32
)

// enqueueLocked queues the message e (h.mu held). It reports whether the
// caller must flush the queue (flushQueue, after unlocking): e is a
// request (its asker waits for it: an ack still on its way must not hold
// it back, and a sequential asker gets the reply before the ack), nothing
// on the wire waits for an ack, or flushAt messages queued.
func (h *handle) enqueueLocked(e *envelope) (flush bool) {
	h.out = append(h.out, e)
	return e.Kind == kindAsk || h.flushed <= h.acked || len(h.out) >= flushAt
}

// flushQueue puts everything queued on the wire, in order.
func (h *handle) flushQueue() {
	h.wire.Lock()
	defer h.wire.Unlock()
	h.mu.Lock()
	b := h.out
	if len(b) == 0 {
		h.mu.Unlock()
		return
	}
	h.out, h.spare = h.spare, nil
	for _, e := range b {
		h.flushed = max(h.flushed, e.Seq)
	}
	h.mu.Unlock()
	h.flush(b)
	clear(b)
	h.mu.Lock()
	if h.spare == nil && cap(b) <= 4*maxBatch {
		h.spare = b[:0]
	}
	h.mu.Unlock()
}

// flush sends b to the gateway, in batches.
func (h *handle) flush(b []*envelope) {
	for len(b) > 0 {
		k, size := 1, len(b[0].Payload)
		for k < len(b) && k < maxBatch && size+len(b[k].Payload) <= maxBatchBytes {
			size += len(b[k].Payload)
			k++
		}
		if k == 1 {
			e := b[0]
			e.Sender, e.Node = h.self.Id, h.n.addr
			h.n.send(h.gw, e)
		} else {
			buf := appendBatch(make([]byte, 0, size+24*k), b[:k])
			h.n.send(h.gw, &envelope{Kind: kindBatch, Sender: h.self.Id, Node: h.n.addr, Batch: buf})
		}
		b = b[k:]
	}
}

// flush is what the handle's actor sends itself on a Terminated, to decide
// after the messages already in its mailbox (an exit sent before the
// Terminated is overtaken by it: protoactor delivers system messages
// first).
type flush struct{ why pactor.TerminatedReason }

// receive runs on the handle's protoactor actor.
func (h *handle) receive(c pactor.Context) {
	switch m := c.Message().(type) {
	case *pactor.Started:
		c.Watch(h.gw)
	case *pactor.Stopped:
		h.n.stopped(h.self)
	case *envelope:
		switch m.Kind {
		case kindAck:
			h.ack(m.Seq)
		case kindReply, kindReplyFail:
			h.mu.Lock()
			p, ok := h.pending[m.Corr]
			delete(h.pending, m.Corr)
			h.mu.Unlock()
			if ok {
				if p.stop != nil {
					p.stop()
				}
				p.answer(m)
			}
		case kindExit:
			err := wireError(m)
			if actor.ExitReason(m.Reason) == NoConnection {
				err = fmt.Errorf("remote: node %s: %w", h.addr, err) // matches ErrNoConnection
			}
			h.down(actor.ExitReason(m.Reason), err, true)
		}
	case *pactor.Terminated:
		c.Send(c.Self(), flush{why: m.Why})
	case flush:
		if m.why == pactor.TerminatedReason_AddressTerminated {
			h.down(NoConnection, nodeLost(h.addr), true)
		} else {
			h.down(NoConnection, fmt.Errorf("remote: %s on %s: %w: %w", h.name, h.addr, ErrNoConnection, ErrNotExposed), true)
		}
	}
}

// keep records m, sent as seq, until it is acknowledged (h.mu held).
// The ring starts small and doubles, up to the window, when the messages
// on the wire outgrow it: a handle that sends little holds little.
func (h *handle) keep(seq uint64, m any) {
	if n := uint64(len(h.unacked)); h.sent-h.acked > n {
		ring := make([]any, min(2*n, h.window))
		for s := h.acked + 1; s < seq; s++ {
			ring[s%uint64(len(ring))] = h.unacked[s%n]
		}
		h.unacked = ring
	}
	h.unacked[seq%uint64(len(h.unacked))] = m
}

func (h *handle) ack(seq uint64) {
	h.mu.Lock()
	if h.final != nil || seq <= h.acked || seq > h.sent {
		h.mu.Unlock()
		return
	}
	for s := h.acked + 1; s <= seq; s++ {
		h.unacked[s%uint64(len(h.unacked))] = nil
	}
	h.acked = seq
	close(h.credit)
	h.credit = make(chan struct{})
	queued := len(h.out) > 0
	h.mu.Unlock()
	if queued {
		h.flushQueue() // what waited for this ack
	}
}

// send sends m (an M): it waits for credit unless try, then for an ask
// keeps its Reply under a fresh correlation id. On a handle that is down
// it dead-letters m, unless keep (the caller, a Service, sends m again
// elsewhere).
func (h *handle) send(ctx context.Context, m any, try, keep bool) error {
	ent := lookupType(reflect.TypeOf(m))
	if ent == nil {
		return fmt.Errorf("remote: send to %s/%s: %T: %w", h.addr, h.name, m, ErrUnregistered)
	}
	kind := kindTell
	rest := m
	var pr pendingReply
	if ent.ask != nil {
		var ok bool
		if rest, pr, ok = ent.ask.take(m); ok {
			kind = kindAsk
		}
	}
	e, err := encodeWith(ent, rest)
	if err != nil {
		return err
	}
	e.Kind = kind
	if kind == kindAsk {
		if dl, ok := ctx.Deadline(); ok {
			e.Deadline = dl.UnixNano()
		}
	}
	yielded := false
	for {
		h.mu.Lock()
		if h.final != nil {
			t := *h.final
			h.mu.Unlock()
			err := fmt.Errorf("remote: %s on %s is down (%v): %w", h.name, h.addr, t.Reason, t.Err)
			if t.Reason != NoConnection {
				err = fmt.Errorf("remote: %s on %s is down (%v): %w", h.name, h.addr, t.Reason, actor.ErrStopped)
			}
			if keep {
				return err
			}
			h.mu.Lock()
			h.deadLettered++
			h.mu.Unlock()
			h.n.deadLetter(Undelivered{Node: h.addr, Name: h.name, Type: ent.name, Message: m, Err: err})
			return err
		}
		if h.sent-h.acked < h.window {
			h.sent++
			e.Seq = h.sent
			h.keep(e.Seq, m)
			if kind == kindAsk {
				h.corr++
				corr := h.corr
				e.Corr = corr
				if ctx.Done() != nil {
					// The asker gives up: forget its Reply (the gateway's
					// Ask has the same deadline).
					pr.stop = context.AfterFunc(ctx, func() {
						h.mu.Lock()
						delete(h.pending, corr)
						h.mu.Unlock()
					})
				}
				h.pending[corr] = pr
			}
			// Under the lock: the wire order is the sequence order.
			flush := h.enqueueLocked(e)
			h.mu.Unlock()
			if flush {
				h.flushQueue()
				// What the flush woke (protoactor's endpoint writer, or
				// on this node the gateway and what it delivers to, and
				// the acks coming back) runs now, not after the burst.
				runtime.Gosched()
			}
			return nil
		}
		wait := h.credit
		queued := len(h.out) > 0
		h.mu.Unlock()
		if queued {
			// What waits for credit is on the wire first.
			h.flushQueue()
		}
		if try {
			if !yielded {
				// Once: what brings the acks back may be waiting for
				// this P.
				yielded = true
				runtime.Gosched()
				continue
			}
			return fmt.Errorf("remote: %s on %s: %w", h.name, h.addr, actor.ErrFull)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("remote: tell %s on %s: %w", h.name, h.addr, ctx.Err())
		}
	}
}

// down ends the handle once: watchers get reason and err; with lost, the
// unacknowledged messages are counted lost in transit and dead-lettered.
func (h *handle) down(reason actor.ExitReason, err error, lost bool) {
	h.mu.Lock()
	if h.final != nil {
		h.mu.Unlock()
		return
	}
	t := actor.Terminated{Path: h.path(), Reason: reason, Err: err}
	h.final = &t
	var msgs []any
	if lost {
		for s := h.acked + 1; s <= h.sent; s++ {
			i := s % uint64(len(h.unacked))
			msgs = append(msgs, h.unacked[i])
			h.unacked[i] = nil
		}
		// Lost: what is still queued never leaves.
		clear(h.out)
		h.out = h.out[:0]
	}
	// After what is queued (Close: the messages go on their way).
	h.out = append(h.out, &envelope{Kind: kindUnwatch})
	h.deadLettered += uint64(len(msgs))
	pend := h.pending
	h.pending = nil
	ws := h.watchers
	h.watchers = nil
	credit := h.credit // ack replaces it no more: final is set
	h.mu.Unlock()
	// Pending asks fail first: an Ask through a Ref then returns this
	// error, not the ErrStopped of a Done closed under it.
	defer close(h.done)
	defer close(credit)

	n := h.n
	n.mu.Lock()
	delete(n.handles[h.addr], h)
	if len(n.handles[h.addr]) == 0 {
		delete(n.handles, h.addr)
	}
	n.mu.Unlock()
	n.lost.Add(uint64(len(msgs)))
	for _, m := range msgs {
		name := ""
		if e := lookupType(reflect.TypeOf(m)); e != nil {
			name = e.name
		}
		n.deadLetter(Undelivered{Node: h.addr, Name: h.name, Type: name, Message: m, Err: fmt.Errorf("remote: %s on %s: %w: %w", h.name, h.addr, ErrLostInTransit, err)})
	}
	for _, p := range pend {
		if p.stop != nil {
			p.stop()
		}
		p.fail(fmt.Errorf("remote: ask %s on %s: %w", h.name, h.addr, err))
	}
	for f := range ws {
		(*f)(t)
	}
	h.flushQueue()
	n.stopHandleActor(h.self)
}

// isDown reports whether the handle is down. It is set before pending
// asks fail, so an Ask that failed because the handle went down sees it.
func (h *handle) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.final != nil
}

func (h *handle) path() string { return "remote://" + h.addr + "/" + h.name }

func (h *handle) watch(fn func(actor.Terminated)) func() {
	if fn == nil {
		return func() {}
	}
	h.mu.Lock()
	if h.final != nil {
		t := *h.final
		h.mu.Unlock()
		fn(t)
		return func() {}
	}
	k := &fn
	h.watchers[k] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.watchers, k)
		h.mu.Unlock()
	}
}

// Tell sends m, waiting for credit while the handle has its window of
// messages unacknowledged, until ctx ends (then it returns an error
// matching ctx.Err()). It returns an error matching ErrUnregistered for a
// type without a name; on a handle that is down, one matching
// ErrNoConnection (node lost) or actor.ErrStopped (the actor stopped), and
// m is dead-lettered. A nil error means m is on its way, not that it
// arrived: if the node is lost before acknowledging it, it is counted lost
// in transit. A nil ctx waits as long as it takes.
func (r *Handle[M]) Tell(ctx context.Context, m M) error {
	if r == nil || r.h == nil {
		return actor.ErrNilRef
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return r.h.send(ctx, m, false, false)
}

// TryTell is Tell that never waits: without credit it returns an error
// matching actor.ErrFull.
func (r *Handle[M]) TryTell(m M) error {
	if r == nil || r.h == nil {
		return actor.ErrNilRef
	}
	return r.h.send(context.Background(), m, true, false)
}

// Watch calls fn once when the handle goes down (at once, on the caller's
// goroutine, if it is): with the remote actor's exit reason and error
// (actor.Normal, Shutdown, Failed with the failure's text as a
// *RemoteError, Killed), or NoConnection with an error matching
// ErrNoConnection. fn must not block. unwatch cancels it.
func (r *Handle[M]) Watch(fn func(actor.Terminated)) (unwatch func()) {
	if r == nil || r.h == nil {
		return func() {}
	}
	return r.h.watch(fn)
}

// Done returns a channel closed when the handle is down.
func (r *Handle[M]) Done() <-chan struct{} {
	if r == nil || r.h == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return r.h.done
}

// Path returns "remote://ADDR/NAME".
func (r *Handle[M]) Path() string {
	if r == nil || r.h == nil {
		return ""
	}
	return r.h.path()
}

// Name returns the exposed name.
func (r *Handle[M]) Name() string {
	if r == nil || r.h == nil {
		return ""
	}
	return r.h.name
}

// PID returns the remote actor's lifecycle handle: Path
// ("remote://ADDR/NAME"), Watch with the remote exit reason, Done, Stop,
// StopNow and Kill carried out on its node, and Stats as seen from this
// node (Accepted: sent; InFlight: not yet acknowledged; DeadLettered:
// lost in transit or refused on this side).
func (r *Handle[M]) PID() actor.PID {
	if r == nil || r.h == nil {
		return nil
	}
	return remotePID{h: r.h}
}

// System returns the local System of the handle's Node.
func (r *Handle[M]) System() *actor.System {
	if r == nil || r.h == nil {
		return nil
	}
	return r.h.n.sys
}

// remotePID is the actor.PID of a remote actor.
type remotePID struct {
	actor.ExternalPID
	h *handle
}

func (p remotePID) Path() string                           { return p.h.path() }
func (p remotePID) Name() string                           { return p.h.name }
func (p remotePID) Done() <-chan struct{}                  { return p.h.done }
func (p remotePID) Watch(fn func(actor.Terminated)) func() { return p.h.watch(fn) }
func (p remotePID) Stop(ctx context.Context) error         { return p.h.stop(ctx, kindStop) }
func (p remotePID) StopNow()                               { _ = p.h.stop(context.Background(), kindStopNow) }
func (p remotePID) Kill()                                  { p.h.control(kindKill) }

func (p remotePID) Stats() actor.Stats {
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	return actor.Stats{Accepted: h.sent, InFlight: int64(h.sent - h.acked), DeadLettered: h.deadLettered}
}

// control sends a control message, in order after the messages sent
// before it.
func (h *handle) control(kind uint32) {
	h.mu.Lock()
	h.out = append(h.out, &envelope{Kind: kind})
	h.mu.Unlock()
	h.flushQueue()
}

// stop asks the remote node to stop the actor and waits until the handle
// is down (the exit, or the node's loss) or ctx ends.
func (h *handle) stop(ctx context.Context, kind uint32) error {
	if ctx == nil {
		ctx = context.Background()
	}
	h.control(kind)
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Outstanding returns how many messages were sent and not acknowledged.
func (r *Handle[M]) Outstanding() int {
	if r == nil || r.h == nil {
		return 0
	}
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return int(r.h.sent - r.h.acked)
}

// Stop asks the remote node to stop the actor for good (PID.Stop there)
// and waits until the handle is down or ctx ends (then it returns
// ctx.Err()). A nil ctx waits as long as it takes.
func (r *Handle[M]) Stop(ctx context.Context) error {
	if r == nil || r.h == nil {
		return actor.ErrNilRef
	}
	return r.h.stop(ctx, kindStop)
}

// Kill asks the remote node to kill the actor's current incarnation
// (PID.Kill there); it does not wait.
func (r *Handle[M]) Kill() {
	if r == nil || r.h == nil {
		return
	}
	r.h.control(kindKill)
}

// Close releases the handle: the remote gateway forgets it, its watchers
// are not called, messages still unacknowledged are not counted lost.
func (r *Handle[M]) Close() {
	if r == nil || r.h == nil {
		return
	}
	h := r.h
	h.mu.Lock()
	h.watchers = map[*func(actor.Terminated)]struct{}{}
	h.mu.Unlock()
	h.down(actor.Shutdown, fmt.Errorf("remote: handle closed: %w", actor.ErrStopped), false)
}
