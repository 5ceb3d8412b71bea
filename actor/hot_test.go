package actor_test

import (
	"bytes"
	"context"
	"errors"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
)

// traceKey is the context key testProp carries.
type traceKey struct{}

// otherKey is a context value that must not travel.
type otherKey struct{}

// testProp carries the value of traceKey, counting its calls.
type testProp struct {
	injects, extracts atomic.Int64
}

func (p *testProp) Inject(ctx context.Context) any {
	p.injects.Add(1)
	return ctx.Value(traceKey{})
}

func (p *testProp) Extract(ctx context.Context, carried any) context.Context {
	p.extracts.Add(1)
	return context.WithValue(ctx, traceKey{}, carried)
}

// seen is what a Receive saw of its Context.
type seen struct {
	trace, other any
	deadline     bool
	self         bool
}

func look(ctx actor.Context) seen {
	_, dl := ctx.Deadline()
	_, self := actor.Self[probe](ctx)
	return seen{trace: ctx.Value(traceKey{}), other: ctx.Value(otherKey{}), deadline: dl, self: self}
}

// probe is a message that reports what its Receive saw.
type probe struct {
	reply actor.Reply[seen]
	out   chan<- seen // for a Tell
}

func prober() actor.Actor[probe] {
	return actor.Func[probe](func(ctx actor.Context, m probe) error {
		s := look(ctx)
		if m.out != nil {
			m.out <- s
			return nil
		}
		return m.reply.Send(ctx, s)
	})
}

func senderCtx() context.Context {
	ctx := context.WithValue(context.Background(), traceKey{}, "span-1")
	return context.WithValue(ctx, otherKey{}, "secret")
}

// TestPropagatorTell checks that a Tell carries what the Propagator
// injected to the Receive, and only that.
func TestPropagatorTell(t *testing.T) {
	p := &testProp{}
	h := newHarness(t, actor.WithPropagator(p))
	ref := mustSpawn(t, h.sys, "p", prober)
	out := make(chan seen, 1)
	if err := ref.Tell(senderCtx(), probe{out: out}); err != nil {
		t.Fatal(err)
	}
	got := recv(t, out, "the probe")
	want := seen{trace: "span-1", self: true}
	if got != want {
		t.Errorf("Receive of a Tell saw %+v; want %+v", got, want)
	}
	// A Tell whose ctx has nothing to carry carries nothing.
	if err := ref.Tell(context.Background(), probe{out: out}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, out, "the second probe"); got.trace != nil {
		t.Errorf("Receive of a Tell without trace saw trace %v; want nil", got.trace)
	}
	if n := p.extracts.Load(); n != 1 {
		t.Errorf("Extract called %d times; want 1 (not for a message that carried nothing)", n)
	}
}

// TestPropagatorAsk checks that an Ask carries the trace, and keeps the
// asker's deadline and not its other values.
func TestPropagatorAsk(t *testing.T) {
	h := newHarness(t, actor.WithPropagator(&testProp{}))
	ref := mustSpawn(t, h.sys, "p", prober)
	ctx, cancel := context.WithTimeout(senderCtx(), time.Hour)
	defer cancel()
	got, err := actor.Ask(ctx, ref, func(r actor.Reply[seen]) probe { return probe{reply: r} })
	if err != nil {
		t.Fatal(err)
	}
	want := seen{trace: "span-1", deadline: true, self: true}
	if got != want {
		t.Errorf("Receive of an Ask saw %+v; want %+v", got, want)
	}
}

// TestNoPropagator checks that without a Propagator nothing travels.
func TestNoPropagator(t *testing.T) {
	h := newHarness(t)
	ref := mustSpawn(t, h.sys, "p", prober)
	out := make(chan seen, 1)
	if err := ref.Tell(senderCtx(), probe{out: out}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, out, "the probe"); got != (seen{self: true}) {
		t.Errorf("Tell without Propagator: Receive saw %+v; want no values", got)
	}
	got, err := actor.Ask(senderCtx(), ref, func(r actor.Reply[seen]) probe { return probe{reply: r} })
	if err != nil {
		t.Fatal(err)
	}
	if got != (seen{self: true}) {
		t.Errorf("Ask without Propagator: Receive saw %+v; want no values", got)
	}
}

