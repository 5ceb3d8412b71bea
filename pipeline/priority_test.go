package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// tierItem is item n of tier t.
type tierItem struct{ t, n int }

// prioWarmup bounds the items a merge picks at the first instant, before
// every tier's queue is full: what fits behind it (the sink's item and
// mailbox, the merge's pending item) and a few more.
const prioWarmup = 6

func tierSlice(tier, n int) []tierItem {
	items := make([]tierItem, n)
	for j := range items {
		items[j] = tierItem{tier, j}
	}
	return items
}

// runTiers merges len(sizes) tiers of sizes[i] items with the given
// quotas into a slow sink and returns the items in the order served. It
// must run in a synctest bubble: the sink's sleep takes virtual time, and
// the clock moves only once every other goroutine is blocked, so the
// sources refill their queues before each pick.
func runTiers(t *testing.T, quotas, sizes []int) []tierItem {
	t.Helper()
	p := pipeline.New(pipeline.WithBatchSize(1))
	tiers := make([]pipeline.Tier[tierItem], len(sizes))
	for i, n := range sizes {
		tiers[i] = pipeline.Tier[tierItem]{In: pipeline.FromSlice(p, fmt.Sprint("tier", i), tierSlice(i, n)), Quota: quotas[i]}
	}
	merged := pipeline.PriorityMerge(p, "prio", tiers, pipeline.WithBuffer(1))
	var served []tierItem // the sink's only goroutine appends; read after Run
	pipeline.ToFunc(merged, "sink", func(_ context.Context, v tierItem) error {
		time.Sleep(time.Millisecond) // the sink's work, in virtual time
		served = append(served, v)
		return nil
	}, pipeline.WithBuffer(1))
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAccounting(t, p)
	if s := stats(t, p, "prio"); s.In != uint64(len(served)) || s.Emitted != uint64(len(served)) {
		t.Errorf("merge stats: in %d, emitted %d; want %d", s.In, s.Emitted, len(served))
	}
	return served
}

// letters returns the tiers of items as letters: "A" for tier 0, ...
func letters(items []tierItem) string {
	var b strings.Builder
	for _, v := range items {
		b.WriteByte(byte('A' + v.t))
	}
	return b.String()
}

// checkTierOrder checks that every item of every tier was served once,
// in its tier's order.
func checkTierOrder(t *testing.T, served []tierItem, sizes []int) {
	t.Helper()
	next := make([]int, len(sizes))
	for _, v := range served {
		if v.n != next[v.t] {
			t.Fatalf("tier %d: item %d served after item %d", v.t, v.n, next[v.t]-1)
		}
		next[v.t]++
	}
	if !slices.Equal(next, sizes) {
		t.Fatalf("served per tier %v; want %v", next, sizes)
	}
}

// periodic checks that s[from:to] repeats pattern, starting at most one
// round after from (the first picks may have come before the queues were
// full), and returns where the repetition starts.
func periodic(t *testing.T, s string, from, to int, pattern string) int {
	t.Helper()
	start := -1
	for i := from; i < from+len(pattern); i++ {
		if strings.HasPrefix(s[i:], pattern) {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("no round %q near %d in %s", pattern, from, s)
	}
	rounds := (to - start) / len(pattern)
	if want := strings.Repeat(pattern, rounds); s[start:start+len(want)] != want {
		t.Fatalf("served %d-%d = %s; want %d rounds of %s (all: %s)", start, start+len(want), s[start:start+len(want)], rounds, pattern, s)
	}
	return start
}

// With every tier backlogged each round takes each tier's quota, highest
// tier first; once a tier ends, the others share the rounds, and the
// stream ends when the last tier did.
func TestPriorityMergeTiersRounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		quotas, sizes := []int{3, 2, 1}, []int{30, 40, 40}
		served := runTiers(t, quotas, sizes)
		checkTierOrder(t, served, sizes)
		s := letters(served)
		t.Log(s)
		endA := strings.LastIndexByte(s, 'A')
		periodic(t, s, prioWarmup, endA-len("AAABBC"), "AAABBC")
		// Tier 0 ended: tier 1 and 2 share the rounds, 2:1.
		endB := strings.LastIndexByte(s, 'B')
		periodic(t, s, endA+1, endB-len("BBC"), "BBC")
		// Only tier 2 is left.
		if tail := s[endB+1:]; tail != strings.Repeat("C", len(tail)) || len(tail) < 10 {
			t.Errorf("after the last B: %s; want only C", tail)
		}
	})
}

// A quota says how many items per round, not which tier goes first: a
// lower tier can have the larger share.
func TestPriorityMergeTiersWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		quotas, sizes := []int{1, 3}, []int{20, 80}
		served := runTiers(t, quotas, sizes)
		checkTierOrder(t, served, sizes)
		s := letters(served)
		periodic(t, s, prioWarmup, strings.LastIndexByte(s, 'A')-len("ABBB"), "ABBB")
	})
}

