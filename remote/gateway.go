package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-go/troupe/actor"
)

// gatewayPrefix prefixes the protoactor name of a gateway.
const gatewayPrefix = "troupe:"

// ackEvery is how many deliveries from one sender a gateway acknowledges
// at most in one ack (it also acks whenever its queue runs empty).
const ackEvery = 32

// gateway is the owning node's side of one exposed actor: a protoactor
// actor that receives envelopes (and keeps the watchers), and a delivery
// goroutine that decodes them in order, Tells the local Ref (waiting
// under a Block mailbox: that is the backpressure, since no ack goes back
// meanwhile) and acknowledges.
type gateway struct {
	n    *Node
	name string
	pid  *pactor.PID
	typ  reflect.Type // M
	tell func(ctx context.Context, v any) error
	ref  any // the actor.Ref[M]
	lpid actor.PID

	mu       sync.Mutex
	queue    []*envelope
	exit     *actor.Terminated // set when the local actor stopped for good
	closing  bool              // the Node closes
	wake     chan struct{}     // cap 1
	watchers map[string]*pactor.PID
	unwatch  func()
	done     chan struct{} // closed when the delivery goroutine ended

	// Delivery goroutine only.
	acks map[string]*ackState
}

type ackState struct {
	to      *pactor.PID
	seq     uint64
	pending int // delivered and not acknowledged yet
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
	g := &gateway{
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
	switch e.Kind {
	case kindTell, kindAsk, kindWatch, kindUnwatch:
		// In order with the data: a watch registered before the exit
		// gets the exit after every ack.
		g.mu.Lock()
		g.queue = append(g.queue, e)
		g.mu.Unlock()
		g.signal()
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
	g.signal()
}

// deliver is the gateway's delivery goroutine.
func (g *gateway) deliver() {
	defer close(g.done)
	defer g.unwatchLocal()
	for {
		g.mu.Lock()
		var e *envelope
		if len(g.queue) > 0 && !g.closing {
			e = g.queue[0]
			g.queue[0] = nil
			g.queue = g.queue[1:]
		}
		exit, closing, empty := g.exit, g.closing, len(g.queue) == 0
		g.mu.Unlock()
		if e == nil {
			g.flushAcks(0)
			switch {
			case closing:
				g.finish(NoConnection, "remote: node "+g.n.addr+" closed", errCode(ErrNoConnection))
				return
			case exit != nil:
				text, code := "", uint32(0)
				if exit.Err != nil {
					text, code = exit.Err.Error(), errCode(exit.Err)
				}
				g.finish(exit.Reason, text, code)
				return
			}
			select {
			case <-g.wake:
			case <-g.n.ctx.Done():
				g.close()
			}
			continue
		}
		g.handle(e)
		if empty {
			g.flushAcks(0)
		} else {
			g.flushAcks(ackEvery)
		}
	}
}

func (g *gateway) unwatchLocal() {
	if g.unwatch != nil {
		g.unwatch()
	}
}

// handle delivers one envelope.
func (g *gateway) handle(e *envelope) {
	switch e.Kind {
	case kindWatch:
		g.mu.Lock()
		g.watchers[e.Node+"/"+e.Sender] = pactor.NewPID(e.Node, e.Sender)
		g.mu.Unlock()
		return
	case kindUnwatch:
		g.mu.Lock()
		delete(g.watchers, e.Node+"/"+e.Sender)
		g.mu.Unlock()
		return
	}
	v, ent, err := decodeEnvelope(e)
	if err == nil && e.Kind == kindAsk {
		if ent.ask == nil || ent.typ != g.typ {
			err = &UndecodableError{Type: e.Type, Codec: e.Codec, Err: fmt.Errorf("not a request of the exposed actor (%s)", g.typ)}
		} else {
			if err := g.serve(e, ent, v); err != nil && !errors.Is(err, actor.ErrStopped) && g.n.ctx.Err() != nil {
				return // the Node closes: not delivered, not acknowledged
			}
			g.ack(e) // the asker heard of a refusal through its Reply
			return
		}
	}
	if err != nil {
		g.n.deadLetter(Undelivered{Node: e.Node, Name: g.name, Type: e.Type, Data: e.Payload, Err: err})
		if e.Kind == kindAsk {
			g.reply(e, failEnvelope(err))
		}
		g.ack(e)
		return
	}
	err = g.tell(g.n.ctx, v)
	switch {
	case err == nil:
	case errors.Is(err, actor.ErrStopped):
		// Dead-lettered by the actor runtime.
	case g.n.ctx.Err() != nil:
		return // the Node closes: not delivered, not acknowledged
	default:
		// Refused (a Reject mailbox): not a dead letter of the runtime.
		g.n.deadLetter(Undelivered{Node: e.Node, Name: g.name, Type: e.Type, Message: v, Err: err})
	}
	g.ack(e)
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
	k := e.Node + "/" + e.Sender
	a := g.acks[k]
	if a == nil {
		a = &ackState{to: pactor.NewPID(e.Node, e.Sender)}
		g.acks[k] = a
	}
	if e.Seq > a.seq {
		a.seq = e.Seq
	}
	a.pending++
}

// flushAcks sends the acks of senders with at least min deliveries
// unacknowledged (min 0: every one with any).
func (g *gateway) flushAcks(min int) {
	for k, a := range g.acks {
		if a.pending == 0 || a.pending < min {
			continue
		}
		g.n.send(a.to, &envelope{Kind: kindAck, Seq: a.seq, Node: g.n.addr})
		a.pending = 0
		if min == 0 {
			delete(g.acks, k)
		}
	}
}

// finish sends the exit to every watcher, after every ack (same sender,
// same stream: in order), and stops the gateway.
func (g *gateway) finish(reason actor.ExitReason, text string, code uint32) {
	g.flushAcks(0)
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
