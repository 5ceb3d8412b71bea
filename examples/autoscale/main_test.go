package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAutoscale runs the example in a synctest bubble, where the work and
// the source's pacing take virtual time, so the autoscaler's samples see
// the same queues on every run: the stage grows one worker at a time to
// Max during the burst and shrinks one at a time to Min during the
// trickle, without oscillating, and every job arrives once.
func TestAutoscale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		report(&out, res)
		t.Log("\n" + out.String())

		if want := []int{1, 2, 3, 4, 3, 2, 1}; !slices.Equal(res.Workers, want) {
			t.Errorf("active workers over time %v; want %v", res.Workers, want)
		}
		if res.Stats.ScaleUps != maxWorkers-minWorkers || res.Stats.ScaleDowns != maxWorkers-minWorkers {
			t.Errorf("%d scale-ups, %d scale-downs; want %d of each", res.Stats.ScaleUps, res.Stats.ScaleDowns, maxWorkers-minWorkers)
		}
		if res.Used != maxWorkers {
			t.Errorf("%d worker actors handled jobs; want %d", res.Used, maxWorkers)
		}
		const n = burst + trickle
		if res.Stats.In != n || res.Stats.Out != n || res.Received != n || res.Sum != n*(n-1)/2 {
			t.Errorf("in %d, out %d, received %d, sum %d; want %d, %d, %d, %d",
				res.Stats.In, res.Stats.Out, res.Received, res.Sum, n, n, n, n*(n-1)/2)
		}
	})
}
