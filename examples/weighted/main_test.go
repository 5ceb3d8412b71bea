package main

import (
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "Weighted[1 2 4]:\n") {
		t.Error("output lacks the Weighted section")
	}
}

// TestShares checks each worker's share of the items against its
// router's target, within 2 percentage points.
func TestShares(t *testing.T) {
	cases := []struct {
		name   string
		router pipeline.Router
		want   []float64
	}{
		{"round-robin", pipeline.RoundRobin(), []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"weighted 1:2:4", pipeline.Weighted(1, 2, 4), []float64{1.0 / 7, 2.0 / 7, 4.0 / 7}},
	}
	const tolerance = 0.02
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counts, err := spread(c.router)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for i, n := range counts {
				total += n
				if got := float64(n) / items; math.Abs(got-c.want[i]) > tolerance {
					t.Errorf("worker %d got %d items (%.3f); want a share of %.3f ± %.2f", i, n, got, c.want[i], tolerance)
				}
			}
			if total != items {
				t.Errorf("workers got %d items in all; want %d", total, items)
			}
		})
	}
}