// A top tier that never ends does not starve the lower ones: every item
// of theirs is served while it floods the merge, each within a round.
func TestPriorityMergeTiersNoStarvation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const lower = 30
		quotas := []int{5, 1, 1}
		p := pipeline.New(pipeline.WithBatchSize(1))
		flood := pipeline.FromFunc(p, "flood", func(ctx context.Context, emit func(tierItem) error) error {
			for i := 0; ; i++ {
				if err := emit(tierItem{0, i}); err != nil {
					return err
				}
			}
		})
		merged := pipeline.PriorityMerge(p, "prio", []pipeline.Tier[tierItem]{
			{In: flood, Quota: quotas[0]},
			{In: pipeline.FromSlice(p, "mid", tierSlice(1, lower)), Quota: quotas[1]},
			{In: pipeline.FromSlice(p, "low", tierSlice(2, lower)), Quota: quotas[2]},
		}, pipeline.WithBuffer(1))
		var served []tierItem
		var lowerDone atomic.Int32
		pipeline.ToFunc(merged, "sink", func(_ context.Context, v tierItem) error {
			time.Sleep(time.Millisecond)
			served = append(served, v)
			if v.t > 0 && lowerDone.Add(1) == 2*lower {
				cancel()
			}
			if len(served) == 10*lower { // starving: give up (the checks below fail)
				cancel()
			}
			return nil
		}, pipeline.WithBuffer(1))
		if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v; want context.Canceled once the lower tiers were served", err)
		}
		if lowerDone.Load() != 2*lower {
			t.Fatalf("lower tiers: %d of %d items served", lowerDone.Load(), 2*lower)
		}
		s := letters(served)
		// Between two items of a waiting tier pass at most the quotas of
		// the others: 5 + 1 for either lower tier.
		for _, c := range "BC" {
			run, longest := 0, 0
			for _, x := range s[prioWarmup:strings.LastIndexByte(s, byte(c))] {
				if x == c {
					run = 0
					continue
				}
				run++
				longest = max(longest, run)
			}
			if longest > 6 {
				t.Errorf("%d items passed while tier %c waited; want at most 6: %s", longest, c, s)
			}
		}
		if n, limit := strings.Count(s, "A"), 5*lower+prioWarmup; n > limit {
			t.Errorf("%d flood items served before the lower tiers' %d; want at most %d", n, 2*lower, limit)
		}
		checkAccounting(t, p)
	})
}

// An empty tier and a tier that is slow to end hold up nobody while they
// are empty, and the stream ends only once every tier ended.
func TestPriorityMergeTiersEndOfStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(4))
		ch := make(chan int)
		merged := pipeline.PriorityMerge(p, "prio", []pipeline.Tier[int]{
			{In: pipeline.FromSlice(p, "empty", []int(nil)), Quota: 2},
			{In: pipeline.FromChan(p, "late", ch), Quota: 2},
			{In: pipeline.FromSlice(p, "now", ints(5)), Quota: 1},
		})
		out := pipeline.Collect(merged, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := out.Items(); !slices.Equal(got, ints(5)) {
			t.Fatalf("while tier 1 is open and empty: got %v; want %v", got, ints(5))
		}
		select {
		case <-p.Done():
			t.Fatal("the pipeline ended while a tier was still open")
		default:
		}
		ch <- 10
		ch <- 11
		close(ch)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		wantItems(t, out.Items(), []int{0, 1, 2, 3, 4, 10, 11})
		checkAccounting(t, p)
	})
}

// Invalid tiers are build errors: Start reports them, wrapping
// ErrInvalid, and nothing runs.
func TestPriorityMergeTiersInvalid(t *testing.T) {
	cases := []struct {
		name  string
		tiers func(p, other *pipeline.Pipeline) []pipeline.Tier[int]
		want  string
	}{
		{"no tiers", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] { return nil }, "no tiers"},
		{"zero quota", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] {
			return []pipeline.Tier[int]{{In: pipeline.FromSlice(p, "a", ints(1)), Quota: 1}, {In: pipeline.FromSlice(p, "b", ints(1))}}
		}, "tier 1: quota 0 < 1"},
		{"negative quota", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] {
			return []pipeline.Tier[int]{{In: pipeline.FromSlice(p, "a", ints(1)), Quota: -2}}
		}, "tier 0: quota -2 < 1"},
		{"nil stream", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] {
			return []pipeline.Tier[int]{{In: pipeline.FromSlice(p, "a", ints(1)), Quota: 1}, {Quota: 1}}
		}, "tier 1: nil stream"},
		{"detached stream", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] {
			return []pipeline.Tier[int]{{In: &pipeline.Stream[int]{}, Quota: 1}, {In: pipeline.FromSlice(p, "a", ints(1)), Quota: 1}}
		}, "tier 0: nil stream"},
		{"another pipeline", func(p, other *pipeline.Pipeline) []pipeline.Tier[int] {
			return []pipeline.Tier[int]{{In: pipeline.FromSlice(p, "a", ints(1)), Quota: 1}, {In: pipeline.FromSlice(other, "b", ints(1)), Quota: 1}}
		}, "tier 1: a stream of another pipeline"},
		{"a stream twice", func(p, _ *pipeline.Pipeline) []pipeline.Tier[int] {
			a := pipeline.FromSlice(p, "a", ints(1))
			return []pipeline.Tier[int]{{In: a, Quota: 1}, {In: a, Quota: 1}}
		}, `the output of "a" is consumed twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, other := pipeline.New(), pipeline.New()
			var sunk atomic.Int32
			pipeline.ToFunc(pipeline.PriorityMerge(p, "prio", c.tiers(p, other)), "sink",
				func(context.Context, int) error { sunk.Add(1); return nil })
			err := p.Start(context.Background())
			if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Start: %v; want ErrInvalid with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "not consumed") {
				t.Errorf("Start: %v; the merge's inputs and output are reported as not consumed too", err)
			}
			if perr := p.Wait(context.Background()); perr != err || sunk.Load() != 0 {
				t.Errorf("Wait: %v with %d items sunk; want Start's error and none", perr, sunk.Load())
			}
		})
	}
	t.Run("nil pipeline", func(t *testing.T) {
		p := pipeline.New()
		s := pipeline.PriorityMerge(nil, "prio", []pipeline.Tier[int]{{In: pipeline.FromSlice(p, "a", ints(1)), Quota: 1}})
		if s == nil || s.Pipeline() != nil {
			t.Fatalf("PriorityMerge(nil, ...) = %v; want a detached stream", s)
		}
	})
}