// TestPropagatorPoisonTrace checks that each failure of a message that
// carried a trace reports it in its event, up to the poison dead letter.
func TestPropagatorPoisonTrace(t *testing.T) {
	h := newHarness(t, actor.WithPropagator(&testProp{}))
	sub := h.sys.Subscribe(64)
	defer sub.Close()
	ref := mustSpawn(t, h.sys, "bad", func() actor.Actor[int] {
		return actor.Func[int](func(actor.Context, int) error { panic("boom") })
	}, actor.WithMaxAttempts(2))
	if err := ref.Tell(senderCtx(), 1); err != nil {
		t.Fatal(err)
	}
	h.dead.waitFor(t, "the poison dead letter", func(d actor.DeadLetter) bool { return d.Reason == actor.DeadPoison })
	failed := h.events.waitN(t, 2, "two failures", func(e actor.Event) bool { return e.Kind == actor.EventFailed })
	for _, e := range failed {
		if e.Trace != "span-1" {
			t.Errorf("failed event %v: Trace %v; want span-1", e, e.Trace)
		}
	}
	n := 0
	for n < 2 {
		e := recv(t, sub.Events(), "a subscribed event")
		if e.Kind == "failed" {
			n++
			if e.Trace != "span-1" {
				t.Errorf("observe.Event %+v: Trace %v; want span-1", e, e.Trace)
			}
		}
	}
	// A failure of a message that carried nothing has no Trace.
	if err := ref.Tell(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	failed = h.events.waitN(t, 3, "a third failure", func(e actor.Event) bool { return e.Kind == actor.EventFailed })
	if tr := failed[2].Trace; tr != nil {
		t.Errorf("failure of an untraced message: Trace %v; want nil", tr)
	}
}

// blockedActor parks in its first Receive until release is closed, so
// Tells only queue.
func blockedActor(t *testing.T, sys *actor.System, opts ...actor.SpawnOption) (actor.Ref[int], func()) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	ref := mustSpawn(t, sys, "blocked", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, m int) error {
			once.Do(func() { close(entered); <-release })
			return nil
		})
	}, opts...)
	mustTell(t, ref, 0)
	recv(t, entered, "the first Receive")
	var rel sync.Once
	return ref, func() { rel.Do(func() { close(release) }) }
}

// TestTellAllocs checks that a Tell costs no allocation without a
// Propagator and clocks, nor with a Propagator that has nothing to carry.
func TestTellAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, c := range []struct {
		name string
		opts []actor.Option
		ctx  context.Context
		want float64
	}{
		{"none", nil, senderCtx(), 0},
		{"propagator, nothing to carry", []actor.Option{actor.WithPropagator(&testProp{})}, context.Background(), 0},
		{"propagator, a trace", []actor.Option{actor.WithPropagator(&testProp{})}, senderCtx(), 1},
		{"clocks", []actor.Option{actor.WithMessageTiming()}, context.Background(), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			sys := actor.NewSystem(c.opts...)
			defer sys.Shutdown(context.Background())
			ref, release := blockedActor(t, sys, actor.WithMailbox(4096, mailbox.Block))
			defer release()
			got := testing.AllocsPerRun(1000, func() {
				if err := ref.Tell(c.ctx, 1); err != nil {
					t.Fatal(err)
				}
			})
			if got != c.want {
				t.Errorf("allocations per Tell: got %v; want %v", got, c.want)
			}
		})
	}
}

// TestDroppedByPolicy checks the per-kind drop counts under concurrent
// drops.
func TestDroppedByPolicy(t *testing.T) {
	h := newHarness(t)
	ref, release := blockedActor(t, h.sys, actor.WithMailbox(1, mailbox.DropNewest), actor.WithKind("dropper"))
	defer release()
	mustTell(t, ref, 1) // fills the mailbox
	const senders, each = 4, 250
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		// Owner: this test; it waits for the senders below.
		go func() {
			defer wg.Done()
			for range each {
				_ = ref.TryTell(2)
			}
		}()
	}
	wg.Wait()
	var got map[string]uint64
	for _, k := range h.sys.Snapshot(context.Background(), observe.SnapshotOptions{}).Kinds {
		if k.Kind == "dropper" {
			got = k.Dropped
		}
	}
	if len(got) != 1 || got["drop_newest"] != senders*each {
		t.Errorf("Kinds[dropper].Dropped: got %v; want map[drop_newest:%d]", got, senders*each)
	}
}

