package pipeline_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/pipeline"
)

// snapStage returns the stage named name of the only pipeline in the
// pipeline's System Snapshot.
func snapStage(t *testing.T, p *pipeline.Pipeline, name string) (observe.Snapshot, observe.Stage) {
	t.Helper()
	sys := p.System()
	if sys == nil {
		t.Fatal("no System")
	}
	snap := sys.Snapshot(context.Background(), observe.SnapshotOptions{})
	if len(snap.Pipelines) != 1 {
		t.Fatalf("%d pipelines in the snapshot, want 1", len(snap.Pipelines))
	}
	for _, s := range snap.Pipelines[0].Stages {
		if s.Name == name {
			return snap, s
		}
	}
	t.Fatalf("no stage %q in the snapshot", name)
	panic("unreachable")
}

// Fan-out skew: a hot key sends all the work to one worker. The snapshot
// shows it through uneven per-worker Received and Processed, with no
// worker busy.
func TestSnapshotShowsFanOutSkew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		p := pipeline.New(pipeline.WithName("skew"), pipeline.WithBatchSize(8))
		hold := make(chan struct{})
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(_ context.Context, v int) (int, error) {
			return v, nil
		}, pipeline.WithWorkers(4), pipeline.WithRouter(pipeline.ByKey(func(v int) int { return 0 }))) // one hot key
		pipeline.ToFunc(m, "sink", func(ctx context.Context, v int) error {
			if v == n-1 {
				<-hold // keep the pipeline running once m is done
			}
			return nil
		})
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		snap, st := snapStage(t, p, "m")
		if got := snap.Pipelines[0]; got.Name != "skew" || got.State != "running" {
			t.Errorf("pipeline %q state %q, want skew running", got.Name, got.State)
		}
		if st.Kind != "map" || st.MinWorkers != 4 || st.MaxWorkers != 4 || st.ActiveWorkers != 4 || len(st.Workers) != 4 {
			t.Fatalf("stage m: kind %q, workers %d/%d/%d, %d worker entries", st.Kind, st.ActiveWorkers, st.MinWorkers, st.MaxWorkers, len(st.Workers))
		}
		if len(st.Inputs) != 1 || st.Inputs[0] != "src" {
			t.Errorf("inputs %v, want [src]", st.Inputs)
		}
		var top, total uint64
		busy, idle := 0, 0
		for _, w := range st.Workers {
			total += w.Processed
			top = max(top, w.Processed)
			if w.Received == 0 {
				idle++
			}
			if w.Received != w.Processed || w.Queue != 0 {
				t.Errorf("worker %d: received %d, processed %d, queue %d", w.Index, w.Received, w.Processed, w.Queue)
			}
			if w.Busy || w.BusySince != nil {
				busy++
			}
			if w.Path != "/skew/m/w"+string(rune('0'+w.Index)) || w.Status != observe.StatusRunning {
				t.Errorf("worker %d: path %q status %q", w.Index, w.Path, w.Status)
			}
		}
		if total != n || top != n || idle != 3 || busy != 0 {
			t.Errorf("per-worker processed total %d (want %d), top %d (want %d), %d idle (want 3), %d busy (want 0)", total, n, top, n, idle, busy)
		}
		if st.Processed != n || st.Received != n || st.InFlight != 0 {
			t.Errorf("stage: received %d processed %d in flight %d", st.Received, st.Processed, st.InFlight)
		}
		close(hold)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		snap, _ = snapStage(t, p, "m")
		if s := snap.Pipelines[0].State; s != "done" {
			t.Errorf("state after the run %q, want done", s)
		}
	})
}

// Head-of-line blocking: one worker is stuck on an item while the others
// went idle. The snapshot shows it busy since the item started, its
// queue behind it, and the other workers idle with empty queues.
func TestSnapshotShowsHeadOfLineBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		p := pipeline.New(pipeline.WithName("hol"), pipeline.WithBatchSize(1))
		gate := make(chan struct{})
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(ctx context.Context, v int) (int, error) {
			if v == 0 {
				<-gate
			}
			return v, nil
		}, pipeline.WithWorkers(4), pipeline.WithRouter(pipeline.RoundRobin()), pipeline.WithBuffer(n))
		pipeline.Collect(m, "out")
		start := time.Now()
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute) // the fake clock: the item gets old
		synctest.Wait()
		snap, st := snapStage(t, p, "m")
		stuck := -1
		for _, w := range st.Workers {
			switch {
			case w.Busy:
				if stuck >= 0 {
					t.Errorf("workers %d and %d both busy", stuck, w.Index)
				}
				stuck = w.Index
				if w.BusySince == nil || w.BusySince.After(start) || snap.Time.Sub(*w.BusySince) < time.Minute {
					t.Errorf("stuck worker busy since %v, snapshot at %v: want a minute old", w.BusySince, snap.Time)
				}
				// Its queue counts the batch it handles (of one item).
				if w.Queue != n/4 || w.Processed != 0 {
					t.Errorf("stuck worker: queue %d processed %d, want %d and 0", w.Queue, w.Processed, n/4)
				}
			default:
				if w.BusySince != nil || w.Queue != 0 || w.Processed != n/4 {
					t.Errorf("idle worker %d: busy since %v, queue %d, processed %d; want none, 0, %d", w.Index, w.BusySince, w.Queue, w.Processed, n/4)
				}
			}
		}
		if stuck < 0 {
			t.Fatal("no worker busy")
		}
		if st.Queued != n/4 || st.InFlight != n/4 {
			t.Errorf("stage queued %d in flight %d, want %d and %d", st.Queued, st.InFlight, n/4, n/4)
		}
		close(gate)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
