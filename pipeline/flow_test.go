package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/pipeline"
)

// A slow sink slows the source down: at every quiescent point, the items
// the source emitted minus those the sink consumed stay within the sum
// of the configured capacities.
func TestBackpressureSlowSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			batch   = 8
			buffer  = 32 // items per worker mailbox: 4 batches
			workers = 3
		)
		p := pipeline.New(pipeline.WithBatchSize(batch))
		var emitted, consumed atomic.Int64
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			for i := 0; ; i++ {
				if err := emit(i); err != nil {
					return err
				}
				emitted.Add(1)
			}
		})
		m := pipeline.Map(src, "m", func(_ context.Context, v int) (int, error) { return v, nil },
			pipeline.WithWorkers(workers), pipeline.WithBuffer(buffer))
		tokens := make(chan struct{})
		pipeline.ToFunc(m, "sink", func(ctx context.Context, v int) error {
			select {
			case <-tokens:
			case <-ctx.Done():
				return ctx.Err()
			}
			consumed.Add(1)
			return nil
		}, pipeline.WithBuffer(buffer))
		// What the pipeline may hold: the source's pending batch; per map
		// worker its mailbox, the batch in hand and one output batch
		// blocked on the sink; the sink's mailbox and batch in hand.
		capB := int64((buffer + batch - 1) / batch)
		bound := batch + workers*(capB+2)*batch + (capB+1)*batch
		ctx, cancel := context.WithCancel(context.Background())
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		maxHeld := int64(0)
		for i := 0; i < 2000; i++ {
			synctest.Wait() // everyone is blocked: the source on a full pipeline
			held := emitted.Load() - consumed.Load()
			if held > bound {
				t.Fatalf("after %d items: %d held, bound %d", consumed.Load(), held, bound)
			}
			maxHeld = max(maxHeld, held)
			tokens <- struct{}{}
		}
		if maxHeld < bound/2 {
			t.Errorf("at most %d held; the buffers never filled (bound %d)", maxHeld, bound)
		}
		cancel()
		if err := p.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		checkAccounting(t, p)
	})
}

// Cancelling the context stops a busy pipeline quickly, leaks no
// goroutine, and dead-letters what was in flight as stopped.
func TestCancelMidStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := pipeline.New(pipeline.WithBatchSize(32))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	m := pipeline.Map(src, "m", func(_ context.Context, v int) (int, error) { return v * 2, nil }, pipeline.WithWorkers(4))
	blocked := pipeline.Map(m, "blocking", func(ctx context.Context, v int) (int, error) {
		if v == 2*5000 {
			<-ctx.Done() // user code that only returns when told to stop
			return 0, ctx.Err()
		}
		return v, nil
	}, pipeline.WithWorkers(2))
	var n atomic.Int64
	pipeline.ToFunc(blocked, "sink", func(context.Context, int) error {
		if n.Add(1) == 20000 {
			cancel()
		}
		return nil
	})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	start := time.Now()
	if err := p.Wait(testCtx(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopping took %v", d)
	}
	checkAccounting(t, p)
	stopped := uint64(0)
	for _, s := range p.Stats() {
		stopped += s.Stopped
	}
	if stopped == 0 {
		t.Error("nothing was dead-lettered as stopped")
	}
}

// Stop drains gracefully: the source stops reading, everything it read
// reaches the sink, and Wait returns nil.
func TestGracefulDrain(t *testing.T) {
	p := pipeline.New()
	ch := make(chan int)
	quit := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := 0; ; i++ {
			select {
			case ch <- i:
			case <-quit:
				return
			}
		}
	}()
	m := pipeline.Map(pipeline.FromChan(p, "src", ch), "m", func(_ context.Context, v int) (int, error) { return v, nil }, pipeline.WithWorkers(3))
	var got atomic.Int64
	reached := make(chan struct{})
	pipeline.ToFunc(m, "sink", func(context.Context, int) error {
		if got.Add(1) == 5000 {
			close(reached)
		}
		return nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(t, reached, "5000 items")
	if err := p.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(quit)
	<-producerDone
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, p, "src"); uint64(got.Load()) != s.Out || s.Out < 5000 {
		t.Fatalf("source read %d, sink got %d", s.Out, got.Load())
	}
	checkAccounting(t, p)
	if n := len(p.DeadLetters().List(nil)); n != 0 {
		t.Fatalf("%d dead letters after a clean drain", n)
	}
}

// A drain that cannot finish in time cancels the pipeline.
func TestDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		stuck := pipeline.Map(pipeline.FromSlice(p, "src", ints(100)), "stuck", func(ctx context.Context, v int) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		pipeline.Collect(stuck, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := p.Stop(ctx)
		if !errors.Is(err, pipeline.ErrDrainTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("stopped after %v", d)
		}
		if err2 := p.Wait(context.Background()); err2 != err {
			t.Fatalf("Wait returned %v, Stop %v", err2, err)
		}
		checkAccounting(t, p)
		if s := stats(t, p, "stuck"); s.Stopped != 100 {
			t.Errorf("stats %+v", s)
		}
	})
}

// Cancelling a pipeline that uses every kind of node stops it, leaks no
// goroutine, and leaves every stage's counters balanced.
func TestCancelEveryNodeKind(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := pipeline.New(pipeline.WithBatchSize(16))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := pipeline.FromFunc(p, "gen", func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	dyn, inputs := pipeline.Dynamic[int](p, "dyn")
	quit := make(chan struct{})
	producers := make(chan struct{}, 2)
	for _, name := range []string{"x", "y"} {
		ch := make(chan int)
		if err := inputs.Add(name, ch); err != nil {
			t.Fatal(err)
		}
		go func() { // Owner: this test; it ends when quit is closed.
			defer func() { producers <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case ch <- -i:
				case <-quit:
					return
				}
			}
		}()
	}
	merged := pipeline.PriorityMerge(p, "prio", []pipeline.Tier[int]{{In: src, Quota: 3}, {In: dyn, Quota: 1}})
	ordered := pipeline.Map(merged, "ordered", func(_ context.Context, v int) (int, error) { return v, nil },
		pipeline.WithWorkers(3), pipeline.WithOrdered(0))
	batches := pipeline.Chunk(ordered, "chunk", 10, time.Millisecond, pipeline.WithWorkers(2))
	flat := pipeline.FlatMap(batches, "flat", func(_ context.Context, b []int, emit func(int)) error {
		for _, v := range b {
			emit(v)
		}
		return nil
	})
	sums := pipeline.Keyed(flat, "keyed", pipeline.KeyedSpec[int, int, int, int]{
		Key:        func(v int) int { return (v%5 + 5) % 5 },
		Update:     func(_ context.Context, _ int, s *int, v int, emit func(int)) error { *s += v; emit(v); return nil },
		FlushEvery: time.Millisecond,
	}, pipeline.WithWorkers(2))
	copies := pipeline.Tee(sums, 2)
	out := make(chan int)
	pipeline.ToChan(copies[0], "chan", out)
	consumed := make(chan struct{})
	go func() { // Owner: this test; it ends when the pipeline closes out.
		defer close(consumed)
		for range out {
		}
	}()
	var n atomic.Int64
	pipeline.ToFunc(copies[1], "count", func(context.Context, int) error {
		if n.Add(1) == 30000 {
			cancel()
		}
		return nil
	})
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(quit)
	<-producers
	<-producers
	<-consumed
	checkAccounting(t, p)
}
