package pipeline_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// An item whose attempt fails because the pipeline is aborting is not a
// failure: it is dead-lettered as stopped, with no error counted.
func TestStopMidBatchIsNoFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := pipeline.New(pipeline.WithBatchSize(4))
	in := make(chan struct{})
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(8)), "m", func(ctx context.Context, v int) (int, error) {
		if v == 1 {
			close(in)
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return v, nil
	})
	pipeline.Collect(m, "out")
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, in, "item 1")
	cancel()
	if err := p.Wait(testCtx(t)); err == nil {
		t.Fatal("an aborted pipeline returned nil")
	}
	s := stats(t, p, "m")
	if s.Errors != 0 || s.DeadLettered != s.Stopped || s.Stopped == 0 {
		t.Errorf("stage m: %d errors, %d dead-lettered, %d stopped; want 0 errors, all dead letters stopped", s.Errors, s.DeadLettered, s.Stopped)
	}
	checkAccounting(t, p)
}

// A rescued batch (its stage was restarted) whose item is interrupted
// again by another stage restart is not a failure of its worker: only
// the panics that caused the restarts count.
func TestRescuedBatchInterruptedIsNoFailure(t *testing.T) {
	var mu sync.Mutex
	failed := map[string]int{}
	p := pipeline.New(pipeline.WithBatchSize(1), pipeline.WithStageRestarts(5, time.Minute), pipeline.WithEvents(func(e actor.Event) {
		if e.Kind == actor.EventFailed {
			mu.Lock()
			failed[e.Path]++
			mu.Unlock()
		}
	}))
	inZero := make(chan int, 3)
	var zeroCalls, oneCalls, threeCalls atomic.Int32
	m := pipeline.Map(pipeline.FromSlice(p, "src", ints(8)), "m", func(ctx context.Context, v int) (int, error) {
		switch v {
		case 0: // on one worker: interrupted twice by the restarts, then done
			n := zeroCalls.Add(1)
			if n <= 2 {
				inZero <- int(n)
				<-ctx.Done()
				return 0, ctx.Err()
			}
		case 1: // on the other worker: panics once item 0 runs
			if oneCalls.Add(1) == 1 {
				if <-inZero != 1 {
					panic("unexpected order")
				}
				panic("boom 1")
			}
		case 3: // on the other: panics once item 0 runs again, on a rescued batch
			if threeCalls.Add(1) == 1 {
				if <-inZero != 2 {
					panic("unexpected order")
				}
				panic("boom 3")
			}
		}
		return v, nil
	}, pipeline.WithWorkers(2), pipeline.WithRouter(pipeline.RoundRobin()),
		// Each panic makes the stage supervisor give up and the stage
		// restart: the new workers get the old ones' batches rescued.
		pipeline.WithSupervision(strategy.OneForOne, 0, time.Minute, strategy.Backoff{}), pipeline.WithGiveUp(pipeline.RestartStage))
	c := pipeline.Collect(m, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8 {
		t.Fatalf("%d items out, want 8", c.Len())
	}
	s := stats(t, p, "m")
	if s.Errors != 2 || s.DeadLettered != 0 {
		t.Errorf("stage m: %d errors, %d dead-lettered; want the 2 panics and 0", s.Errors, s.DeadLettered)
	}
	checkAccounting(t, p)
	mu.Lock()
	if len(failed) != 1 || failed["/pipeline/m/w0"]+failed["/pipeline/m/w1"] != 2 {
		t.Errorf("failure events by actor %v, want the 2 panics of one worker", failed)
	}
	mu.Unlock()
	// Per worker: the one that panicked has its 2 failures, the one
	// interrupted none.
	snap := p.System().Snapshot(context.Background(), observe.SnapshotOptions{})
	for _, st := range snap.Pipelines[0].Stages {
		if st.Name != "m" {
			continue
		}
		if f0, f1 := st.Workers[0].Failures, st.Workers[1].Failures; f0+f1 != 2 || f0*f1 != 0 {
			t.Errorf("worker failures %d and %d, want 2 and 0", f0, f1)
		}
	}
}
