package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-go/troupe/actor"
)

// gatewayPrefix prefixes the protoactor name of a gateway.
const gatewayPrefix = "troupe:"

// ackEvery is how many deliveries from one sender a gateway acknowledges
// at most in one ack (it also acks whenever its queue runs empty, and
// before it waits for room in the exposed actor's mailbox).
const ackEvery = 32

// gateway is the owning node's side of one exposed actor: a protoactor
// actor that receives envelopes and batches of them (and keeps the
// watchers), and a delivery goroutine that takes everything queued at
// once, decodes it in order, Tells the local Ref (waiting under a Block
// mailbox: that is the backpressure, since no ack goes back meanwhile)
// and acknowledges.
type gateway struct {
	n    *Node
	name string
	pid  *pactor.PID
	typ  reflect.Type // M
	tell func(ctx context.Context, v any) error
	ref  any // the actor.Ref[M]
	lpid actor.PID
	// noWait is a done ctx: a Tell with it takes the message if the
	// mailbox has room and returns ctx.Err() if it would wait.
	noWait context.Context
	stop   atomic.Bool // closing, for the delivery goroutine between messages

	mu       sync.Mutex
	queue    []*envelope
	exit     *actor.Terminated // set when the local actor stopped for good
	closing  bool              // the Node closes
	wake     chan struct{}     // cap 1
	watchers map[string]*pactor.PID
	unwatch  func()
	done     chan struct{} // closed when the delivery goroutine ended

	// Whoever delivers holds dmu: the delivery goroutine, or the
	// protoactor actor when it finds dmu free (it delivers at once what
	// the mailbox has room for, without a hand-off). Under dmu:
	dmu     sync.Mutex
	cur     []*envelope // taken from queue; cur[curI] is the next to deliver
	curI    int
	acks    map[string]*ackState
	lastAck *ackState // of the sender of the last message, if in acks
}

type ackState struct {
	node, sender string
	to           *pactor.PID
	seq          uint64
	pending      int // delivered and not acknowledged yet
}

// Expose makes ref reachable from other nodes under name: a handle dialled
// with this node's Addr and name (Dial) sends to it. M must be registered
// (error matching ErrUnregistered otherwise). Messages from one handle are
// delivered in the order they were sent; under a bounded mailbox with the
// Block policy the gateway waits, and the waiting reaches the senders
// through their credit windows. When the actor stops for good, every
// remote watcher gets its exit reason (and the failure's text), and the
// name is free again. It returns an error matching ErrExposed for a name
// in use, actor.ErrNilRef for a zero ref, ErrClosed after Close.
func Expose[M any](n *Node, name string, ref actor.Ref[M]) error {
	if n == nil {
		return fmt.Errorf("remote: nil node: %w", actor.ErrNilRef)
	}
	pid := ref.PID()
	if pid == nil {
		return fmt.Errorf("remote: expose %q: %w", name, actor.ErrNilRef)
	}
	if name == "" || strings.ContainsAny(name, "/$") {
		return fmt.Errorf("remote: expose: %w: %q", actor.ErrInvalidName, name)
	}
	t := reflect.TypeFor[M]()
	if t.Kind() != reflect.Interface && lookupType(t) == nil {
		return fmt.Errorf("remote: expose %q: %v: %w", name, t, ErrUnregistered)
	}
	noWait, cancel := context.WithCancel(context.Background())
	cancel()
	g := &gateway{
		noWait:   noWait,
		n:        n,
		name:     name,
		typ:      t,
		ref:      ref,
		lpid:     pid,
		wake:     make(chan struct{}, 1),
		watchers: map[string]*pactor.PID{},
		acks:     map[string]*ackState{},
		done:     make(chan struct{}),
		tell: func(ctx context.Context, v any) error {
			m, ok := v.(M)
			if !ok {
				return &UndecodableError{Type: fmt.Sprintf("%T", v), Err: fmt.Errorf("exposed actor takes %s", reflect.TypeFor[M]())}
			}
			return ref.Tell(ctx, m)
		},
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return fmt.Errorf("remote: expose %q: %w", name, ErrClosed)
	}
	if _, ok := n.gateways[name]; ok {
		n.mu.Unlock()
		return fmt.Errorf("remote: expose %q: %w", name, ErrExposed)
	}
	p, err := n.pa.Root.SpawnNamed(pactor.PropsFromFunc(g.receive), gatewayPrefix+name)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("remote: expose %q: %w: %v", name, ErrExposed, err)
	}
	g.pid = p
	n.gateways[name] = g
	n.mu.Unlock()
	// Owner: the gateway; it ends after the exit, or when the Node closes.
	go g.deliver()
	g.unwatch = pid.Watch(func(t actor.Terminated) {
		g.mu.Lock()
		if g.exit == nil {
			g.exit = &t
		}
		g.mu.Unlock()
		g.signal()
	})
	return nil
}

