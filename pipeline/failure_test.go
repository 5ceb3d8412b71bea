package pipeline_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// A poison item is dead-lettered with its stage, reason, attempts and
// error, and every other item arrives.
func TestPoisonItemGoesToDeadLetters(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(16))
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(1000)), "m", func(_ context.Context, v int) (int, error) {
		if v == 42 {
			panic("bad item")
		}
		return v, nil
	}, pipeline.WithWorkers(4))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(ints(1000), func(v int) bool { return v == 42 })
	if got := sortedInts(c.Items()); !slices.Equal(got, want) {
		t.Fatalf("got %d items, want 999 (all but 42)", len(got))
	}
	dls := p.DeadLetters().List(nil)
	if len(dls) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(dls))
	}
	d := dls[0]
	var pe *actor.PanicError
	if d.Stage != "m" || d.Item != 42 || d.Reason != pipeline.DeadPoison || d.Attempts != pipeline.DefaultMaxAttempts || !errors.As(d.Err, &pe) {
		t.Fatalf("dead letter %+v", d)
	}
	s := stats(t, p, "m")
	if s.DeadLettered != 1 || s.Errors != 3 || s.Restarts != 3 {
		t.Errorf("stats %+v", s)
	}
	checkAccounting(t, p)
}

// A returned error is retried inside the worker, without a restart.
func TestReturnedErrorIsRetried(t *testing.T) {
	p := pipeline.New()
	var mu sync.Mutex
	tries := map[int]int{}
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(1000)), "m", func(_ context.Context, v int) (int, error) {
		if v%100 == 0 {
			mu.Lock()
			defer mu.Unlock()
			if tries[v]++; tries[v] < 3 {
				return 0, errors.New("transient")
			}
		}
		return v, nil
	}, pipeline.WithWorkers(2))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if got := sortedInts(c.Items()); !slices.Equal(got, ints(1000)) {
		t.Fatalf("got %d items", len(got))
	}
	s := stats(t, p, "m")
	if s.Errors != 20 || s.Retries != 20 || s.Restarts != 0 || s.DeadLettered != 0 {
		t.Errorf("stats %+v", s)
	}
	checkAccounting(t, p)
}

// Workers of a map and of a sink panic at random: every item is either
// delivered exactly once or dead-lettered, and the counters balance.
func TestRandomPanicsAllAccounted(t *testing.T) {
	const n = 20000
	p := pipeline.New(pipeline.WithBatchSize(64))
	sup := pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{})
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	flaky := func() bool { rmu.Lock(); defer rmu.Unlock(); return rng.Float64() < 0.02 }
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(_ context.Context, v int) (int, error) {
		if flaky() {
			panic("random")
		}
		return v, nil
	}, pipeline.WithWorkers(4), sup)
	var mu sync.Mutex
	seen := map[int]int{}
	pipeline.ToFunc(m, "sink", func(_ context.Context, v int) error {
		if flaky() {
			panic("random sink")
		}
		mu.Lock()
		seen[v]++
		mu.Unlock()
		return nil
	}, sup)
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	dead := map[int]bool{}
	for _, d := range p.DeadLetters().List(nil) {
		dead[d.Item.(int)] = true
	}
	for v := range n {
		if seen[v]+btoi(dead[v]) != 1 {
			t.Fatalf("item %d delivered %d times, dead-lettered %v", v, seen[v], dead[v])
		}
	}
	if s := stats(t, p, "m"); s.Restarts == 0 {
		t.Errorf("no restarts: %+v", s)
	}
	checkAccounting(t, p)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A stage whose supervisor gives up fails the pipeline with a StageError
// naming it (FailPipeline, the default).
func TestGiveUpFailsPipeline(t *testing.T) {
	p := pipeline.New()
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(1000)), "m", func(_ context.Context, v int) (int, error) {
		if v == 500 {
			panic("boom")
		}
		return v, nil
	}, pipeline.WithSupervision(strategy.OneForOne, 0, time.Minute, strategy.Backoff{}))
	pipeline.Collect(m, "out")
	err := run(t, p)
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "m" || !errors.Is(err, supervisor.ErrGaveUp) {
		t.Fatalf("got %v; want a StageError for m matching ErrGaveUp", err)
	}
	checkAccounting(t, p)
	if s := stats(t, p, "m"); s.Stopped == 0 {
		t.Errorf("no item dead-lettered as stopped: %+v", s)
	}
}

// With RestartStage the stage comes back with fresh workers, which take
// over the old workers' items with their progress: everything arrives.
func TestGiveUpRestartsStage(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(8), pipeline.WithStageRestarts(100, time.Minute))
	var once sync.Map
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(2000)), "m", func(_ context.Context, v int) (int, error) {
		if v%100 == 7 {
			if _, loaded := once.LoadOrStore(v, true); !loaded {
				panic("first attempt fails")
			}
		}
		return v, nil
	}, pipeline.WithWorkers(3), pipeline.WithSupervision(strategy.OneForOne, 1, time.Minute, strategy.Backoff{}),
		pipeline.WithGiveUp(pipeline.RestartStage))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if got := sortedInts(c.Items()); !slices.Equal(got, ints(2000)) {
		for _, s := range p.Stats() {
			t.Logf("%+v", s)
		}
		t.Logf("dead letters: %d", len(p.DeadLetters().List(nil)))
		t.Fatalf("got %d items, want 2000 exactly once", len(got))
	}
	if s := stats(t, p, "m"); s.StageRestarts == 0 {
		t.Errorf("the stage never restarted: %+v", s)
	}
	checkAccounting(t, p)
}

