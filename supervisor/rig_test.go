package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// bubbleLimit bounds every wait inside a synctest bubble. Time there is
// fake and only advances when every goroutine of the bubble is blocked, so
// running out of it means the bubble is stuck, however long it is.
const bubbleLimit = 24 * time.Hour

// errBoom is the failure the test children return.
var errBoom = errors.New("boom")

// msg is what the test children handle.
type msg struct {
	n        int
	fail     bool  // Receive fails on every delivery attempt
	failOnce bool  // Receive fails on the first attempt only
	exit     error // Receive returns it (actor.StopNormal, actor.StopShutdown)
}

// delivery is one message as a child incarnation saw it.
type delivery struct {
	inst, n, attempt int
}

// hooks customise a test child; a nil field does the default (log and
// succeed). inst numbers the child's start attempts from 1.
type hooks struct {
	start   func(ctx actor.Context, inst int) error
	receive func(ctx actor.Context, inst int, m msg) error
	stop    func(ctx actor.Context, inst int, reason actor.ExitReason)
}

// rig is one test's actor system, plus a log written in causal order by
// the children's own hooks ("start a", "stop a shutdown") and by the
// runtime's kill events ("killed a").
type rig struct {
	t   *testing.T
	sys *actor.System

	mu     sync.Mutex
	lines  []string
	events []actor.Event
	insts  map[string]int                 // start attempts per child id
	starts map[string][]time.Time         // successful starts per child id
	got    map[string][]delivery          // deliveries per child id
	refs   map[string]chan actor.Ref[msg] // signalled by every successful start
}

// newRig returns a rig whose system is shut down when the test ends (the
// cleanup runs inside the bubble when the test runs in one).
func newRig(t *testing.T) *rig {
	r := &rig{
		t:      t,
		insts:  map[string]int{},
		starts: map[string][]time.Time{},
		got:    map[string][]delivery{},
		refs:   map[string]chan actor.Ref[msg]{},
	}
	r.sys = actor.NewSystem(actor.WithEvents(r.onEvent))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bubbleLimit)
		defer cancel()
		if err := r.sys.Shutdown(ctx); err != nil {
			t.Errorf("system shutdown: %v", err)
		}
	})
	return r
}

func (r *rig) onEvent(e actor.Event) {
	id := path.Base(e.Path)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if e.Kind == actor.EventKilled {
		r.lines = append(r.lines, "killed "+id)
	}
}

func (r *rig) logf(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// log returns the lines logged so far and forgets them.
func (r *rig) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines = nil
	return l
}

// eventsOf returns the events of kind k so far, in order.
func (r *rig) eventsOf(k actor.EventKind) []actor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []actor.Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// deliveries returns what the child id handled so far.
func (r *rig) deliveries(id string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[id])
}

// startTimes returns when the child id started successfully, in order.
func (r *rig) startTimes(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts[id])
}

// started returns a channel that gets the child's Ref at each successful
// start of the child id.
func (r *rig) started(id string) <-chan actor.Ref[msg] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.startedLocked(id)
}

func (r *rig) startedLocked(id string) chan actor.Ref[msg] {
	ch, ok := r.refs[id]
	if !ok {
		ch = make(chan actor.Ref[msg], 1024)
		r.refs[id] = ch
	}
	return ch
}

// gate returns a channel and its close function; the close also runs at
// cleanup (before the system shuts down), so a child blocked on the gate
// never outlives the test.
func (r *rig) gate() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(ch) }) }
	r.t.Cleanup(release)
	return ch, release
}

// spec returns the spec of a test child id.
func (r *rig) spec(id string, hk hooks, opts ...actor.SpawnOption) supervisor.ChildSpec {
	return supervisor.NewWorker(id, func() actor.Actor[msg] { return &kid{r: r, id: id, hk: hk} }, opts...)
}

// specs returns default test children with these ids.
func (r *rig) specs(ids ...string) []supervisor.ChildSpec {
	out := make([]supervisor.ChildSpec, len(ids))
	for i, id := range ids {
		out[i] = r.spec(id, hooks{})
	}
	return out
}

// kid is a test child: its hooks log themselves in the rig.
type kid struct {
	r    *rig
	id   string
	inst int
	hk   hooks
}

func (k *kid) Start(ctx actor.Context) error {
	k.r.mu.Lock()
	k.r.insts[k.id]++
	k.inst = k.r.insts[k.id]
	k.r.mu.Unlock()
	if k.hk.start != nil {
		if err := k.hk.start(ctx, k.inst); err != nil {
			k.r.logf("start_failed %s", k.id)
			return err
		}
	}
	self, _ := actor.Self[msg](ctx)
	k.r.mu.Lock()
	k.r.starts[k.id] = append(k.r.starts[k.id], time.Now())
	k.r.lines = append(k.r.lines, "start "+k.id)
	ch := k.r.startedLocked(k.id)
	k.r.mu.Unlock()
	ch <- self
	return nil
}

func (k *kid) Receive(ctx actor.Context, m msg) error {
	k.r.mu.Lock()
	k.r.got[k.id] = append(k.r.got[k.id], delivery{inst: k.inst, n: m.n, attempt: ctx.Attempt()})
	k.r.mu.Unlock()
	if k.hk.receive != nil {
		return k.hk.receive(ctx, k.inst, m)
	}
	switch {
	case m.fail, m.failOnce && ctx.Attempt() == 1:
		return errBoom
	case m.exit != nil:
		return m.exit
	}
	return nil
}

func (k *kid) Stop(ctx actor.Context, reason actor.ExitReason) {
	k.r.logf("stop %s %s", k.id, reason)
	if k.hk.stop != nil {
		k.hk.stop(ctx, k.inst, reason)
	}
}

// within waits for one value on ch, at most limit. On timeout it fails the
// test with every goroutine's stack.
func within[T any](t testing.TB, limit time.Duration, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s; goroutines:\n%s", limit, what, stacks())
		panic("unreachable")
	}
}

// await is within for a synctest bubble.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return within(t, bubbleLimit, ch, what)
}

// awaitDone waits until done is closed.
func awaitDone(t testing.TB, done <-chan struct{}, what string) {
	t.Helper()
	await(t, done, what)
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// callCtx returns a context bounding one call to a supervisor (fake time
// inside a bubble).
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bubbleLimit)
	t.Cleanup(cancel)
	return ctx
}

func stacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// ids returns the child ids of which, in order.
func ids(which []supervisor.ChildInfo) []string {
	out := make([]string, len(which))
	for i, c := range which {
		out[i] = c.ID
	}
	return out
}

// which returns the children of s as "id:status" strings.
func which(t *testing.T, s *supervisor.Supervisor) []string {
	t.Helper()
	kids, err := s.WhichChildren(callCtx(t))
	if err != nil {
		t.Fatalf("WhichChildren: got %v; want nil", err)
	}
	out := make([]string, len(kids))
	for i, k := range kids {
		out[i] = k.ID + ":" + k.Status.String()
	}
	return out
}

// send tells m to ref and fails the test if it is refused.
func send(t *testing.T, ref actor.Ref[msg], m msg) {
	t.Helper()
	if err := ref.Tell(callCtx(t), m); err != nil {
		t.Fatalf("Tell(%+v) to %s: got %v; want nil", m, ref.Path(), err)
	}
}

// lookup returns the Ref of the child id of s.
func lookup(t *testing.T, s *supervisor.Supervisor, id string) actor.Ref[msg] {
	t.Helper()
	ref, ok := supervisor.LookupChild[msg](s, id)
	if !ok {
		t.Fatalf("LookupChild(%q): not found", id)
	}
	return ref
}
