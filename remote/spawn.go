package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
)

// Errors of remote spawns. Compare with errors.Is.
var (
	// ErrNoFactory: no factory is registered under that name on the node
	// asked to spawn (RegisterFactory), or it makes actors of another
	// message type.
	ErrNoFactory = errors.New("remote: no such factory")
)

// spawnerName is the name every Node exposes its spawner under.
const spawnerName = "troupe-spawner"

// spawnRequest asks a node's spawner for a fresh actor from a factory.
type spawnRequest struct {
	Factory string                  `json:"factory"`
	Type    string                  `json:"type"` // registered name of M ("" for an interface M)
	Name    string                  `json:"name"` // a prefix for the exposed name
	Reply   actor.Reply[spawnReply] `json:"-"`
}

// spawnReply names the exposed actor.
type spawnReply struct {
	Name      string `json:"name"`
	NoFactory string `json:"nofactory,omitempty"` // why there is no such factory
}

func init() {
	if err := Register[spawnReply]("troupe.remote.SpawnReply"); err != nil {
		panic(err)
	}
	if err := RegisterAsk("troupe.remote.SpawnRequest",
		func(r spawnRequest) actor.Reply[spawnReply] { return r.Reply },
		func(r *spawnRequest, rep actor.Reply[spawnReply]) { r.Reply = rep }); err != nil {
		panic(err)
	}
}

// factory is one registered factory.
type factory struct {
	typ   reflect.Type
	spawn func(ctx actor.Context, n *Node, name string) (*hosted, error)
}

var factories sync.Map // name -> *factory

