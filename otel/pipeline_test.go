package troupeotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	troupeotel "github.com/troupe-go/troupe/otel"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// TestPipelineStageMetrics: a real pipeline's stage metrics, from its
// System's Snapshot, with the pipeline and stage attributes.
func TestPipelineStageMetrics(t *testing.T) {
	const n, bad = 50, 5
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := pipeline.New(pipeline.WithName("orders"))
	seen := 0 // one worker
	check := pipeline.Filter(pipeline.FromSlice(p, "src", make([]int, n)), "check", func(_ context.Context, v int) (bool, error) {
		if seen++; seen <= bad {
			return false, errors.New("bad")
		}
		return true, nil
	}, pipeline.WithRetry(1, strategy.Backoff{}))
	pipeline.Collect(check, "out")
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mp, r := newMeter(t)
	register(t, p.System(), troupeotel.WithMeterProvider(mp))
	got, _ := collect(t, r)
	attrs := func(stage string) []string {
		return []string{"troupe.system", "orders", "troupe.pipeline", "orders", "troupe.stage", stage}
	}
	for _, c := range []struct {
		name, stage string
		want        float64
	}{
		{"troupe.stage.received", "check", n},
		{"troupe.stage.emitted", "check", n - bad},
		{"troupe.stage.failures", "check", bad},
		{"troupe.stage.in_flight", "check", 0},
		{"troupe.stage.received", "out", n - bad},
	} {
		if v := value(t, got, c.name, attrs(c.stage)...); v != c.want {
			t.Errorf("%s{stage=%s} = %v, want %v", c.name, c.stage, v, c.want)
		}
	}
}
