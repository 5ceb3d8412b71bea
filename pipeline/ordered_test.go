package pipeline_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// An ordered stage emits in input order whatever order its workers
// finish in, with filtering and flat-mapping too.
func TestOrderedRandomWork(t *testing.T) {
	const n = 20000
	p := pipeline.New(pipeline.WithBatchSize(16))
	work := func(v int) {
		if r := rand.IntN(100); r < 2 {
			time.Sleep(time.Duration(r+1) * 100 * time.Microsecond)
		} else {
			for i := range r * 20 {
				_ = i * v
			}
		}
	}
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(_ context.Context, v int) (int, error) {
		work(v)
		return v, nil
	}, pipeline.WithWorkers(4), pipeline.WithOrdered(0))
	f := pipeline.FlatMap(m, "f", func(_ context.Context, v int, emit func(int)) error {
		work(v)
		for i := range v % 3 { // 0, 1 or 2 outputs
			emit(v*10 + i)
		}
		return nil
	}, pipeline.WithWorkers(3), pipeline.WithOrdered(64))
	c := pipeline.Collect(f, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	var want []int
	for v := range n {
		for i := range v % 3 {
			want = append(want, v*10+i)
		}
	}
	if got := c.Items(); !slices.Equal(got, want) {
		t.Fatalf("got %d items out of order or missing (want %d)", len(got), len(want))
	}
	checkAccounting(t, p)
}

// The reorder window bounds what waits for a slow item: once full, the
// producers wait.
func TestOrderedWindowPushesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 64
		p := pipeline.New(pipeline.WithBatchSize(8))
		var emitted atomic.Int64
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			for i := range 10000 {
				if err := emit(i); err != nil {
					return err
				}
				emitted.Add(1)
			}
			return nil
		})
		gate := make(chan struct{})
		m := pipeline.Map(src, "m", func(_ context.Context, v int) (int, error) {
			if v == 0 {
				<-gate
			}
			return v, nil
		}, pipeline.WithWorkers(4), pipeline.WithOrdered(window))
		c := pipeline.Collect(m, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// Item 0 holds its batch; the other batches were handled and wait
		// in the reorder buffer, none of it passed on; the window is full
		// and the source waits with at most one batch in hand.
		s := stats(t, p, "m")
		if s.In != window || s.Emitted < window/2 || c.Len() != 0 {
			t.Errorf("with item 0 stuck: %d items in the stage, %d done, %d out; want %d, >= %d, 0", s.In, s.Emitted, c.Len(), window, window/2)
		}
		if e := emitted.Load(); e > window+8 {
			t.Errorf("the source emitted %d items past a full window of %d", e, window)
		}
		close(gate)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Items(), ints(10000)) {
			t.Fatal("out of order")
		}
	})
}
