package actor_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// bubbleBudget bounds waits inside a synctest bubble. Time there is fake and
// only advances when every goroutine of the bubble is blocked, so running
// out of it means the bubble is deadlocked, however long it is.
const bubbleBudget = time.Hour

// budget returns how long a test may wait for one event before it counts as
// hung: most of the time left before the test binary's -timeout, so a hang
// is reported by the test (with stacks) rather than by the test runner.
// Inside a synctest bubble (where T.Deadline must not be called) it is
// bubbleBudget of fake time.
func budget(t testing.TB, bubble bool) time.Duration {
	if bubble {
		return bubbleBudget
	}
	d, ok := t.(interface{ Deadline() (time.Time, bool) }).Deadline()
	if !ok {
		return time.Minute
	}
	left := time.Until(d)
	return left - left/10
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

// recvWithin waits for one value on ch. On timeout it fails the test with
// every goroutine's stack, which shows who is stuck where.
func recvWithin[T any](t testing.TB, bubble bool, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(budget(t, bubble))
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, stacks())
		panic("unreachable")
	}
}

// recv waits for one value on ch, bounded by the test's deadline.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, false, ch, what)
}

// brecv is recv inside a synctest bubble.
func brecv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, true, ch, what)
}

// none fails the test if ch has a value ready.
func none[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v; want nothing yet", what, v)
	default:
	}
}

// log is a concurrency-safe record of what a sink or an actor saw, in
// order, with waits for a number of matching entries.
type log[T any] struct {
	bubble  bool
	mu      sync.Mutex // guards items, waiters
	items   []T
	waiters []*logWaiter[T]
}

type logWaiter[T any] struct {
	match func(T) bool
	want  int
	seen  int
	ch    chan struct{} // closed when seen reaches want
}

func newLog[T any](bubble bool) *log[T] { return &log[T]{bubble: bubble} }

// add records v. It never blocks (sinks must not).
func (l *log[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	ws := l.waiters[:0]
	for _, w := range l.waiters {
		if w.match(v) {
			w.seen++
		}
		if w.seen >= w.want {
			close(w.ch)
			continue
		}
		ws = append(ws, w)
	}
	l.waiters = ws
}

// all returns a copy of the entries recorded so far.
func (l *log[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// filter returns the entries recorded so far that match.
func (l *log[T]) filter(match func(T) bool) []T {
	var out []T
	for _, v := range l.all() {
		if match(v) {
			out = append(out, v)
		}
	}
	return out
}

// waitN waits until n entries matching match have been recorded and
// returns all the matching entries.
func (l *log[T]) waitN(t testing.TB, n int, what string, match func(T) bool) []T {
	t.Helper()
	w := &logWaiter[T]{match: match, want: n, ch: make(chan struct{})}
	l.mu.Lock()
	for _, v := range l.items {
		if match(v) {
			w.seen++
		}
	}
	if w.seen < n {
		l.waiters = append(l.waiters, w)
	} else {
		close(w.ch)
	}
	l.mu.Unlock()
	recvWithin(t, l.bubble, w.ch, what)
	return l.filter(match)
}

// waitFor waits for the first entry matching match and returns it.
func (l *log[T]) waitFor(t testing.TB, what string, match func(T) bool) T {
	t.Helper()
	return l.waitN(t, 1, what, match)[0]
}

// harness is a System whose events and dead letters are recorded, shut
// down when the test ends.
type harness struct {
	sys    *actor.System
	events *log[actor.Event]
	dead   *log[actor.DeadLetter]
}

func newHarness(t *testing.T, opts ...actor.Option) *harness {
	return newHarnessIn(t, false, opts...)
}

// newBubbleHarness is newHarness inside a synctest bubble.
func newBubbleHarness(t *testing.T, opts ...actor.Option) *harness {
	return newHarnessIn(t, true, opts...)
}

func newHarnessIn(t *testing.T, bubble bool, opts ...actor.Option) *harness {
	h := &harness{events: newLog[actor.Event](bubble), dead: newLog[actor.DeadLetter](bubble)}
	opts = append([]actor.Option{actor.WithEvents(h.events.add), actor.WithDeadLetters(h.dead.add)}, opts...)
	h.sys = actor.NewSystem(opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), budget(t, bubble))
		defer cancel()
		if err := h.sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: got %v; want nil", err)
		}
		if n := h.sys.Goroutines(); n != 0 {
			t.Errorf("Goroutines after Shutdown: got %d; want 0", n)
		}
	})
	return h
}

// eventOf matches events of kind k for path.
func eventOf(k actor.EventKind, path string) func(actor.Event) bool {
	return func(e actor.Event) bool { return e.Kind == k && e.Path == path }
}

// deadOf matches dead letters of reason r for recipient.
func deadOf(r actor.DeadLetterReason, recipient string) func(actor.DeadLetter) bool {
	return func(d actor.DeadLetter) bool { return d.Reason == r && d.Recipient == recipient }
}

// deadMessagesOf returns the messages dead-lettered to path for reason r,
// in order.
func deadMessagesOf[M any](h *harness, r actor.DeadLetterReason, path string) []M {
	var out []M
	for _, d := range h.dead.filter(deadOf(r, path)) {
		out = append(out, d.Message.(M))
	}
	return out
}

// run is a message that carries code to run inside an actor's Receive, so
// a test can act as an actor (spawn children, reply, stop itself).
type run func(ctx actor.Context) error

// runner is the actor for run messages.
func runner() actor.Actor[run] {
	return actor.Func[run](func(ctx actor.Context, f run) error { return f(ctx) })
}

// inActor runs f inside ref's Receive and waits for it to return.
func inActor(t *testing.T, ref actor.Ref[run], f func(ctx actor.Context)) {
	t.Helper()
	done := make(chan struct{})
	if err := ref.Tell(context.Background(), func(ctx actor.Context) error {
		defer close(done)
		f(ctx)
		return nil
	}); err != nil {
		t.Fatalf("Tell(run): got %v; want nil", err)
	}
	recv(t, done, "code run inside "+ref.Path())
}

// checkConservation checks Accepted = Processed + DeadLettered + Dropped +
// InFlight and the expected InFlight.
func checkConservation(t testing.TB, where string, st actor.Stats, inFlight int64) {
	t.Helper()
	sum := st.Processed + st.DeadLettered + st.Dropped + uint64(st.InFlight)
	if st.Accepted != sum {
		t.Errorf("%s: Accepted got %d; want Processed+DeadLettered+Dropped+InFlight = %d (%+v)", where, st.Accepted, sum, st)
	}
	if st.InFlight != inFlight {
		t.Errorf("%s: InFlight got %d; want %d (%+v)", where, st.InFlight, inFlight, st)
	}
}

func mustSpawn[M any](t testing.TB, parent actor.Spawner, name string, factory func() actor.Actor[M], opts ...actor.SpawnOption) actor.Ref[M] {
	t.Helper()
	ref, err := actor.Spawn(parent, name, factory, opts...)
	if err != nil {
		t.Fatalf("Spawn(%q): got %v; want nil", name, err)
	}
	return ref
}

func mustTell[M any](t testing.TB, ref actor.Ref[M], m M) {
	t.Helper()
	if err := ref.Tell(context.Background(), m); err != nil {
		t.Fatalf("Tell(%v) to %s: got %v; want nil", m, ref.Path(), err)
	}
}
