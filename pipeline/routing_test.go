package pipeline_test

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// workerOf returns the path of the worker actor running the stage
// function that got ctx.
func workerOf(ctx context.Context) string { return ctx.(actor.Context).Path() }

// perWorker runs n items through a 4-worker map with router r and counts
// the items each worker handled.
func perWorker(t *testing.T, r pipeline.Router, n, batch int) map[string]int {
	p := pipeline.New(pipeline.WithBatchSize(batch))
	var mu sync.Mutex
	counts := map[string]int{}
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(ctx context.Context, v int) (int, error) {
		mu.Lock()
		counts[workerOf(ctx)]++
		mu.Unlock()
		return v, nil
	}, pipeline.WithWorkers(4), pipeline.WithRouter(r))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if c.Len() != n {
		t.Fatalf("got %d items", c.Len())
	}
	checkAccounting(t, p)
	return counts
}

func TestWeightedRoutingRatios(t *testing.T) {
	const n = 100000
	counts := perWorker(t, pipeline.Weighted(1, 2, 3, 4), n, 16)
	for i, w := range []int{1, 2, 3, 4} {
		got := float64(counts["/pipeline/m/w"+string(rune('0'+i))]) / n
		want := float64(w) / 10
		if math.Abs(got-want) > 0.01 {
			t.Errorf("worker %d got %.3f of the items, want %.3f ± 0.01", i, got, want)
		}
	}
}

func TestRoundRobinRouting(t *testing.T) {
	const n = 40000
	counts := perWorker(t, pipeline.RoundRobin(), n, 10)
	for w, c := range counts {
		if math.Abs(float64(c)-n/4) > 10 {
			t.Errorf("%s got %d items, want %d ± one batch", w, c, n/4)
		}
	}
}

// Items with equal keys always reach the same worker, in the order their
// producer emitted them, even with several producers upstream.
func TestKeyRoutingSticks(t *testing.T) {
	const n, keys = 50000, 37
	p := pipeline.New(pipeline.WithBatchSize(32))
	key := func(v int) int { return v % keys }
	up := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "up", func(_ context.Context, v int) (int, error) { return v, nil },
		pipeline.WithWorkers(3), pipeline.WithRouter(pipeline.ByKey(key)))
	var mu sync.Mutex
	where := map[int]map[string]bool{}
	last := map[int]int{}
	outOfOrder := 0
	m := pipeline.Map(up, "keyed", func(ctx context.Context, v int) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		k := key(v)
		if where[k] == nil {
			where[k] = map[string]bool{}
		}
		where[k][workerOf(ctx)] = true
		if prev, ok := last[k]; ok && v < prev {
			outOfOrder++
		}
		last[k] = v
		return v, nil
	}, pipeline.WithWorkers(4), pipeline.WithRouter(pipeline.ByKey(key)))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if c.Len() != n {
		t.Fatalf("got %d items", c.Len())
	}
	for k, ws := range where {
		if len(ws) != 1 {
			t.Errorf("key %d reached %d workers", k, len(ws))
		}
	}
	if len(where) != keys {
		t.Errorf("saw %d keys", len(where))
	}
	// Keys route to one upstream worker too, so each key has a single
	// producer and keeps its order.
	if outOfOrder != 0 {
		t.Errorf("%d items of a key arrived out of order", outOfOrder)
	}
	checkAccounting(t, p)
}

// A worker stuck on one item does not stall a least-loaded stage: the
// producers send to the workers that have room.
func TestLeastLoadedAvoidsStuckWorker(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(4))
	release := make(chan struct{})
	stuck := make(chan struct{})
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(20000)), "m", func(ctx context.Context, v int) (int, error) {
		if v == 0 {
			close(stuck)
			<-release
		}
		return v, nil
	}, pipeline.WithWorkers(3), pipeline.WithBuffer(8))
	var n int
	done := make(chan struct{})
	pipeline.ToFunc(m, "sink", func(context.Context, int) error {
		if n++; n == 19000 {
			close(done)
		}
		return nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(t, stuck, "the stuck worker")
	wait(t, done, "19000 items past the stuck worker")
	close(release)
	if err := p.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, p)
}
