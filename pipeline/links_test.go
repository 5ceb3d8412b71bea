package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// A FromRef source pushes back: with the pipeline stuck, its Ref fills,
// TryTell fails with ErrFull and Tell waits until its ctx ends; once the
// pipeline drains, Tell goes through; Close ends the stream after every
// accepted item, and later items are dead-lettered, not lost.
func TestFromRefBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(2))
		src, inlet := pipeline.FromRef[int](p, "in", 2)
		gate := make(chan struct{})
		c := pipeline.Collect(pipeline.Map(src, "slow", func(ctx context.Context, v int) (int, error) {
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return v, nil
		}, pipeline.WithBuffer(2)), "out")
		if err := inlet.Close(context.Background()); !errors.Is(err, pipeline.ErrNotRunning) {
			t.Fatalf("Close before Start: got %v; want ErrNotRunning", err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ref := inlet.Ref()
		sent := 0
		for ; sent < 1000; sent++ {
			synctest.Wait() // the pipeline moves what it can
			if err := ref.TryTell(sent); err != nil {
				if !errors.Is(err, actor.ErrFull) {
					t.Fatalf("TryTell: got %v; want ErrFull", err)
				}
				break
			}
		}
		if sent == 1000 {
			t.Fatal("the Ref never filled up")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := ref.Tell(ctx, sent); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Tell on a full source: got %v; want it to wait until its ctx ended", err)
		}
		cancel()
		close(gate)
		if err := ref.Tell(context.Background(), sent); err != nil {
			t.Fatalf("Tell after draining: %v", err)
		}
		sent++
		if err := inlet.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		wantItems(t, c.Items(), ints(sent))
		checkAccounting(t, p)
		if s := stats(t, p, "in"); s.In != uint64(sent) || s.DeadLettered != 0 {
			t.Errorf("source: in %d, dead %d; want %d, 0", s.In, s.DeadLettered, sent)
		}
		if err := ref.Tell(context.Background(), -1); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell after the run: got %v; want ErrStopped", err)
		}
	})
}

// sinkMsg is what the acking actor gets from ToRef.
type sinkMsg struct {
	v   int
	ack func(error)
}

// ToRef: in flight is bounded by the workers; an item is out only when
// acknowledged; a nack is a failed attempt (retried, then poison); the
// accounting holds across the boundary.
func TestToRefAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers, n = 3, 30
		sys := actor.NewSystem()
		defer func() { _ = sys.Shutdown(context.Background()) }()
		var mu sync.Mutex
		var held []sinkMsg
		var maxHeld int
		nacks := map[int]int{}
		ref, err := actor.Spawn(sys, "acker", func() actor.Actor[sinkMsg] {
			return actor.Func[sinkMsg](func(_ actor.Context, m sinkMsg) error {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case m.v == 7: // always refused: poison after 3 attempts
					m.ack(errors.New("refused"))
				case m.v == 5 && nacks[5] < 2: // refused twice, then taken
					nacks[5]++
					m.ack(errors.New("not yet"))
				default:
					held = append(held, m) // acknowledged later, by the test
					maxHeld = max(maxHeld, len(held))
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		cp := &memCP{}
		p := pipeline.New(pipeline.WithBatchSize(4))
		src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
			for i := int(from); i < n; i++ {
				if err := emit(i, uint64(i+1)); err != nil {
					return err
				}
			}
			return nil
		})
		pipeline.ToRef(src, "deliver", ref, func(v int, ack func(error)) sinkMsg { return sinkMsg{v, ack} },
			pipeline.WithWorkers(workers), pipeline.WithRetry(3, strategy.Backoff{}))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		acked := 0
		for {
			synctest.Wait()
			mu.Lock()
			batch := held
			held = nil
			mu.Unlock()
			if len(batch) == 0 {
				break
			}
			if len(batch) > workers {
				t.Fatalf("%d items in flight; want at most %d", len(batch), workers)
			}
			// Not acknowledged: not out (counters are added per batch,
			// so Out may lag behind the acks, never run ahead).
			if s := stats(t, p, "deliver"); s.Out > uint64(acked) {
				t.Fatalf("out %d with %d acknowledged", s.Out, acked)
			}
			for _, m := range batch {
				m.ack(nil)
				m.ack(errors.New("a second ack is ignored"))
			}
			acked += len(batch)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if maxHeld != workers {
			t.Errorf("at most %d in flight; want the %d workers busy", maxHeld, workers)
		}
		s := stats(t, p, "deliver")
		if s.In != n || s.Out != n-1 || s.DeadLettered != 1 || acked != n-1 {
			t.Errorf("deliver: in %d out %d dead %d, acked %d; want %d, %d, 1, %d", s.In, s.Out, s.DeadLettered, acked, n, n-1, n-1)
		}
		dls := p.DeadLetters().List(nil)
		if len(dls) != 1 || dls[0].Item != 7 || dls[0].Attempts != 3 || dls[0].Reason != pipeline.DeadPoison {
			t.Errorf("dead letters: %+v; want item 7, poison after 3 attempts", dls)
		}
		checkAccounting(t, p)
		if cp.last() != n {
			t.Errorf("checkpoint %d; want %d (everything done)", cp.last(), n)
		}
	})
}

// An Inlet's Ref is one Ref for every run: kept from before the first
// run, it refuses items until a run starts, delivers to each run's inlet
// actor, and between runs refuses like the Ref of an ended actor.
func TestFromRefStableAcrossRuns(t *testing.T) {
	p := pipeline.New()
	src, inlet := pipeline.FromRef[int](p, "in", 4)
	c := pipeline.Collect(src, "out")
	ref := inlet.Ref() // taken once, before the first run
	ctx := context.Background()
	if err := ref.Tell(ctx, -1); !errors.Is(err, pipeline.ErrNotRunning) {
		t.Fatalf("Tell before the first run: got %v; want ErrNotRunning", err)
	}
	if err := ref.TryTell(-1); !errors.Is(err, pipeline.ErrNotRunning) {
		t.Fatalf("TryTell before the first run: got %v; want ErrNotRunning", err)
	}
	var paths []string
	var want []int
	for run := range 3 {
		if run == 0 {
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
		} else if err := p.Rerun(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := ref.Tell(ctx, 10*run+i); err != nil {
				t.Fatalf("run %d: Tell through the first Ref: %v", run, err)
			}
		}
		paths = append(paths, ref.Path())
		if err := inlet.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		want = append(want, 10*run, 10*run+1, 10*run+2) // Collect keeps what every run delivered
		wantItems(t, c.Items(), want)
		checkAccounting(t, p)
		if err := ref.Tell(ctx, -2); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("run %d: Tell after the run: got %v; want ErrStopped", run, err)
		}
		if s := ref.Stats(); s.Accepted != 3 {
			t.Errorf("run %d: the Ref's Stats are not the run's inlet's: accepted %d, want 3", run, s.Accepted)
		}
	}
	if paths[0] == "" || paths[0] != paths[1] || paths[1] != paths[2] {
		t.Errorf("inlet paths across runs = %q; want one non-empty path", paths)
	}
}
