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

// TestLoadShedding runs the example in a synctest bubble (the arrivals
// and the scoring take virtual time) and checks that every request is
// accounted for exactly once: scored or shed, never both, never lost;
// that each shed one is in the dead-letter store as overflow and counted
// in the stage's DeadLettered; that the law In = Out + Filtered +
// DeadLettered holds for every stage; and that the shedding matches the
// rates: requests come 3 times as fast as they are scored, so about a
// third is scored.
func TestLoadShedding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		report(&out, res)
		t.Log("\n" + out.String())

		all := append(slices.Clone(res.Scored), res.Dropped...)
		slices.Sort(all)
		want := make([]int, requests)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(all, want) {
			t.Fatalf("scored %d + shed %d requests are not each request once", len(res.Scored), len(res.Dropped))
		}
		if !slices.IsSorted(res.Scored) {
			t.Errorf("scored out of order: %v", res.Scored)
		}
		for _, s := range res.Stats {
			if s.In != s.Out+s.Filtered+s.DeadLettered || s.InFlight != 0 {
				t.Errorf("%s: in %d != out %d + filtered %d + dead-lettered %d", s.Name, s.In, s.Out, s.Filtered, s.DeadLettered)
			}
			wantDead := 0
			if s.Name == "score" {
				wantDead = len(res.Dropped)
				if s.In != requests || s.Out != uint64(len(res.Scored)) {
					t.Errorf("score: in %d, out %d; want %d, %d", s.In, s.Out, requests, len(res.Scored))
				}
			}
			if s.DeadLettered != uint64(wantDead) {
				t.Errorf("%s: %d dead-lettered; want %d", s.Name, s.DeadLettered, wantDead)
			}
		}
		// One scored every 3 ms over the 300 ms of arrivals, plus what was
		// queued at the end.
		if n := len(res.Scored); n < requests/3 || n > requests/3+mailboxCap+2 {
			t.Errorf("%d scored; want about %d", n, requests/3)
		}
	})
}
