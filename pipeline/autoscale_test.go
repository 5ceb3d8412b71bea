package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// Items arrive at 333/s and a worker handles 100/s: the autoscaler
// goes from 1 worker to the 4 it takes to keep up, and stays there.
func TestAutoscalerConvergesWithoutOscillating(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(16))
		ctx, cancel := context.WithCancel(context.Background())
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			tk := time.NewTicker(3 * time.Millisecond)
			defer tk.Stop()
			for i := 0; ; i++ {
				select {
				case <-tk.C:
				case <-ctx.Done():
					return ctx.Err()
				}
				if err := emit(i); err != nil {
					return err
				}
			}
		})
		m := pipeline.Map(src, "work", func(ctx context.Context, v int) (int, error) {
			time.Sleep(10 * time.Millisecond)
			return v, nil
		}, pipeline.WithAutoscale(pipeline.Scale{Min: 1, Max: 8}), pipeline.WithBuffer(256))
		pipeline.ToFunc(m, "sink", func(context.Context, int) error { return nil })
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var history []int
		for range 150 { // 30 s, sampled every 200 ms
			time.Sleep(200 * time.Millisecond)
			history = append(history, stats(t, p, "work").Workers)
		}
		s := stats(t, p, "work")
		cancel()
		if err := p.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if s.Workers != 4 {
			t.Errorf("settled on %d workers, want 4; history %v", s.Workers, history)
		}
		changes := 0
		for i := 1; i < len(history); i++ {
			if history[i] != history[i-1] {
				changes++
			}
		}
		for _, n := range history[len(history)/2:] {
			if n != history[len(history)-1] {
				t.Errorf("still changing in the second half: %v", history)
				break
			}
		}
		if s.ScaleDowns > 1 || changes > 4 {
			t.Errorf("%d ups, %d downs, %d changes: oscillation? %v", s.ScaleUps, s.ScaleDowns, changes, history)
		}
		t.Logf("%d ups, %d downs; history %v", s.ScaleUps, s.ScaleDowns, history[:20])
	})
}
