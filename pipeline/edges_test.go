package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/apiedge"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pipeline"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// run is nil for methods of interfaces that users implement. Each run is
// inside a synctest bubble, so a hang fails the test.
type edge struct {
	name string
	want string
	run  func(t *testing.T)
}

// nilEdges lists every exported function and method of package pipeline
// that takes a context.Context, a variadic option list, or is an option
// constructor taking a value that can be nil. TestNilEdgesComplete checks
// the list against the package's API.
var nilEdges = []edge{
	{"Checkpointer.Load", "implemented by users; the pipeline passes its own context", nil},
	{"Checkpointer.Save", "implemented by users; the pipeline passes its own context", nil},

	{"New", "nil options are skipped", func(t *testing.T) {
		p := pipeline.New(nil, pipeline.WithBatchSize(2), nil)
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(10)), "out")
		mustRun(t, p)
		wantItems(t, c.Items(), ints(10))
	}},
	{"WithSystem", "a nil System is skipped: the pipeline runs on its own", func(t *testing.T) {
		p := pipeline.New(pipeline.WithSystem(nil))
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(4)), "out")
		mustRun(t, p)
		wantItems(t, c.Items(), ints(4))
	}},
	{"Pipeline.Rerun", "a nil ctx runs until the input ends", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		mustRun(t, p)
		if err := p.Rerun(nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(nil); err != nil {
			t.Fatal(err)
		}
		wantItems(t, c.Items(), append(ints(3), ints(3)...))
	}},
	{"Inlet.Close", "a nil ctx waits as long as it takes", func(t *testing.T) {
		p := pipeline.New()
		src, in := pipeline.FromRef[int](p, "in", 4)
		c := pipeline.Collect(src, "out")
		if err := p.Start(nil); err != nil {
			t.Fatal(err)
		}
		if err := in.Ref().Tell(nil, 1); err != nil {
			t.Fatal(err)
		}
		if err := in.Close(nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(nil); err != nil {
			t.Fatal(err)
		}
		wantItems(t, c.Items(), []int{1})
	}},
	{"ToRef", "nil stage options are skipped", func(t *testing.T) {
		sys := actor.NewSystem()
		defer func() { _ = sys.Shutdown(context.Background()) }()
		ref, err := actor.Spawn(sys, "acker", func() actor.Actor[sinkMsg] {
			return actor.Func[sinkMsg](func(_ actor.Context, m sinkMsg) error { m.ack(nil); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.New()
		pipeline.ToRef(pipeline.FromSlice(p, "src", ints(5)), "deliver", ref,
			func(v int, ack func(error)) sinkMsg { return sinkMsg{v, ack} }, nil, pipeline.WithWorkers(2), nil)
		mustRun(t, p)
		if s := stats(t, p, "deliver"); s.Out != 5 {
			t.Fatalf("out %d; want 5", s.Out)
		}
	}},
	{"Map", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(5)), "m", func(_ context.Context, v int) (int, error) { return 2 * v, nil }, nil, pipeline.WithWorkers(2), nil)
		c := pipeline.Collect(m, "out")
		mustRun(t, p)
		wantItems(t, c.Items(), []int{0, 2, 4, 6, 8})
	}},
	{"Filter", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		f := pipeline.Filter(pipeline.FromSlice(p, "src", ints(6)), "f", func(_ context.Context, v int) (bool, error) { return v%2 == 0, nil }, nil)
		c := pipeline.Collect(f, "out")
		mustRun(t, p)
		wantItems(t, c.Items(), []int{0, 2, 4})
	}},
	{"FlatMap", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		f := pipeline.FlatMap(pipeline.FromSlice(p, "src", ints(3)), "f", func(_ context.Context, v int, emit func(int)) error {
			emit(v)
			emit(v)
			return nil
		}, nil)
		c := pipeline.Collect(f, "out")
		mustRun(t, p)
		wantItems(t, c.Items(), []int{0, 0, 1, 1, 2, 2})
	}},
	{"Chunk", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		b := pipeline.Chunk(pipeline.FromSlice(p, "src", ints(5)), "b", 2, 0, nil)
		c := pipeline.Collect(b, "out")
		mustRun(t, p)
		var all []int
		for _, g := range c.Items() {
			all = append(all, g...)
		}
		wantItems(t, all, ints(5))
	}},
	{"Keyed", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		spec := pipeline.KeyedSpec[int, int, int, int]{
			Key:    func(v int) int { return v % 2 },
			Update: func(_ context.Context, _ int, s *int, v int, _ func(int)) error { *s += v; return nil },
			Flush:  func(_ int, s *int, emit func(int)) bool { emit(*s); return false },
		}
		c := pipeline.Collect(pipeline.Keyed(pipeline.FromSlice(p, "src", ints(5)), "k", spec, nil), "out")
		mustRun(t, p)
		wantItems(t, c.Items(), []int{4, 6}) // 1+3 and 0+2+4
	}},
	{"PriorityMerge", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		high := pipeline.FromSlice(p, "high", []int{1, 2})
		low := pipeline.FromSlice(p, "low", []int{3})
		c := pipeline.Collect(pipeline.PriorityMerge(p, "pm", []pipeline.Tier[int]{{In: high, Quota: 1}, {In: low, Quota: 1}}, nil), "out")
		mustRun(t, p)
		wantItems(t, c.Items(), []int{1, 2, 3})
	}},
	{"Collect", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out", nil)
		mustRun(t, p)
		wantItems(t, c.Items(), ints(3))
	}},
	{"ToChan", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		ch := make(chan int, 3)
		pipeline.ToChan(pipeline.FromSlice(p, "src", ints(3)), "out", ch, nil)
		mustRun(t, p)
		var got []int
		for v := range ch {
			got = append(got, v)
		}
		wantItems(t, got, ints(3))
	}},
	{"ToFunc", "nil stage options are skipped", func(t *testing.T) {
		p := pipeline.New()
		var n atomic.Int32
		pipeline.ToFunc(pipeline.FromSlice(p, "src", ints(3)), "out", func(context.Context, int) error { n.Add(1); return nil }, nil)
		mustRun(t, p)
		if n.Load() != 3 {
			t.Errorf("sink calls: got %d; want 3", n.Load())
		}
	}},
	{"WithDeadLetterStore", "nil is skipped: the store given before stays", func(t *testing.T) {
		s := pipeline.NewMemoryStore(10)
		p := pipeline.New(pipeline.WithDeadLetterStore(s), pipeline.WithDeadLetterStore(nil))
		m := pipeline.Map(pipeline.FromSlice(p, "src", []int{1}), "m", func(context.Context, int) (int, error) { return 0, errors.New("no") })
		pipeline.Collect(m, "out")
		mustRun(t, p)
		if p.DeadLetters() != pipeline.DeadLetterStore(s) || s.Len() != 1 {
			t.Errorf("dead letters: got store %p with %d entries; want %p with 1", p.DeadLetters(), s.Len(), s)
		}
	}},
	{"WithActorOptions", "nil options are skipped, the others apply", func(t *testing.T) {
		p := pipeline.New(pipeline.WithActorOptions(nil, actor.WithMessageTiming(), nil))
		pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		mustRun(t, p)
		timed := false
		for _, k := range p.System().Snapshot(context.Background(), observe.SnapshotOptions{}).Kinds {
			timed = timed || k.ProcessDuration != nil
		}
		if !timed {
			t.Errorf("WithActorOptions(nil, WithMessageTiming(), nil): no kind of the pipeline's System was timed")
		}
	}},
	{"WithEvents", "nil is skipped: the sink given before stays", func(t *testing.T) {
		var n atomic.Int32
		p := pipeline.New(pipeline.WithEvents(func(actor.Event) { n.Add(1) }), pipeline.WithEvents(nil))
		pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		mustRun(t, p)
		if n.Load() == 0 {
			t.Errorf("the event sink given before WithEvents(nil) got no event")
		}
	}},
	{"WithFaultInjector", "nil is skipped: the injector given before stays", func(t *testing.T) {
		fi := &countHits{}
		p := pipeline.New(pipeline.WithFaultInjector(fi), pipeline.WithFaultInjector(nil))
		pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		mustRun(t, p)
		if fi.n.Load() == 0 {
			t.Errorf("the injector given before WithFaultInjector(nil) was never consulted")
		}
	}},
	{"WithLogger", "nil is skipped: the logger given before stays", func(t *testing.T) {
		core, logs := observer.New(zap.InfoLevel)
		p := pipeline.New(pipeline.WithLogger(zap.New(core)), pipeline.WithLogger(nil))
		m := pipeline.Map(pipeline.FromSlice(p, "src", []int{1}), "m", func(ctx context.Context, v int) (int, error) {
			ctx.(actor.Context).Logger().Info("hello")
			return v, nil
		})
		pipeline.Collect(m, "out")
		mustRun(t, p)
		if logs.FilterMessage("hello").Len() != 1 {
			t.Errorf("the logger given before WithLogger(nil) got %d entries %q; want the stage's one", logs.Len(), logs.All())
		}
	}},

	{"FileCheckpointer.Save", "Background: the position is saved", func(t *testing.T) {
		f := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "cp"))
		if err := f.Save(nil, 7); err != nil {
			t.Fatalf("Save(nil, 7): got %v; want nil", err)
		}
		if pos, ok, err := f.Load(context.Background()); pos != 7 || !ok || err != nil {
			t.Errorf("Load after Save(nil, 7): got %d, %v, %v; want 7, true, nil", pos, ok, err)
		}
	}},
	{"FileCheckpointer.Load", "Background: the position is read", func(t *testing.T) {
		f := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "cp"))
		if pos, ok, err := f.Load(nil); pos != 0 || ok || err != nil {
			t.Errorf("Load(nil) with no file: got %d, %v, %v; want 0, false, nil", pos, ok, err)
		}
		if err := f.Save(context.Background(), 9); err != nil {
			t.Fatal(err)
		}
		if pos, ok, err := f.Load(nil); pos != 9 || !ok || err != nil {
			t.Errorf("Load(nil): got %d, %v, %v; want 9, true, nil", pos, ok, err)
		}
	}},
	{"StateCheckpointer.LoadCheckpoint", "implemented by users; the pipeline passes its own context", nil},
	{"StateCheckpointer.SaveCheckpoint", "implemented by users; the pipeline passes its own context", nil},
	{"FileCheckpointer.SaveCheckpoint", "Background: the checkpoint is saved", func(t *testing.T) {
		f := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "cp"))
		if err := f.SaveCheckpoint(nil, pipeline.Checkpoint{Pos: 7, State: map[string][]byte{"k": []byte("s")}}); err != nil {
			t.Fatalf("SaveCheckpoint(nil, ...): got %v; want nil", err)
		}
		if c, ok, err := f.LoadCheckpoint(context.Background()); c.Pos != 7 || string(c.State["k"]) != "s" || !ok || err != nil {
			t.Errorf("LoadCheckpoint after SaveCheckpoint(nil, ...): got %+v, %v, %v", c, ok, err)
		}
	}},
	{"FileCheckpointer.LoadCheckpoint", "Background: the checkpoint is read", func(t *testing.T) {
		f := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "cp"))
		if c, ok, err := f.LoadCheckpoint(nil); c.Pos != 0 || ok || err != nil {
			t.Errorf("LoadCheckpoint(nil) with no file: got %+v, %v, %v; want zero, false, nil", c, ok, err)
		}
		if err := f.Save(context.Background(), 9); err != nil {
			t.Fatal(err)
		}
		if c, ok, err := f.LoadCheckpoint(nil); c.Pos != 9 || c.State != nil || !ok || err != nil {
			t.Errorf("LoadCheckpoint(nil): got %+v, %v, %v; want 9 and no state, true, nil", c, ok, err)
		}
	}},
	{"Inputs.Remove", "Background: waits until the input stopped reading, returns nil", func(t *testing.T) {
		p := pipeline.New()
		stream, inputs := pipeline.Dynamic[int](p, "dyn")
		c := pipeline.Collect(stream, "out")
		ch := make(chan int)
		if err := inputs.Add("a", ch); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ch <- 1
		synctest.Wait() // the input's goroutine is waiting on ch again
		if err := inputs.Remove(nil, "a"); err != nil {
			t.Errorf("Remove(nil, a): got %v; want nil", err)
		}
		inputs.Close()
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		wantItems(t, c.Items(), []int{1})
	}},
	{"Pipeline.Start", "Background: runs until the input ends", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		if err := p.Start(nil); err != nil {
			t.Fatalf("Start(nil): got %v; want nil", err)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		wantItems(t, c.Items(), ints(3))
	}},
	{"Pipeline.Run", "Background: runs until the input ends, returns nil", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		if err := p.Run(nil); err != nil {
			t.Fatalf("Run(nil): got %v; want nil", err)
		}
		wantItems(t, c.Items(), ints(3))
	}},
	{"Pipeline.Wait", "Background: waits until the pipeline stopped", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSlice(p, "src", ints(3)), "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(nil); err != nil {
			t.Fatalf("Wait(nil): got %v; want nil", err)
		}
		wantItems(t, c.Items(), ints(3))
	}},
	{"Pipeline.Stop", "Background: drains for as long as it takes, returns nil", func(t *testing.T) {
		p := pipeline.New()
		ch := make(chan int)
		c := pipeline.Collect(pipeline.FromChan(p, "src", ch), "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ch <- 1
		if err := p.Stop(nil); err != nil {
			t.Fatalf("Stop(nil): got %v; want nil", err)
		}
		wantItems(t, c.Items(), []int{1})
	}},
	{"Pipeline.Replay", "Background: the dead letters go back into their stage", func(t *testing.T) {
		p := pipeline.New()
		ch := make(chan int)
		var failing atomic.Bool
		failing.Store(true)
		m := pipeline.Map(pipeline.FromChan(p, "src", ch), "m", func(_ context.Context, v int) (int, error) {
			if failing.Load() {
				return 0, errors.New("not now")
			}
			return v, nil
		})
		c := pipeline.Collect(m, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ch <- 5
		synctest.Wait() // the item was dead-lettered; the source waits on ch
		failing.Store(false)
		if n, err := p.Replay(nil, nil); n != 1 || err != nil {
			t.Errorf("Replay(nil, nil): got %d, %v; want 1, nil", n, err)
		}
		close(ch)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		wantItems(t, c.Items(), []int{5})
	}},
}

// TestNilEdges calls every entry point of nilEdges with nil and checks
// what the package doc promises: no panic, and the result in want.
func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		if e.run == nil {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s with nil: panicked: %v (want: %s)", e.name, v, e.want)
					}
				}()
				e.run(t)
			})
		})
	}
}

// TestNilEdgesComplete checks that nilEdges lists exactly the exported
// entry points of the package that take a context or options, and that
// the package doc states the rule.
func TestNilEdgesComplete(t *testing.T) {
	names := make([]string, len(nilEdges))
	for i, e := range nilEdges {
		names[i] = e.name
	}
	apiedge.Complete(t, ".", names)
}

// mustRun runs p to its end (inside a bubble, so a hang is a deadlock).
func mustRun(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
}

// wantItems compares got, in any order, with want.
func wantItems(t *testing.T, got, want []int) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("items: got %v; want %v", got, want)
	}
}

type countHits struct{ n atomic.Int32 }

func (c *countHits) BeforeReceive(actor.Context) error { c.n.Add(1); return nil }
func (c *countHits) BeforeStart(actor.Context) error   { return nil }
