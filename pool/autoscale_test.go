package pool_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/route"
)

// A burst of jobs that one worker cannot keep up with makes the pool grow;
// once the burst is done it shrinks back to Min. Every job is done.
func TestAutoscaleGrowsAndShrinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem()
		defer sys.Shutdown(context.Background())
		done := make(chan struct{}, 4000)
		p, err := pool.New(sys, "auto", func() actor.Actor[job] {
			return actor.Func[job](func(actor.Context, job) error {
				time.Sleep(time.Millisecond) // the work: 1000 jobs/s per worker
				done <- struct{}{}
				return nil
			})
		}, pool.WithAutoscale(route.Scale{Min: 1, Max: 4, Every: 10 * time.Millisecond}), pool.WithMailbox(64))
		if err != nil {
			t.Fatal(err)
		}
		if p.Size() != 1 {
			t.Fatalf("Size %d at start; want Min 1", p.Size())
		}
		ctx := context.Background()
		peak := 1
		for i := range 4000 {
			if err := p.Tell(ctx, job{id: i}); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, p.Size())
		}
		for range 4000 {
			<-done
		}
		if peak < 3 {
			t.Errorf("the pool grew to %d workers under load; want at least 3", peak)
		}
		time.Sleep(2 * time.Second) // idle: 5 samples in a row per step down
		st := p.Stats()
		if st.Active != 1 || st.ScaleUps == 0 || st.ScaleDowns != st.ScaleUps {
			t.Errorf("after the burst: %d active, %d ups, %d downs; want back to 1", st.Active, st.ScaleUps, st.ScaleDowns)
		}
		var processed uint64
		for _, w := range st.Workers {
			processed += w.Processed
		}
		if processed != 4000 {
			t.Errorf("%d jobs processed; want 4000", processed)
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Resize(2); err == nil {
			t.Errorf("Resize of an autoscaled pool: got nil; want ErrInvalid")
		}
	})
}
