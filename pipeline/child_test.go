package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// keepCP is a Checkpointer in memory.
type keepCP struct {
	mu  sync.Mutex
	pos uint64
	ok  bool
}

func (c *keepCP) Load(context.Context) (uint64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos, c.ok, nil
}

func (c *keepCP) Save(_ context.Context, pos uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos, c.ok = pos, true
	return nil
}

// events returns a System option that sends the events of path to a
// channel (never blocking: the buffer is large for these tests).
func events(path string) (actor.Option, <-chan actor.Event) {
	ch := make(chan actor.Event, 1024)
	return actor.WithEvents(func(e actor.Event) {
		if e.Path == path {
			select {
			case ch <- e:
			default:
			}
		}
	}), ch
}

// nodePaths lists the paths of a Snapshot's tree.
func nodePaths(ns []observe.Node, out []string) []string {
	for _, n := range ns {
		out = append(out, n.Path)
		out = nodePaths(n.Children, out)
	}
	return out
}

// A pipeline on a given System shows in that System's Snapshot in place,
// under its root supervisor /<name>, and the System outlives it.
func TestWithSystemSnapshot(t *testing.T) {
	sys := actor.NewSystem()
	defer func() { _ = sys.Shutdown(context.Background()) }()
	p := pipeline.New(pipeline.WithName("etl"), pipeline.WithSystem(sys))
	gate := make(chan struct{})
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(10)), "work", func(ctx context.Context, v int) (int, error) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return v, nil
	}, pipeline.WithWorkers(2))
	c := pipeline.Collect(m, "out")
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.System() != sys {
		t.Fatalf("System: got another System")
	}
	snap := sys.Snapshot(testCtx(t), observe.SnapshotOptions{})
	paths := nodePaths(snap.Nodes, nil)
	for _, want := range []string{"/etl", "/etl/work", "/etl/work/w0", "/etl/work/w1", "/etl/out/w0"} {
		if !slices.Contains(paths, want) {
			t.Errorf("Snapshot lacks %s; has %v", want, paths)
		}
	}
	if len(snap.Pipelines) != 1 || snap.Pipelines[0].Name != "etl" || snap.Pipelines[0].State != "running" {
		t.Errorf("Snapshot.Pipelines: got %+v; want etl running", snap.Pipelines)
	}
	close(gate)
	if err := p.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantItems(t, sortedInts(c.Items()), ints(10))
	checkAccounting(t, p)
	snap = sys.Snapshot(testCtx(t), observe.SnapshotOptions{})
	if paths := nodePaths(snap.Nodes, nil); slices.Contains(paths, "/etl") || len(snap.Pipelines) != 0 {
		t.Errorf("after the run: got nodes %v, pipelines %+v; want the pipeline gone", paths, snap.Pipelines)
	}
	// The System was not shut down: it takes a second run.
	if err := p.Rerun(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := stats(t, p, "out").Out; got != 10 {
		t.Errorf("second run: sink out %d; want 10 (counters per run)", got)
	}
}

// A plain System hosts pipelines whose workers leave batches behind: a
// stage that gives up stops its workers with batches queued, and a drop
// policy drops batches. Those batches go back to the pipeline through
// the workers' own hook, none reaches the System's dead letters, and the
// accounting law holds (every item out or in the pipeline's dead-letter
// store, for the reason it deserves).
func TestOnPlainSystemLosesNothing(t *testing.T) {
	t.Run("stage gives up", func(t *testing.T) {
		var dead atomic.Int64
		sys := actor.NewSystem(actor.WithDeadLetters(func(actor.DeadLetter) { dead.Add(1) }))
		defer func() { _ = sys.Shutdown(context.Background()) }()
		p := pipeline.New(pipeline.WithSystem(sys))
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(1000)), "m", func(_ context.Context, v int) (int, error) {
			if v == 500 {
				panic("boom")
			}
			return v, nil
		}, pipeline.WithSupervision(strategy.OneForOne, 0, time.Minute, strategy.Backoff{}))
		pipeline.Collect(m, "out")
		var se *pipeline.StageError
		if err := run(t, p); !errors.As(err, &se) || se.Stage != "m" {
			t.Fatalf("got %v; want a StageError for m", err)
		}
		checkAccounting(t, p)
		s := stats(t, p, "m")
		if s.Stopped == 0 {
			t.Errorf("no item dead-lettered as stopped: %+v", s)
		}
		if n, m := dead.Load(), sys.DeadLetters(); n != 0 || m != 0 {
			t.Errorf("System dead letters: sink got %d, DeadLetters %d; want 0", n, m)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var dead atomic.Int64
			sys := actor.NewSystem(actor.WithDeadLetters(func(actor.DeadLetter) { dead.Add(1) }))
			defer func() { _ = sys.Shutdown(context.Background()) }()
			p := pipeline.New(pipeline.WithSystem(sys), pipeline.WithBatchSize(1))
			gate := make(chan struct{})
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(50)), "slow", func(ctx context.Context, v int) (int, error) {
				<-gate
				return v, nil
			}, pipeline.WithBuffer(1), pipeline.WithOverflow(mailbox.DropNewest))
			c := pipeline.Collect(m, "out")
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // the source sent everything (a drop policy never blocks it)
			close(gate)
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			dropped := p.DeadLetters().List(func(d pipeline.DeadLetter) bool { return d.Reason == pipeline.DeadDropped })
			if len(dropped) == 0 || len(dropped)+c.Len() != 50 {
				t.Errorf("%d dropped + %d delivered != 50", len(dropped), c.Len())
			}
			checkAccounting(t, p)
			if n, m := dead.Load(), sys.DeadLetters(); n != 0 || m != 0 {
				t.Errorf("System dead letters: sink got %d, DeadLetters %d; want 0", n, m)
			}
		})
	})
}

