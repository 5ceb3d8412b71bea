package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// WithSeed makes the jittered retry schedule reproducible: the same seed
// gives the same delays, another seed other delays.
func TestRetrySeedReproducible(t *testing.T) {
	schedule := func(seed uint64) [][]time.Duration {
		var out [][]time.Duration
		synctest.Test(t, func(t *testing.T) {
			p := pipeline.New(pipeline.WithSeed(seed))
			log := newAttemptLog()
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(3)), "m", func(_ context.Context, v int) (int, error) {
				if log.add(v) < 4 {
					return 0, errors.New("again")
				}
				return v, nil
			}, pipeline.WithRetry(4, strategy.Backoff{Min: 10 * time.Millisecond, Max: time.Second, Jitter: 0.5}))
			pipeline.Collect(m, "out")
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			for v := range 3 {
				out = append(out, log.gaps(v))
			}
		})
		return out
	}
	a, b, c := schedule(7), schedule(7), schedule(8)
	eq := func(x, y [][]time.Duration) bool { return slices.EqualFunc(x, y, slices.Equal) }
	if !eq(a, b) {
		t.Errorf("seed 7 gave %v, then %v", a, b)
	}
	if eq(a, c) {
		t.Errorf("seeds 7 and 8 gave the same delays %v", a)
	}
}