// Returned errors wait for the Retry backoff between attempts.
func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		var tries atomic.Int32
		m := pipeline.Map(pipeline.FromSlice(p, "src", []int{1}), "m", func(_ context.Context, v int) (int, error) {
			if tries.Add(1) < 3 {
				return 0, errors.New("again")
			}
			return v, nil
		}, pipeline.WithRetry(3, strategy.Backoff{Min: 10 * time.Millisecond, Max: time.Second}))
		c := pipeline.Collect(m, "out")
		start := time.Now()
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 30*time.Millisecond || d > 40*time.Millisecond {
			t.Errorf("took %v, want 10ms + 20ms of backoff", d)
		}
		if c.Len() != 1 {
			t.Fatal("item lost")
		}
	})
}

// An attempt past the stage's Timeout fails; the last one dead-letters
// the item with DeadTimeout.
func TestTimeoutDeadLettersWithDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(10)), "m", func(ctx context.Context, v int) (int, error) {
			if v == 5 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return v, nil
		}, pipeline.WithTimeout(50*time.Millisecond))
		c := pipeline.Collect(m, "out")
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.Len() != 9 {
			t.Fatalf("got %d items", c.Len())
		}
		dls := p.DeadLetters().List(nil)
		if len(dls) != 1 || dls[0].Reason != pipeline.DeadTimeout || dls[0].Item != 5 || dls[0].Attempts != 3 {
			t.Fatalf("dead letters %+v", dls)
		}
	})
}

// Dead letters can be listed by filter and replayed into their stage.
func TestReplayDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(4))
		ch := make(chan int)
		var failing atomic.Bool
		failing.Store(true)
		m := pipeline.Map(pipeline.FromChan(p, "src", ch), "m", func(_ context.Context, v int) (int, error) {
			if v%10 == 0 && failing.Load() {
				return 0, errors.New("not now")
			}
			return v, nil
		}, pipeline.WithWorkers(2))
		c := pipeline.Collect(m, "out")
		ctx := context.Background()
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			ch <- i
		}
		synctest.Wait() // everything sent was handled; the pipeline waits on ch
		poison := func(d pipeline.DeadLetter) bool { return d.Stage == "m" && d.Reason == pipeline.DeadPoison }
		if n := len(p.DeadLetters().List(poison)); n != 10 {
			t.Fatalf("%d dead letters, want 10", n)
		}
		failing.Store(false)
		n, err := p.Replay(ctx, poison)
		if err != nil || n != 10 {
			t.Fatalf("replayed %d, %v", n, err)
		}
		close(ch)
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := sortedInts(c.Items()); !slices.Equal(got, ints(100)) {
			t.Fatalf("got %d items", len(got))
		}
		if n := len(p.DeadLetters().List(nil)); n != 0 {
			t.Fatalf("%d entries still in the store", n)
		}
		if s := stats(t, p, "m"); s.In != 110 || s.DeadLettered != 10 || s.Out != 100 {
			t.Errorf("stats %+v", s)
		}
		checkAccounting(t, p)
	})
}

func TestMemoryStoreEvictsOldest(t *testing.T) {
	s := pipeline.NewMemoryStore(3)
	for i := range 5 {
		s.Add(pipeline.DeadLetter{ID: uint64(i), Stage: []string{"a", "b"}[i%2]})
	}
	if s.Len() != 3 || s.Evicted() != 2 {
		t.Fatalf("len %d evicted %d", s.Len(), s.Evicted())
	}
	ids := func(ds []pipeline.DeadLetter) (out []uint64) {
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	if got := ids(s.List(nil)); !slices.Equal(got, []uint64{2, 3, 4}) {
		t.Fatalf("list %v", got)
	}
	if got := ids(s.Take(func(d pipeline.DeadLetter) bool { return d.Stage == "a" })); !slices.Equal(got, []uint64{2, 4}) {
		t.Fatalf("take %v", got)
	}
	if got := ids(s.List(nil)); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("after take %v", got)
	}
	s.Add(pipeline.DeadLetter{ID: 9})
	if got := ids(s.List(nil)); !slices.Equal(got, []uint64{3, 9}) {
		t.Fatalf("after add %v", got)
	}
}

// A drop policy dead-letters the dropped batches with DeadDropped; the
// end of stream is never lost to it.
func TestOverflowDropIsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(1))
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
		if s := stats(t, p, "src"); s.Emitted != 50 {
			t.Fatalf("source emitted %d", s.Emitted)
		}
		close(gate)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		dropped := p.DeadLetters().List(func(d pipeline.DeadLetter) bool { return d.Reason == pipeline.DeadDropped })
		if len(dropped) == 0 || len(dropped)+c.Len() != 50 {
			t.Fatalf("%d dropped + %d delivered != 50", len(dropped), c.Len())
		}
		checkAccounting(t, p)
	})
}