// Options of the pipeline's own System are refused on a given one.
func TestWithSystemRefusesOwnSystemOptions(t *testing.T) {
	sys2 := actor.NewSystem()
	defer func() { _ = sys2.Shutdown(context.Background()) }()
	p2 := pipeline.New(pipeline.WithSystem(sys2), pipeline.WithEvents(func(actor.Event) {}))
	pipeline.Collect(pipeline.FromSlice(p2, "src", ints(3)), "out")
	if err := p2.Start(context.Background()); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("Start with WithEvents on a given System: got %v; want ErrInvalid", err)
	}
	p3 := pipeline.New(pipeline.WithSystem(sys2), pipeline.WithActorOptions(actor.WithMessageTiming()))
	pipeline.Collect(pipeline.FromSlice(p3, "src", ints(3)), "out")
	if err := p3.Start(context.Background()); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("Start with WithActorOptions on a given System: got %v; want ErrInvalid", err)
	}
}

// A definition runs twice: two correct runs, counters per run; Rerun's
// errors.
func TestRerun(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(4))
	if err := p.Rerun(context.Background()); !errors.Is(err, pipeline.ErrNotRunning) {
		t.Fatalf("Rerun before Start: got %v; want ErrNotRunning", err)
	}
	gate := make(chan struct{})
	var calls atomic.Int32
	src := pipeline.FromSlice(p, "src", ints(50))
	m := pipeline.Map(src, "double", func(ctx context.Context, v int) (int, error) {
		if calls.Add(1) == 1 {
			<-gate
		}
		return 2 * v, nil
	}, pipeline.WithWorkers(3), pipeline.WithOrdered(0))
	f := pipeline.Filter(m, "f", func(_ context.Context, v int) (bool, error) { return v%4 == 0, nil })
	c := pipeline.Collect(f, "out")
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Rerun(context.Background()); !errors.Is(err, pipeline.ErrRunning) {
		t.Fatalf("Rerun while running: got %v; want ErrRunning", err)
	}
	close(gate)
	if err := p.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 50 {
		if (2*i)%4 == 0 {
			want = append(want, 2*i)
		}
	}
	wantItems(t, c.Items(), want)
	for run := 2; run <= 3; run++ {
		if err := p.Rerun(context.Background()); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if err := p.Wait(testCtx(t)); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		checkAccounting(t, p)
		if s := stats(t, p, "double"); s.In != 50 || s.Out != 50 {
			t.Errorf("run %d: double in %d out %d; want 50, 50 (this run's)", run, s.In, s.Out)
		}
		if s := stats(t, p, "f"); s.Filtered != 25 {
			t.Errorf("run %d: filtered %d; want 25", run, s.Filtered)
		}
		// Ordered: each run emits in input order again.
		if all := c.Items(); !slices.Equal(all[len(all)-len(want):], want) {
			t.Errorf("run %d: got %v; want %v in order", run, all[len(all)-len(want):], want)
		}
	}
	if got := c.Len(); got != 3*len(want) {
		t.Errorf("collector: %d items; want %d (it keeps what every run gathered)", got, 3*len(want))
	}
	// A ToChan sink closes its channel: such a pipeline runs once.
	q := pipeline.New()
	ch := make(chan int, 10)
	pipeline.ToChan(pipeline.FromSlice(q, "src", ints(3)), "out", ch)
	if err := run(t, q); err != nil {
		t.Fatal(err)
	}
	if err := q.Rerun(context.Background()); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("Rerun with ToChan: got %v; want ErrInvalid", err)
	}
}

