package prom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/prom"
	"github.com/troupe-go/troupe/strategy"
)

// TestPipelineStages: the stage metrics of a real pipeline's System, read
// at scrape time (while it runs and after it ended), with the pipeline
// and stage names as labels.
func TestPipelineStages(t *testing.T) {
	const n, bad = 100, 7
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	p := pipeline.New(pipeline.WithName("orders"), pipeline.WithBatchSize(1))
	parse := pipeline.Map(pipeline.FromSlice(p, "src", make([]int, n)), "parse", func(_ context.Context, v int) (int, error) {
		return v, nil
	}, pipeline.WithWorkers(2))
	seen := 0 // one worker
	check := pipeline.Filter(parse, "check", func(_ context.Context, v int) (bool, error) {
		seen++
		if seen <= bad {
			return false, errors.New("bad")
		}
		return true, nil
	}, pipeline.WithRetry(1, strategy.Backoff{}))
	hold, atEnd := make(chan struct{}), make(chan struct{})
	stored := 0 // one worker
	pipeline.ToFunc(check, "store", func(ctx context.Context, v int) error {
		if stored++; stored == n-bad {
			close(atEnd)
			<-hold // scrape while the pipeline runs
		}
		return nil
	})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-atEnd:
	case <-ctx.Done():
		close(hold)
		t.Fatal("the sink did not reach its last item")
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(prom.NewCollector(p.System())); err != nil {
		t.Fatal(err)
	}
	st := func(stage string) map[string]string {
		return map[string]string{"troupe_system": "orders", "troupe_pipeline": "orders", "troupe_stage": stage}
	}
	mfs, err := reg.Gather()
	close(hold)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := value(mfs, "troupe_stage_in_flight", st("store")); !ok || got != 1 {
		t.Errorf("while the sink holds its last item: troupe_stage_in_flight{store} = %v (present %v); want 1", got, ok)
	}
	if got, ok := value(mfs, "troupe_stage_received_total", st("store")); !ok || got != n-bad {
		t.Errorf("while running: troupe_stage_received_total{store} = %v (present %v); want %d", got, ok, n-bad)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if mfs, err = reg.Gather(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stage string
		want  float64
	}{
		{"troupe_stage_received_total", "parse", n},
		{"troupe_stage_emitted_total", "parse", n},
		{"troupe_stage_received_total", "check", n},
		{"troupe_stage_failures_total", "check", bad},
		{"troupe_stage_emitted_total", "check", n - bad},
		{"troupe_stage_in_flight", "check", 0},
		{"troupe_stage_in_flight", "store", 0},
		{"troupe_stage_received_total", "store", n - bad},
	}
	for _, c := range cases {
		got, ok := value(mfs, c.name, st(c.stage))
		if !ok || got != c.want {
			t.Errorf("%s{stage=%s} = %v (present %v); want %v", c.name, c.stage, got, ok, c.want)
		}
	}
	// Blocked time counts only waits for room (a send that finds room is
	// not timed), and this run need not wait: the series must be there.
	if got, ok := value(mfs, "troupe_stage_blocked_time_seconds_total", st("src")); !ok || got < 0 {
		t.Errorf("troupe_stage_blocked_time_seconds_total{src} = %v (present %v); want a series >= 0", got, ok)
	}
}
