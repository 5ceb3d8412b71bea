package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// A ChildOption configures a remote child (ChildSpec).
type ChildOption interface{ applyChild(*childConfig) }

type childOptionFunc func(*childConfig)

func (f childOptionFunc) applyChild(c *childConfig) { f(c) }

type childConfig struct {
	nodes   []string
	timeout time.Duration
	opts    []actor.SpawnOption
}

// WithFallback adds nodes (their Addr) that each start of the child tries,
// in order, when the ones before them are dead or refuse the spawn. A node
// whose process was lost is skipped once membership declared it dead.
func WithFallback(addrs ...string) ChildOption {
	return childOptionFunc(func(c *childConfig) {
		for _, a := range addrs {
			if a != "" {
				c.nodes = append(c.nodes, a)
			}
		}
	})
}

// WithSpawnTimeout bounds how long one start waits for a node to spawn
// the child (default 2 s) before it tries the next node. Values <= 0 are
// ignored.
func WithSpawnTimeout(d time.Duration) ChildOption {
	return childOptionFunc(func(c *childConfig) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithProxyOptions sets spawn options of the local proxy actor (its
// mailbox, for one: messages queue there while the child restarts). Nil
// options are skipped.
func WithProxyOptions(opts ...actor.SpawnOption) ChildOption {
	return childOptionFunc(func(c *childConfig) { c.opts = append(c.opts, opts...) })
}

// A ChildExitError is why an incarnation of a remote child ended: the
// remote actor's exit reason and error (Failed with the failure's text as
// a *RemoteError, Killed), or NoConnection when its node was lost, with
// an Err matching ErrNoConnection. Its supervisor sees it as the child's
// failure.
type ChildExitError struct {
	Node   string // the node the actor ran on
	Name   string // its exposed name there
	Reason actor.ExitReason
	Err    error
}

// Error names the node, the actor and the reason.
func (e *ChildExitError) Error() string {
	s := fmt.Sprintf("remote: child %s on %s ended: %v", e.Name, e.Node, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the remote error.
func (e *ChildExitError) Unwrap() error { return e.Err }

// ChildSpec returns the spec of a supervised child whose actor runs on
// another node: the actor made by the factory registered under factory
// (RegisterFactory) on the node at addr (or, WithFallback, on the first
// of the other nodes that spawns it). The child the supervisor manages is
// a local proxy actor of message type M, spawned as NewWorker spawns one:
// its Ref (supervisor.LookupChild[M]) stays the same across restarts,
// and forwards each message to the remote actor of the current
// incarnation (at most once, as a remote Tell: see Handle). Each start of
// the proxy asks the node for a fresh remote actor and watches it; when
// that actor ends, the proxy's incarnation ends with its reason: Normal
// and Shutdown as they are, any other (Failed, Killed, NoConnection when
// the node is lost) as a failure whose error is a *ChildExitError. So
// the supervisor's rules apply unchanged: restart type, intensity,
// escalation. A start that no node accepts fails with the errors of every
// node tried (a *supervisor.ChildStartError to the supervisor). Stopping
// the child stops the remote actor (within the spec's Shutdown; a
// BrutalKill or an abandoned proxy leaves the remote actor running until
// its node notices nothing: use a Shutdown time).
//
// Set Restart, Shutdown and Significant on the returned spec as on any.
func ChildSpec[M any](id string, n *Node, addr, factory string, opts ...ChildOption) supervisor.ChildSpec {
	cfg := childConfig{nodes: []string{addr}, timeout: 2 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.applyChild(&cfg)
		}
	}
	var sopts []actor.SpawnOption
	for _, o := range cfg.opts {
		if o != nil {
			sopts = append(sopts, o)
		}
	}
	sh := &childShared{n: n, factory: factory, cfg: cfg}
	if n == nil || factory == "" || addr == "" {
		return supervisor.NewWorker[M](id, nil) // invalid: Validate reports it
	}
	return supervisor.NewWorker[M](id, func() actor.Actor[M] { return &proxy[M]{sh: sh} }, sopts...)
}

// childShared is what the incarnations of the proxies of one spec share.
type childShared struct {
	n       *Node
	factory string
	cfg     childConfig
	// wakes counts, per proxy actor, the zero-value messages posted with
	// Urgent to end an incarnation (see proxy.down) not yet handled.
	wakes sync.Map // actor.PID -> *atomic.Int64
}

func (s *childShared) wakeCount(pid actor.PID) *atomic.Int64 {
	v, _ := s.wakes.LoadOrStore(pid, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// proxy is one incarnation of a remote child, on the supervisor's node.
type proxy[M any] struct {
	sh    *childShared
	self  actor.Ref[M]
	wakes *atomic.Int64
	h     *Handle[M]
	node  string
	name  string

	mu      sync.Mutex
	exit    *actor.Terminated // the remote actor ended
	ended   bool              // this incarnation stopped: no more wakes
	unwatch func()
}

// Start spawns the remote actor and watches it.
func (p *proxy[M]) Start(ctx actor.Context) error {
	self, ok := actor.Self[M](ctx)
	if !ok {
		return fmt.Errorf("remote: proxy %s: not an actor of %s", ctx.Path(), reflect.TypeFor[M]())
	}
	p.self = self
	p.wakes = p.sh.wakeCount(ctx.Self())
	var errs []error
	for _, addr := range p.sh.cfg.nodes {
		name, err := p.spawn(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h, err := Dial[M](p.sh.n, addr, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.h, p.node, p.name = h, addr, name
		p.unwatch = h.Watch(p.down)
		return nil
	}
	return errors.Join(errs...)
}

// spawn asks the spawner of the node at addr for a fresh actor.
func (p *proxy[M]) spawn(ctx actor.Context, addr string) (string, error) {
	n := p.sh.n
	n.mu.Lock()
	dead := n.dead[addr]
	n.mu.Unlock()
	if dead {
		return "", fmt.Errorf("remote: spawn on %s: %w", addr, nodeLost(addr))
	}
	sp, err := Dial[spawnRequest](n, addr, spawnerName)
	if err != nil {
		return "", err
	}
	defer sp.Close()
	actx, cancel := context.WithTimeout(ctx, p.sh.cfg.timeout)
	defer cancel()
	rep, err := actor.Ask(actx, actor.RefTo[spawnRequest](sp), func(r actor.Reply[spawnReply]) spawnRequest {
		return spawnRequest{Factory: p.sh.factory, Type: typeName(reflect.TypeFor[M]()), Name: ctx.Self().Name(), Reply: r}
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("remote: spawn %q on %s: %w", p.sh.factory, addr, err)
	case rep.NoFactory != "":
		return "", fmt.Errorf("remote: spawn %q on %s: %s: %w", p.sh.factory, addr, rep.NoFactory, ErrNoFactory)
	}
	return rep.Name, nil
}

// down is the handle's watch: the remote actor ended. It wakes the
// incarnation with a zero M through the system lane (ahead of queued
// messages), counted in wakes so that Receive can tell it apart.
func (p *proxy[M]) down(t actor.Terminated) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended || p.exit != nil {
		return
	}
	p.exit = &t
	p.wakes.Add(1)
	var zero M
	if err := p.self.Urgent(zero); err != nil {
		p.wakes.Add(-1)
	}
}

// ending is the incarnation's end for the remote exit, or nil.
func (p *proxy[M]) ending() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit == nil {
		return nil
	}
	switch t := *p.exit; t.Reason {
	case actor.Normal:
		return actor.StopNormal
	case actor.Shutdown:
		return actor.StopShutdown
	default:
		return &ChildExitError{Node: p.node, Name: p.name, Reason: t.Reason, Err: t.Err}
	}
}

// Receive forwards m to the remote actor, or ends the incarnation when
// that actor ended.
func (p *proxy[M]) Receive(ctx actor.Context, m M) error {
	if p.wakes.Load() > 0 && reflect.ValueOf(&m).Elem().IsZero() {
		// A wake (a zero M a sender sent is handled alike: the wake
		// counted for it is then handled as that message, equal to it).
		p.wakes.Add(-1)
		return p.ending() // nil for a wake of an earlier incarnation
	}
	if err := p.ending(); err != nil {
		return err // m is redelivered to the next incarnation (or dead-lettered)
	}
	var fctx context.Context = ctx
	if e := lookupType(reflect.TypeOf(m)); e != nil && e.ask != nil {
		// A request: its ctx ends when this Receive returns, and the
		// handle forgets the Reply of a request whose ctx ended. The
		// remote actor gets the asker's deadline.
		fctx = context.WithoutCancel(ctx)
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			fctx, cancel = context.WithDeadline(fctx, dl)
			context.AfterFunc(fctx, cancel) // released at the deadline
		}
	}
	if err := p.h.Tell(fctx, m); err != nil {
		if errors.Is(err, ErrUnregistered) {
			return err
		}
		// The handle is down (m was dead-lettered: the wake follows) or
		// the incarnation is stopping.
	}
	return nil
}

// Stop stops the remote actor, unless it ended.
func (p *proxy[M]) Stop(ctx actor.Context, _ actor.ExitReason) {
	p.mu.Lock()
	p.ended = true
	exited := p.exit != nil
	unwatch := p.unwatch
	p.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
	if p.h == nil {
		return
	}
	if !exited {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), supervisor.DefaultShutdown)
		_ = p.h.Stop(sctx)
		cancel()
	}
	p.h.Close()
}
