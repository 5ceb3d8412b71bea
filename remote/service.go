package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Default redial backoff of a Service: the first wait after a node failed
// to serve, and the most it waits between two tries of one node.
const (
	DefaultRedialMin = 10 * time.Millisecond
	DefaultRedialMax = time.Second
)

// memberPoll is the longest a Service waiting for a node waits before it
// looks at the candidates again.
const memberPoll = 20 * time.Millisecond

// A Service is a reference to the actor exposed under one name on
// whichever node serves it: unlike a Handle, which is down for good once
// its node is lost, a Service dials the name again, on a live member,
// when its handle goes down. The nodes it tries are the Node's other
// alive members (Node.Members without this one) unless ServiceNodes says
// otherwise; it keeps one handle at a time, and a node whose handle ended
// (lost, or nothing exposed under the name there) is not tried again for
// a backoff (RedialBackoff) that doubles while it keeps failing.
//
// [Ask] through a Service is at least once: a request whose handle ended
// before its reply came is sent again on the next one. Service.Ref gives
// an ordinary actor.Ref[M] through which Tell and actor.Ask use the
// Service's current handle, dialling a new one when it is down; those
// send each message once (a message lost in transit is counted and
// dead-lettered as on a Handle, not re-sent). A Service is safe for
// concurrent use.
type Service[M any] struct {
	n          *Node
	name       string
	nodes      func() []string
	minWait    time.Duration
	maxWait    time.Duration
	closedDone chan struct{}

	mu       sync.Mutex
	cur      *Handle[M]
	served   bool // cur got an answer
	bad      map[string]penalty
	rr       int // rotates the first candidate
	closed   bool
	watchers map[*func(actor.Terminated)]struct{}

	sent, resent, dials atomic.Uint64
}

type penalty struct {
	until time.Time
	wait  time.Duration
}

type serviceConfig struct {
	nodes    func() []string
	min, max time.Duration
}

// A ServiceOption configures a Service.
type ServiceOption interface{ applyService(*serviceConfig) }

type serviceFunc func(*serviceConfig)

func (f serviceFunc) applyService(c *serviceConfig) { f(c) }

// ServiceNodes makes the Service try the addresses (Node.Addr) f returns,
// in turn, instead of the alive members. f is called at each redial and
// must be safe for concurrent use. A nil f is skipped.
func ServiceNodes(f func() []string) ServiceOption {
	return serviceFunc(func(c *serviceConfig) {
		if f != nil {
			c.nodes = f
		}
	})
}

// RedialBackoff sets how long a node that failed to serve is left alone:
// min after a node that served is lost (or once nothing was exposed
// there), doubling at each further failure up to max. Defaults
// DefaultRedialMin and DefaultRedialMax; values below 1 ms are ignored,
// and max below min is min.
func RedialBackoff(min, max time.Duration) ServiceOption {
	return serviceFunc(func(c *serviceConfig) {
		if min >= time.Millisecond {
			c.min = min
		}
		if max >= time.Millisecond {
			c.max = max
		}
	})
}

// NewService returns a Service for the name exposed (Expose) on other
// nodes. It dials nothing yet. It returns an error matching
// actor.ErrNilRef for a nil n, actor.ErrInvalidName for a name Expose
// would refuse, ErrUnregistered if M is not registered.
func NewService[M any](n *Node, name string, opts ...ServiceOption) (*Service[M], error) {
	if n == nil {
		return nil, fmt.Errorf("remote: nil node: %w", actor.ErrNilRef)
	}
	if name == "" || strings.ContainsAny(name, "/$") {
		return nil, fmt.Errorf("remote: service: %w: %q", actor.ErrInvalidName, name)
	}
	if t := reflect.TypeFor[M](); t.Kind() != reflect.Interface && lookupType(t) == nil {
		return nil, fmt.Errorf("remote: service %q: %v: %w", name, t, ErrUnregistered)
	}
	cfg := serviceConfig{nodes: func() []string { return others(n) }, min: DefaultRedialMin, max: DefaultRedialMax}
	for _, o := range opts {
		if o != nil {
			o.applyService(&cfg)
		}
	}
	cfg.max = max(cfg.max, cfg.min)
	return &Service[M]{
		n: n, name: name, nodes: cfg.nodes, minWait: cfg.min, maxWait: cfg.max,
		closedDone: make(chan struct{}),
		bad:        map[string]penalty{},
		watchers:   map[*func(actor.Terminated)]struct{}{},
	}, nil
}

// others returns the alive members other than n.
func others(n *Node) []string {
	ms := n.Members()
	out := ms[:0]
	for _, m := range ms {
		if m != n.addr {
			out = append(out, m)
		}
	}
	return out
}

