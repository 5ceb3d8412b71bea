package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

func TestMergeTeeSplit(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(16))
	a := pipeline.FromSlice(p, "a", ints(1000))
	b := pipeline.Map(pipeline.FromSlice(p, "b", ints(1000)), "b+1000", func(_ context.Context, v int) (int, error) { return v + 1000, nil }, pipeline.WithWorkers(2))
	merged := pipeline.Merge(a, b)
	copies := pipeline.Tee(merged, 2)
	all := pipeline.Collect(copies[0], "all")
	even, odd := pipeline.Split(copies[1], func(v int) bool { return v%2 == 0 })
	evens := pipeline.Collect(even, "even")
	odds := pipeline.Collect(pipeline.Map(odd, "neg", func(_ context.Context, v int) (int, error) { return -v, nil }), "odd")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if got := sortedInts(all.Items()); !slices.Equal(got, ints(2000)) {
		t.Fatalf("tee copy got %d items", len(got))
	}
	if evens.Len() != 1000 || odds.Len() != 1000 {
		t.Fatalf("split %d / %d", evens.Len(), odds.Len())
	}
	for _, v := range evens.Items() {
		if v%2 != 0 {
			t.Fatalf("odd %d in the even branch", v)
		}
	}
	checkAccounting(t, p)
}

type tagged struct {
	low bool
	v   int
}

// While a low item waits, at most ratio high items pass before it.
func TestPriorityMergeQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ratio = 4
		p := pipeline.New(pipeline.WithBatchSize(8))
		hi := make([]tagged, 20000)
		lo := make([]tagged, 2000)
		for i := range hi {
			hi[i] = tagged{v: i}
		}
		for i := range lo {
			lo[i] = tagged{low: true, v: i}
		}
		merged := pipeline.PriorityMerge(p, "prio", []pipeline.Tier[tagged]{
			{In: pipeline.FromSlice(p, "high", hi), Quota: ratio},
			{In: pipeline.FromSlice(p, "low", lo), Quota: 1},
		}, pipeline.WithBuffer(32))
		var out []tagged
		pipeline.ToFunc(merged, "sink", func(ctx context.Context, v tagged) error {
			// A slow sink: in the bubble everything else runs until it
			// blocks before the clock moves, so both lanes stay full and
			// low items are always waiting.
			time.Sleep(time.Microsecond)
			out = append(out, v)
			return nil
		}, pipeline.WithBuffer(16))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(out) != len(hi)+len(lo) {
			t.Fatalf("got %d items", len(out))
		}
		first := slices.IndexFunc(out, func(v tagged) bool { return v.low })
		lastLow := first
		for i, v := range out {
			if v.low {
				lastLow = i
			}
		}
		run, longest := 0, 0
		for _, v := range out[first : lastLow+1] {
			if v.low {
				run = 0
				continue
			}
			run++
			longest = max(longest, run)
		}
		if longest > ratio {
			t.Errorf("%d high items in a row while low ones waited; quota %d", longest, ratio)
		}
		if longest < ratio {
			t.Errorf("longest high run %d; high items were not favoured", longest)
		}
		// Per-lane order is kept.
		var lows, highs []int
		for _, v := range out {
			if v.low {
				lows = append(lows, v.v)
			} else {
				highs = append(highs, v.v)
			}
		}
		if !slices.IsSorted(lows) || !slices.IsSorted(highs) {
			t.Error("a lane's order changed")
		}
		checkAccounting(t, p)
	})
}

// Inputs come and go while the pipeline runs; everything read arrives,
// and the stream ends once closed and drained.
func TestDynamicInputs(t *testing.T) {
	p := pipeline.New(pipeline.WithBatchSize(8))
	stream, inputs := pipeline.Dynamic[int](p, "dyn")
	c := pipeline.Collect(stream, "out")
	early := make(chan int)
	if err := inputs.Add("early", early); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	chA, chB := make(chan int), make(chan int)
	if err := inputs.Add("a", chA); err != nil {
		t.Fatal(err)
	}
	if err := inputs.Add("a", chB); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("duplicate name: %v", err)
	}
	if err := inputs.Add("b", chB); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		early <- i
		chA <- 1000 + i
		chB <- 2000 + i
	}
	close(early)
	ctx := testCtx(t)
	if err := inputs.Remove(ctx, "a"); err != nil { // chA stays open: nothing reads it now
		t.Fatal(err)
	}
	if err := inputs.Remove(ctx, "a"); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("second remove: %v", err)
	}
	chC := make(chan int, 50)
	for i := range 50 {
		chC <- 3000 + i
	}
	close(chC)
	if err := inputs.Add("c", chC); err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 150; i++ {
		chB <- 2000 + i
	}
	close(chB)
	inputs.Close()
	if err := inputs.Add("late", make(chan int)); !errors.Is(err, pipeline.ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 100 {
		want = append(want, i, 1000+i)
	}
	for i := range 150 {
		want = append(want, 2000+i)
	}
	for i := range 50 {
		want = append(want, 3000+i)
	}
	if got := sortedInts(c.Items()); !slices.Equal(got, sortedInts(want)) {
		t.Fatalf("got %d items, want %d", len(got), len(want))
	}
	checkAccounting(t, p)
}