// TestClocks checks the per-kind message clocks: every handled message
// is in the wait and process histograms, failures by error type, and the
// histograms are cumulative over observe.LatencyBuckets.
func TestClocks(t *testing.T) {
	h := newHarness(t, actor.WithMessageTiming())
	const n = 20
	release, handled := make(chan struct{}), make(chan struct{})
	ref := mustSpawn(t, h.sys, "timed", func() actor.Actor[int] {
		return actor.Func[int](func(_ actor.Context, m int) error {
			switch m {
			case 0:
				<-release
			case n:
				close(handled)
			}
			return nil
		})
	}, actor.WithKind("timed"))
	for i := 0; i <= n; i++ {
		mustTell(t, ref, i)
	}
	close(release)
	recv(t, handled, "the last timed message")
	asked := mustSpawn(t, h.sys, "asked", func() actor.Actor[actor.Reply[int]] {
		return actor.Func[actor.Reply[int]](func(ctx actor.Context, r actor.Reply[int]) error { return r.Send(ctx, 1) })
	}, actor.WithKind("asked"))
	if _, err := actor.Ask(context.Background(), asked, func(r actor.Reply[int]) actor.Reply[int] { return r }); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	bad := mustSpawn(t, h.sys, "bad", func() actor.Actor[int] {
		return actor.Func[int](func(_ actor.Context, m int) error {
			if m == 1 {
				return errors.New("no")
			}
			done <- m
			return nil
		})
	}, actor.WithKind("bad"), actor.WithMaxAttempts(1))
	mustTell(t, bad, 1)
	mustTell(t, bad, 2)
	recv(t, done, "the message after the failure")
	// A Receive's time is recorded after it returns: stop the actors so
	// every one is in.
	for _, pid := range []actor.PID{ref.PID(), asked.PID(), bad.PID()} {
		if err := pid.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[string]observe.KindStats{}
	for _, k := range h.sys.Snapshot(context.Background(), observe.SnapshotOptions{}).Kinds {
		kinds[k.Kind] = k
	}
	check := func(what string, b *observe.Buckets, count uint64) {
		t.Helper()
		if b == nil {
			t.Errorf("%s: nil; want %d observations", what, count)
			return
		}
		if b.Count != count || len(b.Bounds) != len(observe.LatencyBuckets) || len(b.Counts) != len(b.Bounds) {
			t.Errorf("%s: count %d, %d bounds, %d counts; want %d, %d, %d", what, b.Count, len(b.Bounds), len(b.Counts), count, len(observe.LatencyBuckets), len(observe.LatencyBuckets))
			return
		}
		for i := 1; i < len(b.Counts); i++ {
			if b.Counts[i] < b.Counts[i-1] {
				t.Errorf("%s: counts %v not cumulative", what, b.Counts)
			}
		}
		if b.Counts[len(b.Counts)-1] > b.Count || b.Sum < 0 {
			t.Errorf("%s: last bucket %d > count %d, or sum %v < 0", what, b.Counts[len(b.Counts)-1], b.Count, b.Sum)
		}
	}
	timed := kinds["timed"]
	check("timed wait", timed.WaitDuration, n+1)
	check("timed process", timed.ProcessDuration, n+1)
	if b := timed.ProcessDuration; b != nil && b.Sum <= 0 {
		t.Errorf("timed process sum %v; want > 0 (the first Receive waited)", b.Sum)
	}
	check("asked wait", kinds["asked"].WaitDuration, 1)
	check("asked process", kinds["asked"].ProcessDuration, 1)
	b := kinds["bad"]
	check("bad process ok", b.ProcessDuration, 1)
	check("bad process failed", b.ProcessFailed[observe.ErrorError], 1)
	if len(b.ProcessFailed) != 1 {
		t.Errorf("bad ProcessFailed: %v; want only %q", b.ProcessFailed, observe.ErrorError)
	}
}

// TestNoClocks checks that without WithMessageTiming no histogram is shown.
func TestNoClocks(t *testing.T) {
	h := newHarness(t)
	ref := mustSpawn(t, h.sys, "p", prober, actor.WithKind("p"))
	out := make(chan seen, 1)
	mustTell(t, ref, probe{out: out})
	recv(t, out, "the probe")
	for _, k := range h.sys.Snapshot(context.Background(), observe.SnapshotOptions{}).Kinds {
		if k.WaitDuration != nil || k.ProcessDuration != nil || k.ProcessFailed != nil {
			t.Errorf("kind %s without clocks: got histograms %+v", k.Kind, k)
		}
	}
}

// labelActor reports the pprof labels its Start hook and Receive run
// under.
type labelActor struct {
	start chan<- map[string]string
	recv  chan<- map[string]string
}

func (a *labelActor) Start(ctx actor.Context) error {
	a.start <- currentLabels(ctx)
	return nil
}

func (a *labelActor) Receive(ctx actor.Context, m int) error {
	a.recv <- currentLabels(ctx)
	return nil
}

// currentLabels returns the pprof labels of the calling goroutine, read
// with a profile of goroutines filtered to this one's stack.
func currentLabels(actor.Context) map[string]string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	out := map[string]string{}
	// debug=1 output groups goroutines by stack; each group that has
	// labels prints "# labels: {"k":"v", ...}" after its count line. Find
	// the group whose stack is in currentLabels.
	for _, group := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(group, "actor_test.currentLabels") {
			continue
		}
		for _, line := range strings.Split(group, "\n") {
			if rest, ok := strings.CutPrefix(line, "# labels: "); ok {
				rest = strings.Trim(rest, "{}")
				for _, kv := range strings.Split(rest, ", ") {
					k, v, _ := strings.Cut(kv, ":")
					out[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
				}
			}
		}
	}
	return out
}