// handle returns a live handle, dialling the next candidate node when
// there is none; while no candidate can be dialled it waits for the
// earliest backoff to pass, until ctx ends (an error matching ctx.Err())
// or the Service or its Node closes (ErrClosed). With wait false it makes
// one pass over the candidates and returns an error matching
// ErrNoConnection if none could be dialled.
func (s *Service[M]) handle(ctx context.Context, wait bool) (*Handle[M], error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("remote: service %s: %w", s.name, ErrClosed)
		}
		if s.cur != nil {
			if !s.cur.h.isDown() {
				h := s.cur
				s.mu.Unlock()
				return h, nil
			}
			s.penalize(s.cur.h.addr, s.served, nodeLostOn(s.cur.h))
			s.cur = nil
		}
		now := time.Now()
		next := s.maxWait
		cands := s.nodes()
		for i := range cands {
			a := cands[(s.rr+i)%len(cands)]
			if p, ok := s.bad[a]; ok && now.Before(p.until) {
				next = min(next, p.until.Sub(now))
				continue
			}
			h, err := Dial[M](s.n, a, s.name)
			if err != nil {
				if errors.Is(err, ErrClosed) {
					s.mu.Unlock()
					return nil, fmt.Errorf("remote: service %s: %w", s.name, err)
				}
				s.penalize(a, false, false)
				continue
			}
			s.rr = (s.rr + i + 1) % len(cands)
			s.cur, s.served = h, false
			s.dials.Add(1)
			s.mu.Unlock()
			return h, nil
		}
		s.mu.Unlock()
		if !wait {
			return nil, fmt.Errorf("remote: service %s: no node serves it: %w", s.name, ErrNoConnection)
		}
		// A node that joins meanwhile is seen within a poll.
		next = min(next, memberPoll)
		t := time.NewTimer(max(next, time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("remote: service %s: no node serves it: %w", s.name, ctx.Err())
		case <-s.closedDone:
			t.Stop()
		}
	}
}

// penalize keeps addr from being dialled for a while; s.mu is held. A
// node whose connection was lost is left alone for the longest wait:
// until membership declares it dead (then Dial fails at once) or it comes
// back; meanwhile a handle to it would hold its requests until then.
func (s *Service[M]) penalize(addr string, served, lost bool) {
	p := s.bad[addr]
	switch {
	case lost:
		p.wait = s.maxWait
	case served || p.wait == 0:
		p.wait = s.minWait
	default:
		p.wait = min(2*p.wait, s.maxWait)
	}
	p.until = time.Now().Add(p.wait)
	s.bad[addr] = p
}

// nodeLostOn reports whether h, which is down, ended because its node's
// connection was lost (not because nothing, or nothing any more, is
// exposed under the name there).
func nodeLostOn(h *handle) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.final
	return t != nil && t.Reason == NoConnection && !errors.Is(t.Err, ErrNotExposed) && !errors.Is(t.Err, ErrClosed)
}

// answered records that h served a request: its node's backoff resets.
func (s *Service[M]) answered(h *Handle[M]) {
	s.mu.Lock()
	if s.cur == h && !s.served {
		s.served = true
		delete(s.bad, h.h.addr)
	}
	s.mu.Unlock()
}

// Ask is actor.Ask through s, at least once: it sends the request build
// makes on s's current handle and, if that handle goes down before the
// reply comes (its node lost, or the exposed actor gone), sends it again
// on the next handle, waiting while no node serves the name, until ctx
// ends. So a request may be handled more than once (by the lost node and
// by its successor): the remote actor must be idempotent, or the caller
// must tolerate duplicates. An error the remote actor failed the request
// with (Reply.Fail there, or its runtime dead-lettering it) is returned
// as it is; so is an error matching ctx.Err(), ErrClosed once s or its
// Node is closed, actor.ErrNilRef for a nil s. Each re-send is counted in
// Resent.
func Ask[M, R any](ctx context.Context, s *Service[M], build func(actor.Reply[R]) M) (R, error) {
	var zero R
	if s == nil || build == nil {
		return zero, actor.ErrNilRef
	}
	if ctx == nil {
		ctx = context.Background()
	}
	for again := false; ; again = true {
		h, err := s.handle(ctx, true)
		if err != nil {
			return zero, err
		}
		if again {
			s.resent.Add(1)
		}
		s.sent.Add(1)
		v, err := actor.Ask(ctx, actor.RefTo[M](keepEndpoint[M]{h}), build)
		if err == nil {
			s.answered(h)
			return v, nil
		}
		if ctx.Err() != nil || !h.h.isDown() {
			return zero, err
		}
		// The handle ended under the request (it is set down before its
		// pending requests fail): handled or not, send it again.
	}
}

