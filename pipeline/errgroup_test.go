package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/supervisor"
)

// errgroupRig is a supervisor tree and a running pipeline, members of one
// errgroup (the pattern of docs/getting-started.md, "In an errgroup").
type errgroupRig struct {
	sys  *actor.System
	sup  *supervisor.Supervisor
	p    *pipeline.Pipeline
	ref  actor.Ref[bool] // the supervised worker: true makes it fail
	g    *errgroup.Group
	seen chan int // what the pipeline's sink got
}

func newErrgroupRig(t *testing.T, parent context.Context) *errgroupRig {
	t.Helper()
	r := &errgroupRig{sys: actor.NewSystem(), seen: make(chan int, 16)}
	t.Cleanup(func() {
		if err := r.sys.Shutdown(context.Background()); err != nil {
			t.Errorf("system shutdown: %v", err)
		}
	})
	var err error
	r.sup, err = supervisor.Start(r.sys, "service", []supervisor.ChildSpec{
		supervisor.NewWorker("worker", func() actor.Actor[bool] {
			return actor.Func[bool](func(_ actor.Context, fail bool) error {
				if fail {
					return errors.New("worker: broken")
				}
				return nil
			})
		}),
	}, supervisor.WithIntensity(0, time.Second)) // the first failure makes it give up
	if err != nil {
		t.Fatal(err)
	}
	r.ref, _ = supervisor.LookupChild[bool](r.sup, "worker")

	in := make(chan int) // never closed: the pipeline runs until stopped
	r.p = pipeline.New(pipeline.WithName("ingest"))
	pipeline.ToFunc(pipeline.FromChan(r.p, "in", in), "sink", func(_ context.Context, v int) error {
		r.seen <- v
		return nil
	})
	var ctx context.Context
	r.g, ctx = errgroup.WithContext(parent)
	r.g.Go(func() error { return r.sup.Run(ctx) })
	r.g.Go(func() error { return r.p.Run(ctx) })
	in <- 1 // the pipeline runs
	if v := <-r.seen; v != 1 {
		t.Fatalf("sink got %d; want 1", v)
	}
	return r
}

// checkStopped checks that both members stopped and the pipeline kept
// its books.
func (r *errgroupRig) checkStopped(t *testing.T, wantPipeline error) {
	t.Helper()
	select {
	case <-r.sup.Done():
	default:
		t.Error("the supervisor still runs after g.Wait")
	}
	if err := r.p.Wait(context.Background()); !errors.Is(err, wantPipeline) {
		t.Errorf("pipeline: %v; want %v", err, wantPipeline)
	}
	checkAccounting(t, r.p)
	if s := stats(t, r.p, "sink"); s.Out != 1 {
		t.Errorf("sink out %d; want 1", s.Out)
	}
}

// The parent context is cancelled: the supervisor and the pipeline stop,
// and g.Wait returns context.Canceled.
func TestErrgroupCancelStopsBoth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := newErrgroupRig(t, parent)
		cancel()
		if err := r.g.Wait(); !errors.Is(err, context.Canceled) {
			t.Fatalf("g.Wait: %v; want context.Canceled", err)
		}
		r.checkStopped(t, context.Canceled)
		if err := r.sup.Wait(context.Background()); err != nil {
			t.Errorf("supervisor Wait: %v; want nil (stopped)", err)
		}
	})
}

// The supervisor gives up: the group cancels the pipeline, and g.Wait
// returns the *GaveUpError.
func TestErrgroupGaveUpCancelsPipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newErrgroupRig(t, context.Background())
		if err := r.ref.Tell(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		err := r.g.Wait()
		var gu *supervisor.GaveUpError
		if !errors.As(err, &gu) || !errors.Is(err, supervisor.ErrGaveUp) || gu.Child != "worker" {
			t.Fatalf("g.Wait: %v; want the supervisor's *GaveUpError for child worker", err)
		}
		r.checkStopped(t, context.Canceled)
	})
}