// startApp starts a supervisor /app over the child spec on a
// System whose events of /app/etl go to the returned channel.
func startApp(t *testing.T, spec supervisor.ChildSpec) (*actor.System, *supervisor.Supervisor, <-chan actor.Event) {
	t.Helper()
	opt, evs := events("/app/etl")
	sys := actor.NewSystem(opt)
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(5, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return sys, sup, evs
}

// nextExit waits for the next stop or failure of /app/etl.
func nextExit(t *testing.T, evs <-chan actor.Event) actor.Event {
	t.Helper()
	for {
		e := wait(t, evs, "an exit of /app/etl")
		if e.Kind == actor.EventStopped || e.Kind == actor.EventFailed {
			return e
		}
	}
}

// A pipeline child: a stage worker's panic is handled inside it; a stage
// that gives up fails the run, the child exits with that failure, its
// parent restarts it, and the new run resumes from the checkpoint with no
// gap; the Transient child that then ends normally is not restarted.
func TestPipelineChildRestartResumes(t *testing.T) {
	const n = 200
	cp := &keepCP{}
	p := pipeline.New(pipeline.WithName("etl"), pipeline.WithBatchSize(4))
	var mu sync.Mutex
	var froms []uint64
	src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
		mu.Lock()
		froms = append(froms, from)
		mu.Unlock()
		for i := int(from); i < n; i++ {
			if err := emit(i, uint64(i+1)); err != nil {
				return err
			}
		}
		return nil
	})
	var panicked, gaveUp atomic.Bool
	flaky := pipeline.Map(src, "flaky", func(_ context.Context, v int) (int, error) {
		if v == 20 && panicked.CompareAndSwap(false, true) {
			panic("one worker failure: its stage restarts it")
		}
		return v, nil
	}, pipeline.WithSupervision(strategy.OneForOne, 3, time.Minute, strategy.Backoff{}))
	fatal := pipeline.Map(flaky, "fatal", func(_ context.Context, v int) (int, error) {
		if v == 120 && gaveUp.CompareAndSwap(false, true) {
			panic("the stage gives up: the run fails")
		}
		return v, nil
	}, pipeline.WithSupervision(strategy.OneForOne, 0, time.Minute, strategy.Backoff{}))
	seen := make([][]int, 0, 2)
	var runMu sync.Mutex
	pipeline.ToFunc(fatal, "sink", func(_ context.Context, v int) error {
		runMu.Lock()
		mu.Lock()
		r := len(froms) - 1
		mu.Unlock()
		for len(seen) <= r {
			seen = append(seen, nil)
		}
		seen[r] = append(seen[r], v)
		runMu.Unlock()
		return nil
	})
	spec := p.Spec("etl")
	spec.Restart = supervisor.Transient
	sys, sup, evs := startApp(t, spec)

	e := nextExit(t, evs)
	var se *pipeline.StageError
	if e.Kind != actor.EventFailed || !errors.As(e.Err, &se) || se.Stage != "fatal" || !errors.Is(e.Err, supervisor.ErrGaveUp) {
		t.Fatalf("first exit: got %v; want a failure with the StageError of fatal", e)
	}
	e = nextExit(t, evs)
	if e.Kind != actor.EventStopped || e.Reason != actor.Normal {
		t.Fatalf("second exit: got %v; want a normal exit", e)
	}
	// Transient and normal: not restarted. (A restart would run at once,
	// on the supervisor's goroutine, when it handles the exit: a third run
	// would then have read its input before Stop returns.)
	if err := sup.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for len(evs) > 0 {
		if e := <-evs; e.Kind == actor.EventStarted || e.Kind == actor.EventRestarted {
			t.Errorf("after the normal exit: %v", e)
		}
	}
	runMu.Lock()
	defer runMu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if len(froms) != 2 || froms[0] != 0 || len(seen) != 2 {
		t.Fatalf("runs from %v, %d runs delivered; want 2 runs, the first from 0", froms, len(seen))
	}
	from := int(froms[1])
	// No gap: every item before the checkpoint went out in the first run;
	// the second run delivers exactly the items from the checkpoint on.
	first := map[int]bool{}
	for _, v := range seen[0] {
		first[v] = true
	}
	for i := range from {
		if !first[i] {
			t.Fatalf("item %d, before the checkpoint %d, never reached the sink", i, from)
		}
	}
	if from > 120 {
		t.Fatalf("checkpoint %d is past the item that failed (120)", from)
	}
	wantItems(t, sortedInts(seen[1]), rangeInts(from, n))
	// Duplicates only among the items after the checkpoint that the first
	// run had finished (the documented bound).
	for _, v := range seen[0] {
		if v >= from && v >= 120 {
			t.Errorf("item %d went out in the first run after the failure", v)
		}
	}
	if !panicked.Load() {
		t.Fatal("the worker failure did not happen")
	}
	checkAccounting(t, p)
	_ = sys
}

// Stopping a pipeline child (its supervisor stops) aborts the run: Wait
// reports it, the stopped items are accounted, and nothing leaks.
func TestPipelineChildStopped(t *testing.T) {
	p := pipeline.New(pipeline.WithName("etl"))
	started := make(chan struct{})
	var once sync.Once
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(100)), "block", func(ctx context.Context, v int) (int, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return 0, ctx.Err()
	})
	pipeline.Collect(m, "out")
	_, sup, _ := startApp(t, p.Spec("etl"))
	wait(t, started, "the run")
	if err := sup.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(testCtx(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: got %v; want a context.Canceled (stopped by its supervisor)", err)
	}
	checkAccounting(t, p)
}

func rangeInts(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}