// keepEndpoint is a Handle whose sends, on a handle found down, are not
// dead-lettered: Ask sends them again.
type keepEndpoint[M any] struct{ h *Handle[M] }

func (e keepEndpoint[M]) Tell(ctx context.Context, m M) error { return e.h.h.send(ctx, m, false, true) }
func (e keepEndpoint[M]) TryTell(m M) error {
	return e.h.h.send(context.Background(), m, true, true)
}
func (e keepEndpoint[M]) PID() actor.PID        { return e.h.PID() }
func (e keepEndpoint[M]) System() *actor.System { return e.h.System() }

// Resent returns how many requests Ask sent again because the handle they
// went on ended before their reply: each was lost with its node (in
// transit, or handled there without an answer back), or went to a node
// that did not expose the name.
func (s *Service[M]) Resent() uint64 {
	if s == nil {
		return 0
	}
	return s.resent.Load()
}

// Dials returns how many handles the Service dialled.
func (s *Service[M]) Dials() uint64 {
	if s == nil {
		return 0
	}
	return s.dials.Load()
}

// Addr returns the address of the node the current handle goes to, ""
// while there is none (or it is down).
func (s *Service[M]) Addr() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.h.isDown() {
		return ""
	}
	return s.cur.h.addr
}

// Close ends the Service: its handle is closed (Handle.Close), waiting
// Asks and Tells return an error matching ErrClosed, and its Ref's
// watchers get actor.Shutdown. The remote actor is not stopped. Close is
// idempotent.
func (s *Service[M]) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cur := s.cur
	s.cur = nil
	ws := s.watchers
	s.watchers = nil
	close(s.closedDone)
	s.mu.Unlock()
	cur.Close()
	t := actor.Terminated{Path: s.path(), Reason: actor.Shutdown, Err: fmt.Errorf("remote: service %s: %w", s.name, ErrClosed)}
	for f := range ws {
		(*f)(t)
	}
}

func (s *Service[M]) path() string { return "remote://*/" + s.name }

// Ref returns an actor.Ref[M] whose messages go to the Service: Tell
// waits (bounded by its ctx) for a node to serve the name and for
// credit, TryTell does not wait, actor.Ask sends its request once. Its
// PID's Path is "remote://*/NAME", its Done closes and its watchers are
// called (actor.Shutdown) when the Service is closed, and Stop and
// StopNow close the Service (the remote actor keeps running); Kill does
// nothing. A nil s gives the zero Ref.
func (s *Service[M]) Ref() actor.Ref[M] {
	if s == nil {
		return actor.Ref[M]{}
	}
	return actor.RefTo[M](serviceEndpoint[M]{s})
}

// serviceEndpoint is the actor.Endpoint behind Service.Ref.
type serviceEndpoint[M any] struct{ s *Service[M] }

func (e serviceEndpoint[M]) Tell(ctx context.Context, m M) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		h, err := e.s.handle(ctx, true)
		if err != nil {
			return err
		}
		err = h.h.send(ctx, m, false, true)
		if err == nil {
			e.s.sent.Add(1)
			return nil
		}
		if ctx.Err() != nil || !h.h.isDown() {
			return err
		}
	}
}

func (e serviceEndpoint[M]) TryTell(m M) error {
	h, err := e.s.handle(context.Background(), false)
	if err != nil {
		return err
	}
	if err := h.h.send(context.Background(), m, true, false); err != nil {
		return err
	}
	e.s.sent.Add(1)
	return nil
}

func (e serviceEndpoint[M]) PID() actor.PID        { return servicePID[M]{s: e.s} }
func (e serviceEndpoint[M]) System() *actor.System { return e.s.n.sys }

// servicePID is the lifecycle handle of a Service's Ref.
type servicePID[M any] struct {
	actor.ExternalPID
	s *Service[M]
}

func (p servicePID[M]) Path() string          { return p.s.path() }
func (p servicePID[M]) Name() string          { return p.s.name }
func (p servicePID[M]) Done() <-chan struct{} { return p.s.closedDone }
func (p servicePID[M]) Stop(context.Context) error {
	p.s.Close()
	return nil
}
func (p servicePID[M]) StopNow() { p.s.Close() }
func (p servicePID[M]) Kill()    {}

func (p servicePID[M]) Stats() actor.Stats {
	return actor.Stats{Accepted: p.s.sent.Load()}
}

func (p servicePID[M]) Watch(fn func(actor.Terminated)) func() {
	if fn == nil {
		return func() {}
	}
	s := p.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		fn(actor.Terminated{Path: s.path(), Reason: actor.Shutdown, Err: fmt.Errorf("remote: service %s: %w", s.name, ErrClosed)})
		return func() {}
	}
	k := &fn
	s.watchers[k] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.watchers, k)
		s.mu.Unlock()
	}
}
