package chaos_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// A Cancel fault aborts a whole pipeline mid-run: Run returns the
// cancellation, and every item that entered was delivered or
// dead-lettered (as stopped), none lost.
func TestCancelPipeline(t *testing.T) {
	const n = 20000
	m := newMonkey(t, 3, chaos.Rule{Kind: chaos.Cancel, Pattern: "work", Rate: 0.001, Count: 1})
	c := chaos.NewChecker[int](chaos.AllowDeadLetters(), chaos.AllowUnrestarted())
	store := pipeline.NewMemoryStore(n)
	p := pipeline.New(pipeline.WithEvents(c.Event), pipeline.WithDeadLetterStore(store))
	src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				// FromFunc does not say whether an emit that fails
				// took its item (a taken one is dead-lettered).
				c.MaybeEntered(i)
				return err
			}
			c.Entered(i)
		}
		return nil
	})
	work := pipeline.Map(src, "work", func(ctx context.Context, i int) (int, error) {
		if err := m.Inject(ctx, "work"); err != nil {
			return 0, err
		}
		return i, nil
	}, pipeline.WithWorkers(3))
	slow := pipeline.Map(work, "slow", func(ctx context.Context, i int) (int, error) {
		if i%100 == 0 {
			time.Sleep(10 * time.Microsecond)
		}
		return i, nil
	}, pipeline.WithWorkers(2))
	pipeline.ToFunc(slow, "sink", func(_ context.Context, i int) error {
		c.Delivered(i)
		return nil
	})

	ctx, cancel := m.WithCancel(testCtx(t))
	defer cancel()
	err := p.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	if !errors.Is(context.Cause(ctx), chaos.ErrInjected) || m.Count(chaos.Cancel) != 1 {
		t.Fatalf("cause %v, %d cancels; want one injected cancel", context.Cause(ctx), m.Count(chaos.Cancel))
	}
	for _, d := range store.List(nil) {
		if d.Reason != pipeline.DeadStopped {
			t.Fatalf("dead letter %+v; want only stopped items", d)
		}
		c.DeadLettered(d.Item.(int))
	}
	rep := c.Check(testCtx(t), m)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Entered == n || rep.DeadLettered == 0 {
		t.Fatalf("%v: the cancel came too late to test anything", &rep)
	}
	t.Logf("%v", &rep)
}

// Kills in every worker stage kind of a pipeline (map, keyed, flat-map,
// sink), with per-key sums checked: the keyed state is rolled back when a
// kill follows an update.
func TestKillsInEveryStageKind(t *testing.T) {
	const n, keys = 20000, 17
	m := newMonkey(t, 21, chaos.Rule{Kind: chaos.Kill, Rate: 0.005})
	c := chaos.NewChecker[int]()
	p := pipeline.New(pipeline.WithEvents(c.Event))
	opts := []pipeline.StageOption{
		pipeline.WithWorkers(3),
		pipeline.WithSupervision(strategy.OneForOne, 10000, time.Second, strategy.Backoff{}),
		pipeline.WithRetry(2, strategy.Backoff{}),
	}
	src := pipeline.FromSeq(p, "src", func(yield func(int) bool) {
		for i := range n {
			c.Entered(i)
			if !yield(i) {
				return
			}
		}
	})
	mapped := pipeline.Map(src, "map", func(ctx context.Context, i int) (int, error) {
		return i, m.InjectItem(ctx, "map", uint64(i))
	}, opts...)
	type kv struct{ k, v int }
	summed := pipeline.Keyed(mapped, "sum", pipeline.KeyedSpec[int, int, int, kv]{
		Key: func(i int) int { return i % keys },
		Update: func(ctx context.Context, k int, s *int, i int, emit func(kv)) error {
			*s += i
			emit(kv{-1, i})
			return m.InjectItem(ctx, "sum", uint64(i)) // after the update
		},
		Flush: func(k int, s *int, emit func(kv)) bool { emit(kv{k, *s}); return false },
	}, opts...)
	flat := pipeline.FlatMap(summed, "flat", func(ctx context.Context, x kv, emit func(kv)) error {
		if x.k < 0 {
			if err := m.InjectItem(ctx, "flat", uint64(x.v)); err != nil {
				return err
			}
		}
		emit(x)
		return nil
	}, opts...)
	got := map[int]int{}
	pipeline.ToFunc(flat, "sink", func(ctx context.Context, x kv) error {
		if x.k >= 0 {
			got[x.k] = x.v
			return nil
		}
		if err := m.InjectItem(ctx, "sink", uint64(x.v)); err != nil {
			return err
		}
		c.Delivered(x.v)
		return nil
	}, append(opts[1:], pipeline.WithWorkers(1))...) // one worker: got needs no lock
	if err := p.Run(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := map[int]int{}
	for i := range n {
		want[i%keys] += i
	}
	chaos.CompareAggregates(c, "sum", got, want)
	rep := c.Check(testCtx(t), m)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	kills := m.Count(chaos.Kill)
	if kills < 200 || rep.Restarts != kills || rep.FaultFailures != kills {
		t.Fatalf("%d kills; report %v", kills, &rep)
	}
}