// receive runs on the gateway's protoactor actor.
func (g *gateway) receive(c pactor.Context) {
	e, ok := c.Message().(*envelope)
	if !ok {
		return // protoactor's lifecycle messages
	}
	if e.Kind != kindBatch {
		if queued(e.Kind) {
			// In order with the data: a watch registered before the exit
			// gets the exit after every ack.
			g.mu.Lock()
			g.queue = append(g.queue, e)
			g.mu.Unlock()
			g.kick()
			return
		}
		g.control(e.Kind)
		return
	}
	items, rest, err := decodeBatch(e.Batch, e.Sender, e.Node)
	var ctl []uint32
	q := false
	g.mu.Lock()
	for _, it := range items {
		switch {
		case queued(it.Kind):
			g.queue = append(g.queue, it)
			q = true
		case it.Kind != kindBatch:
			ctl = append(ctl, it.Kind)
		}
	}
	g.mu.Unlock()
	if q {
		g.kick()
	}
	for _, k := range ctl {
		g.control(k)
	}
	if err != nil {
		// What follows the fault is lost to this node; the sender's
		// next acknowledged message acknowledges it (acks are
		// cumulative).
		g.n.deadLetter(Undelivered{Node: e.Node, Name: g.name, Data: bytes.Clone(rest), Err: err})
	}
}

// queued reports whether the delivery goroutine handles an envelope of
// this kind, in order with the messages.
func queued(kind uint32) bool {
	switch kind {
	case kindTell, kindAsk, kindWatch, kindUnwatch:
		return true
	}
	return false
}

// control carries out a control message at once.
func (g *gateway) control(kind uint32) {
	switch kind {
	case kindStop:
		g.n.wg.Add(1)
		// Owner: the Node; Stop ends when the actor did or the Node closes.
		go func() {
			defer g.n.wg.Done()
			_ = g.lpid.Stop(g.n.ctx)
		}()
	case kindStopNow:
		g.n.wg.Add(1)
		// Owner: the Node; StopNow returns when the actor stopped.
		go func() {
			defer g.n.wg.Done()
			g.lpid.StopNow()
		}()
	case kindKill:
		g.n.wg.Add(1)
		// Owner: the Node; a restart in place may run on it.
		go func() {
			defer g.n.wg.Done()
			g.lpid.Kill()
		}()
	}
}

// kick delivers what was queued: at once, on the protoactor actor, if
// no delivery is under way, else on the delivery goroutine.
func (g *gateway) kick() {
	if !g.dmu.TryLock() {
		g.signal() // it delivers: it sees the queue once done
		return
	}
	g.drain(false) // signals the delivery goroutine if it stops short
	g.dmu.Unlock()
}

func (g *gateway) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// forget drops the watchers on the node at addr (it was lost: its
// handles are down, no exit can reach them).
func (g *gateway) forget(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, w := range g.watchers {
		if w.Address == addr {
			delete(g.watchers, k)
		}
	}
}

// close is the Node's Close: watchers get NoConnection, the gateway stops.
func (g *gateway) close() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.stop.Store(true)
	g.signal()
}