// RegisterFactory registers f under name, on this process, for other
// nodes to spawn actors from: every Node serves spawn requests for the
// factories registered in its process (ChildSpec makes them). Register it
// on every node that may host such an actor, once (in an init function,
// as message types are). M must be registered (Register), unless it is an
// interface. Each spawn starts a fresh actor with opts, exposed under a
// fresh name; it is not restarted in place: its first failure (or any
// other end) ends it for good and reaches its remote watchers with the
// reason, so that the supervisor of the remote child decides. It returns
// an error matching ErrInvalidRegistration for an empty name or nil f,
// ErrRegistered for a name already used, ErrUnregistered for M.
func RegisterFactory[M any](name string, f func() actor.Actor[M], opts ...actor.SpawnOption) error {
	if name == "" || f == nil {
		return fmt.Errorf("remote: factory %q: %w", name, ErrInvalidRegistration)
	}
	t := reflect.TypeFor[M]()
	if t.Kind() != reflect.Interface && lookupType(t) == nil {
		return fmt.Errorf("remote: factory %q: %v: %w", name, t, ErrUnregistered)
	}
	opts = append([]actor.SpawnOption(nil), opts...)
	fe := &factory{typ: t, spawn: func(ctx actor.Context, n *Node, name string) (*hosted, error) {
		ref, c, err := actor.SpawnChild(ctx, name, f, opts...)
		if err != nil {
			return nil, err
		}
		h := &hosted{child: c, done: make(chan struct{}), watchers: map[*func(actor.Terminated)]struct{}{}}
		if err := c.Start(ctx); err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		// The child's own end (the System shuts down) reaches the
		// watchers too; an exit handled by the spawner comes first.
		c.Watch(func(t actor.Terminated) { h.finish(t.Reason, t.Err) })
		if err := Expose(n, name, actor.RefTo[M](&hostedEndpoint[M]{ref: ref, h: h, sys: n.sys})); err != nil {
			h.finish(actor.Shutdown, nil)
			_ = c.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		return h, nil
	}}
	if _, loaded := factories.LoadOrStore(name, fe); loaded {
		return fmt.Errorf("remote: factory %q: %w", name, ErrRegistered)
	}
	return nil
}

// serveSpawns exposes the node's spawner (Start calls it).
func serveSpawns(n *Node) error {
	s := &spawner{n: n, byChild: map[actor.Child]*hosted{}}
	ref, err := actor.Spawn(n.sys, "", func() actor.Actor[spawnRequest] { return s })
	if err != nil {
		return fmt.Errorf("remote: spawner: %w", err)
	}
	if err := Expose(n, spawnerName, ref); err != nil {
		_ = ref.Stop(context.Background())
		return err
	}
	return nil
}

// spawner is the actor that spawns the actors other nodes ask for, as its
// managed children: an exit of one ends it for good (it is not restarted),
// with that exit's reason for its remote watchers.
type spawner struct {
	n       *Node
	seq     atomic.Uint64
	mu      sync.Mutex
	byChild map[actor.Child]*hosted
}

// Receive spawns one actor.
func (s *spawner) Receive(ctx actor.Context, r spawnRequest) error {
	v, ok := factories.Load(r.Factory)
	if !ok {
		return r.Reply.Send(ctx, spawnReply{NoFactory: "not registered there"})
	}
	fe := v.(*factory)
	if name := typeName(fe.typ); name != r.Type {
		return r.Reply.Send(ctx, spawnReply{NoFactory: fmt.Sprintf("it makes actors of %q, not %q", name, r.Type)})
	}
	name := r.Name + "-" + s.n.nonce + "-" + strconv.FormatUint(s.seq.Add(1), 10)
	h, err := fe.spawn(ctx, s.n, name)
	if err != nil {
		return r.Reply.Fail(ctx, err)
	}
	s.mu.Lock()
	s.byChild[h.child] = h
	s.mu.Unlock()
	return r.Reply.Send(ctx, spawnReply{Name: name})
}

// HandleExit ends the child for good with the reason of its exit.
func (s *spawner) HandleExit(ctx actor.Context, e actor.Exit) error {
	s.mu.Lock()
	h := s.byChild[e.Child]
	delete(s.byChild, e.Child)
	s.mu.Unlock()
	if h != nil {
		h.finish(e.Reason, e.Err)
	}
	_ = e.Child.Close(context.WithoutCancel(ctx))
	return nil
}

// typeName is the registered name of t ("" for an interface or an
// unregistered type).
func typeName(t reflect.Type) string {
	if e := lookupType(t); e != nil {
		return e.name
	}
	return ""
}

// hosted is a spawned actor as its gateway sees it: its PID reports the
// exit the spawner saw, not the Close that follows it.
type hosted struct {
	child actor.Child

	mu       sync.Mutex
	final    *actor.Terminated
	watchers map[*func(actor.Terminated)]struct{}
	done     chan struct{}
}

func (h *hosted) finish(reason actor.ExitReason, err error) {
	h.mu.Lock()
	if h.final != nil {
		h.mu.Unlock()
		return
	}
	t := actor.Terminated{Path: h.child.Path(), Reason: reason, Err: err}
	h.final = &t
	ws := h.watchers
	h.watchers = nil
	h.mu.Unlock()
	close(h.done)
	for f := range ws {
		(*f)(t)
	}
}

// hostedEndpoint is what the gateway of a spawned actor delivers to.
type hostedEndpoint[M any] struct {
	ref actor.Ref[M]
	h   *hosted
	sys *actor.System
}

func (e *hostedEndpoint[M]) Tell(ctx context.Context, m M) error { return e.ref.Tell(ctx, m) }
func (e *hostedEndpoint[M]) TryTell(m M) error                   { return e.ref.TryTell(m) }
func (e *hostedEndpoint[M]) PID() actor.PID                      { return hostedPID{h: e.h} }
func (e *hostedEndpoint[M]) System() *actor.System               { return e.sys }

type hostedPID struct {
	actor.ExternalPID
	h *hosted
}

func (p hostedPID) Path() string          { return p.h.child.Path() }
func (p hostedPID) Name() string          { return p.h.child.Name() }
func (p hostedPID) Done() <-chan struct{} { return p.h.done }
func (p hostedPID) Stats() actor.Stats    { return p.h.child.Stats() }
func (p hostedPID) Kill()                 { p.h.child.Kill() }

// Stop stops the actor for good; its watchers get Shutdown.
func (p hostedPID) Stop(ctx context.Context) error {
	err := p.h.child.Close(ctx)
	p.h.finish(actor.Shutdown, nil)
	return err
}

// StopNow stops it at once; its watchers get Killed.
func (p hostedPID) StopNow() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.h.child.Shutdown(ctx)
	_ = p.h.child.Close(context.Background())
	p.h.finish(actor.Killed, nil)
}

func (p hostedPID) Watch(fn func(actor.Terminated)) func() {
	if fn == nil {
		return func() {}
	}
	h := p.h
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
