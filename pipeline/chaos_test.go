package pipeline_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// Random panics in every kind of stage, with stages giving up and being
// restarted: every item is delivered or dead-lettered exactly once, the
// ordered stage keeps its order, the keyed sums match, and the counters
// balance.
func TestChaosEveryStageKind(t *testing.T) {
	const n = 20000
	p := pipeline.New(pipeline.WithBatchSize(32), pipeline.WithStageRestarts(100000, time.Minute))
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(7, 11))
	chaos := func() {
		rmu.Lock()
		bad := rng.Float64() < 0.03
		rmu.Unlock()
		if bad {
			panic("chaos")
		}
	}
	// Tight intensity: the stages give up now and then and are restarted
	// by the root supervisor with the items their workers held.
	sup := []pipeline.StageOption{
		pipeline.WithSupervision(strategy.OneForOne, 20, 100*time.Millisecond, strategy.Backoff{}),
		pipeline.WithGiveUp(pipeline.RestartStage),
	}
	with := func(opts ...pipeline.StageOption) []pipeline.StageOption { return append(opts, sup...) }

	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "ordered", func(_ context.Context, v int) (int, error) {
		chaos()
		return v, nil
	}, with(pipeline.WithWorkers(4), pipeline.WithOrdered(0))...)
	var order []int
	checked := pipeline.Map(m, "check", func(_ context.Context, v int) (int, error) {
		order = append(order, v) // one worker, no chaos: sees the ordered stage's output order
		return v, nil
	})
	f := pipeline.FlatMap(checked, "flat", func(_ context.Context, v int, emit func(int)) error {
		chaos()
		emit(v)
		if v%3 == 0 {
			emit(-v - 1)
		}
		return nil
	}, with(pipeline.WithWorkers(2))...)
	type sum struct{ key, total int }
	k := pipeline.Keyed(f, "keyed", pipeline.KeyedSpec[int, int, int, sum]{
		Key: func(v int) int { return (v%10 + 10) % 10 },
		Update: func(_ context.Context, _ int, s *int, v int, _ func(sum)) error {
			*s += v
			chaos() // after the update: the state must be restored
			return nil
		},
		Flush: func(key int, s *int, emit func(sum)) bool { emit(sum{key, *s}); return false },
	}, with(pipeline.WithWorkers(3))...)
	out := pipeline.Collect(k, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}

	dead := map[string]map[int]bool{}
	for _, d := range p.DeadLetters().List(nil) {
		if dead[d.Stage] == nil {
			dead[d.Stage] = map[int]bool{}
		}
		dead[d.Stage][d.Item.(int)] = true
		if d.Reason != pipeline.DeadPoison {
			t.Errorf("dead letter %+v", d)
		}
	}
	want := map[int]int{}
	prev := -1
	seen := 0
	for _, v := range order {
		if v <= prev {
			t.Fatalf("ordered stage emitted %d after %d", v, prev)
		}
		prev = v
		seen++
	}
	for v := range n {
		if dead["ordered"][v] {
			continue
		}
		if dead["flat"][v] {
			continue
		}
		outs := []int{v}
		if v%3 == 0 {
			outs = append(outs, -v-1)
		}
		for _, o := range outs {
			if !dead["keyed"][o] {
				want[(o%10+10)%10] += o
			}
		}
	}
	if seen != n-len(dead["ordered"]) {
		t.Errorf("ordered stage emitted %d items, want %d", seen, n-len(dead["ordered"]))
	}
	got := map[int]int{}
	for _, s := range out.Items() {
		got[s.key] += s.total
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("key %d: sum %d, want %d", key, got[key], w)
		}
	}
	checkAccounting(t, p)
	var restarts, stageRestarts uint64
	for _, s := range p.Stats() {
		restarts += s.Restarts
		stageRestarts += s.StageRestarts
	}
	t.Logf("%d worker restarts, %d stage restarts, %d dead letters", restarts, stageRestarts, len(p.DeadLetters().List(nil)))
	if stageRestarts == 0 {
		t.Error("no stage restarted")
	}
}