// deliver is the gateway's delivery goroutine.
func (g *gateway) deliver() {
	defer close(g.done)
	defer g.unwatchLocal()
	for {
		g.dmu.Lock()
		g.drain(true)
		g.mu.Lock()
		exit, closing, empty := g.exit, g.closing, len(g.queue) == 0
		g.mu.Unlock()
		switch {
		case closing:
			g.finish(NoConnection, "remote: node "+g.n.addr+" closed", errCode(ErrNoConnection))
			g.dmu.Unlock()
			return
		case exit != nil && empty:
			text, code := "", uint32(0)
			if exit.Err != nil {
				text, code = exit.Err.Error(), errCode(exit.Err)
			}
			g.finish(exit.Reason, text, code)
			g.dmu.Unlock()
			return
		}
		g.dmu.Unlock()
		if !empty {
			continue
		}
		select {
		case <-g.wake:
		case <-g.n.ctx.Done():
			g.close()
		}
	}
}

// drain delivers what is queued, in order, and acknowledges it; g.dmu
// held. With wait (the delivery goroutine) it waits for room in the
// mailbox and serves requests; without (the protoactor actor, which must
// not block) it stops at a message the mailbox has no room for and at a
// request, acknowledges what it delivered, and leaves the rest to the
// delivery goroutine. It stops when the Node closes: the rest is not
// delivered, not acknowledged.
func (g *gateway) drain(wait bool) {
	yielded := false
	for {
		if g.curI == len(g.cur) {
			clear(g.cur)
			g.mu.Lock()
			if len(g.queue) == 0 || g.closing {
				g.mu.Unlock()
				g.cur, g.curI = g.cur[:0], 0
				g.flushAcks()
				return
			}
			// cur and queue swap buffers.
			g.cur, g.queue, g.curI = g.queue, g.cur[:0], 0
			g.mu.Unlock()
		}
		if g.stop.Load() {
			return
		}
		if !g.handle(g.cur[g.curI], wait) {
			if !yielded && g.cur[g.curI].Kind != kindAsk {
				// The mailbox is full: its actor, just woken by a
				// Tell of ours, may be about to take a message.
				yielded = true
				runtime.Gosched()
				continue
			}
			g.flushAcks()
			g.signal()
			return
		}
		g.curI++
	}
}

func (g *gateway) unwatchLocal() {
	if g.unwatch != nil {
		g.unwatch()
	}
}

// handle delivers one envelope. Without wait it does not block: it
// returns false, having done nothing, for a request or a message the
// mailbox has no room for.
func (g *gateway) handle(e *envelope, wait bool) bool {
	switch e.Kind {
	case kindWatch:
		g.mu.Lock()
		g.watchers[e.Node+"/"+e.Sender] = pactor.NewPID(e.Node, e.Sender)
		g.mu.Unlock()
		return true
	case kindUnwatch:
		g.mu.Lock()
		delete(g.watchers, e.Node+"/"+e.Sender)
		g.mu.Unlock()
		return true
	}
	if !wait && e.Kind == kindAsk {
		return false
	}
	v, ent, err := decodeEnvelope(e)
	if err == nil && e.Kind == kindAsk {
		if ent.ask == nil || ent.typ != g.typ {
			err = &UndecodableError{Type: e.Type, Codec: e.Codec, Err: fmt.Errorf("not a request of the exposed actor (%s)", g.typ)}
		} else {
			g.flushAcks() // the request may wait for room
			if err := g.serve(e, ent, v); err != nil && !errors.Is(err, actor.ErrStopped) && g.n.ctx.Err() != nil {
				return true // the Node closes: not delivered, not acknowledged
			}
			g.ack(e) // the asker heard of a refusal through its Reply
			return true
		}
	}
	if err != nil {
		// A payload in a batch aliases it: a copy, not the batch.
		g.n.deadLetter(Undelivered{Node: e.Node, Name: g.name, Type: e.Type, Data: bytes.Clone(e.Payload), Err: err})
		if e.Kind == kindAsk {
			g.reply(e, failEnvelope(err))
		}
		g.ack(e)
		return true
	}
	err = g.tell(g.noWait, v)
	if errors.Is(err, context.Canceled) {
		// The mailbox is full: acknowledge what it took, then wait.
		if !wait {
			return false
		}
		g.flushAcks()
		err = g.tell(g.n.ctx, v)
	}
	switch {
	case err == nil:
	case errors.Is(err, actor.ErrStopped):
		// Dead-lettered by the actor runtime.
	case g.n.ctx.Err() != nil:
		return true // the Node closes: not delivered, not acknowledged
	default:
		// Refused (a Reject mailbox): not a dead letter of the runtime.
		g.n.deadLetter(Undelivered{Node: e.Node, Name: g.name, Type: e.Type, Message: v, Err: err})
	}
	g.ack(e)
	return true
}