// TestProfilerLabels checks that Receive and Start run under the actor's
// pprof labels with WithProfilerLabels, and under none without it.
func TestProfilerLabels(t *testing.T) {
	for _, on := range []bool{true, false} {
		var opts []actor.Option
		if on {
			opts = append(opts, actor.WithProfilerLabels())
		}
		h := newHarness(t, opts...)
		starts, recvs := make(chan map[string]string, 1), make(chan map[string]string, 1)
		spawned := make(chan error, 1)
		factory := func() actor.Actor[int] { return &labelActor{start: starts, recv: recvs} }
		var ref actor.Ref[int]
		mustTell(t, mustSpawn(t, h.sys, "parent", func() actor.Actor[int] {
			return actor.Func[int](func(ctx actor.Context, _ int) error {
				var err error
				ref, err = actor.Spawn(ctx, "w", factory, actor.WithKind("worker"),
					actor.WithExtraProfilerLabels(observe.AttrPipeline, "orders", observe.AttrStage, "parse"))
				spawned <- err
				return nil
			})
		}), 1)
		if err := recv(t, spawned, "the spawn of the worker"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		if on {
			want = map[string]string{"troupe.actor.kind": "worker", "troupe.supervisor": "/parent", "troupe.pipeline": "orders", "troupe.stage": "parse"}
		}
		// Start runs on the spawner's goroutine (the parent's), under its
		// labels, not the child's.
		if got := recv(t, starts, "the Start hook"); got["troupe.stage"] != "" || (on && got["troupe.supervisor"] != "/") {
			t.Errorf("labels on=%v: Start ran under %v; want the parent's labels", on, got)
		}
		mustTell(t, ref, 1)
		if got := recv(t, recvs, "the Receive"); !equalMaps(got, want) {
			t.Errorf("labels on=%v: Receive ran under %v; want %v", on, got, want)
		}
	}
	// A top-level Start runs on the caller's goroutine and leaves its
	// labels alone.
	h := newHarness(t, actor.WithProfilerLabels())
	starts := make(chan map[string]string, 1)
	if _, err := actor.Spawn(h.sys, "top", func() actor.Actor[int] { return &labelActor{start: starts} }, actor.WithKind("top")); err != nil {
		t.Fatal(err)
	}
	<-starts
	if got := currentLabels(nil); len(got) != 0 {
		t.Errorf("after a top-level Spawn the caller's goroutine has labels %v; want none", got)
	}
	if _, err := actor.Spawn(h.sys, "odd", func() actor.Actor[int] { return nil }, actor.WithExtraProfilerLabels("k")); !errors.Is(err, actor.ErrInvalidOption) {
		t.Errorf("WithExtraProfilerLabels(odd count): got %v; want ErrInvalidOption", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// clockLog is an observe.TimingSink that sends what it hears.
type clockLog chan string // kind/errorType/waited or redelivery

func (c clockLog) ObserveMessage(kind, errorType string, wait, process time.Duration) {
	w := "waited"
	if wait < 0 {
		w = "redelivery"
	}
	if process < 0 {
		w += ", negative process time"
	}
	select {
	case c <- kind + "/" + errorType + "/" + w:
	default:
		panic("clockLog full")
	}
}

// TestTimingSink checks that timing sinks hear every Receive, with its
// error type and whether it is a redelivery, until removed; and none
// without clocks.
func TestTimingSink(t *testing.T) {
	for _, on := range []bool{true, false} {
		var opts []actor.Option
		if on {
			opts = append(opts, actor.WithMessageTiming())
		}
		h := newHarness(t, opts...)
		sink := make(clockLog, 16)
		remove := h.sys.AddTimingSink(sink)
		h.sys.AddTimingSink(nil) // adds nothing
		done := make(chan int, 4)
		ref := mustSpawn(t, h.sys, "s", func() actor.Actor[int] {
			return actor.Func[int](func(ctx actor.Context, m int) error {
				if m == 1 && ctx.Attempt() == 1 {
					panic("once")
				}
				done <- m
				return nil
			})
		}, actor.WithKind("k"))
		mustTell(t, ref, 1)
		recv(t, done, "the redelivered message")
		if on {
			for _, want := range []string{"k/panic/waited", "k//redelivery"} {
				if got := recv(t, sink, "a clock"); got != want {
					t.Errorf("sink heard %q; want %q", got, want)
				}
			}
		}
		remove()
		remove() // idempotent
		mustTell(t, ref, 2)
		mustTell(t, ref, 3)
		recv(t, done, "message 2")
		recv(t, done, "message 3") // message 2's clocks, if any, were reported before this Receive
		none(t, sink, "a clock without clocks or after remove")
	}
}