// serve hands a request to the local actor, in order with the Tells (and
// waiting as they do); the answer goes back whenever the actor replies.
func (g *gateway) serve(e *envelope, ent *entry, v any) error {
	ctx, cancel := g.n.ctx, context.CancelFunc(func() {})
	if e.Deadline != 0 {
		// The request's ctx must outlive this call (the Receive gets
		// it): it ends at the asker's deadline, or with the answer.
		ctx, cancel = context.WithDeadline(ctx, time.Unix(0, e.Deadline))
	}
	var once sync.Once
	err := ent.ask.serve(ctx, g.ref, v, func(out *envelope) {
		once.Do(func() {
			cancel()
			g.reply(e, out)
		})
	})
	if err != nil {
		cancel()
	}
	return err
}

func (g *gateway) reply(req, out *envelope) {
	out.Corr = req.Corr
	out.Node = g.n.addr
	g.n.send(pactor.NewPID(req.Node, req.Sender), out)
}

// ack records that e was delivered (or accounted for on this node).
func (g *gateway) ack(e *envelope) {
	if e.Seq == 0 {
		return
	}
	a := g.lastAck
	if a == nil || a.sender != e.Sender || a.node != e.Node {
		k := e.Node + "/" + e.Sender
		a = g.acks[k]
		if a == nil {
			a = &ackState{node: e.Node, sender: e.Sender, to: pactor.NewPID(e.Node, e.Sender)}
			g.acks[k] = a
		}
		g.lastAck = a
	}
	if e.Seq > a.seq {
		a.seq = e.Seq
	}
	a.pending++
	if a.pending >= ackEvery {
		g.n.send(a.to, &envelope{Kind: kindAck, Seq: a.seq, Node: g.n.addr})
		a.pending = 0
	}
}

// flushAcks sends the acks of every sender with deliveries
// unacknowledged, and forgets the senders.
func (g *gateway) flushAcks() {
	for k, a := range g.acks {
		if a.pending > 0 {
			g.n.send(a.to, &envelope{Kind: kindAck, Seq: a.seq, Node: g.n.addr})
		}
		delete(g.acks, k)
	}
	g.lastAck = nil
}

// finish sends the exit to every watcher, after every ack (same sender,
// same stream: in order), and stops the gateway.
func (g *gateway) finish(reason actor.ExitReason, text string, code uint32) {
	g.flushAcks()
	g.mu.Lock()
	ws := make([]*pactor.PID, 0, len(g.watchers))
	for _, w := range g.watchers {
		ws = append(ws, w)
	}
	g.mu.Unlock()
	for _, w := range ws {
		g.n.send(w, &envelope{Kind: kindExit, Reason: uint32(reason), Err: text, Corr: uint64(code), Node: g.n.addr})
	}
	g.n.mu.Lock()
	if g.n.gateways[g.name] == g {
		delete(g.n.gateways, g.name)
	}
	g.n.mu.Unlock()
	_ = g.n.pa.Root.StopFuture(g.pid).Wait()
}
