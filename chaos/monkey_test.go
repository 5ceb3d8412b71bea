package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/chaos"
)

func TestRuleValidate(t *testing.T) {
	cases := []struct {
		name string
		rule chaos.Rule
		ok   bool
	}{
		{"kill rate", chaos.Rule{Kind: chaos.Kill, Rate: 0.5}, true},
		{"count alone", chaos.Rule{Kind: chaos.FailStart, Pattern: "/a/*", Count: 1}, true},
		{"per second", chaos.Rule{Kind: chaos.Cancel, PerSecond: 2, Count: 1}, true},
		{"slow", chaos.Rule{Kind: chaos.Slow, Rate: 1, Delay: time.Millisecond}, true},
		{"no kind", chaos.Rule{Rate: 1}, false},
		{"unknown kind", chaos.Rule{Kind: 99, Rate: 1}, false},
		{"bad pattern", chaos.Rule{Kind: chaos.Kill, Pattern: "/a/[", Rate: 1}, false},
		{"rate above 1", chaos.Rule{Kind: chaos.Kill, Rate: 1.5}, false},
		{"negative rate", chaos.Rule{Kind: chaos.Kill, Rate: -0.1}, false},
		{"NaN rate", chaos.Rule{Kind: chaos.Kill, Rate: math.NaN()}, false},
		{"rate and per second", chaos.Rule{Kind: chaos.Kill, Rate: 0.1, PerSecond: 1}, false},
		{"chooses nothing", chaos.Rule{Kind: chaos.Kill}, false},
		{"slow without delay", chaos.Rule{Kind: chaos.Slow, Rate: 1}, false},
		{"negative count", chaos.Rule{Kind: chaos.Kill, Count: -1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := chaos.New(1, c.rule)
			if c.ok && err != nil {
				t.Fatalf("New: %v; want nil", err)
			}
			if !c.ok && !errors.Is(err, chaos.ErrInvalidRule) {
				t.Fatalf("New: %v; want ErrInvalidRule", err)
			}
		})
	}
}

func TestPatternMatching(t *testing.T) {
	cases := []struct {
		pattern string
		hits    []string // sites that match
		misses  []string
	}{
		{"", []string{"a", "/x/y", "decode"}, nil},
		{"decode", []string{"decode"}, []string{"decoder", "/decode"}},
		{"/app/*", []string{"/app/db", "/app/w1"}, []string{"/app", "/app/db/conn", "/other/db"}},
		{"/app/w[0-3]", []string{"/app/w0", "/app/w3"}, []string{"/app/w4", "/app/w10"}},
		{"/p/*/w?", []string{"/p/decode/w1", "/p/agg/w9"}, []string{"/p/decode/w10", "/p/decode"}},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Pattern: c.pattern, Rate: 1})
			for _, s := range c.hits {
				if err := m.Inject(context.Background(), s); !errors.Is(err, chaos.ErrInjected) {
					t.Errorf("Inject(%q) = %v; want a fault", s, err)
				}
			}
			for _, s := range c.misses {
				if err := m.Inject(context.Background(), s); err != nil {
					t.Errorf("Inject(%q) = %v; want nil", s, err)
				}
			}
			if got, want := m.Count(chaos.FailStart), len(c.hits); got != want {
				t.Errorf("Count = %d; want %d", got, want)
			}
		})
	}
}

// run drives a monkey through a fixed sequence of hits: ranked hits at
// two sites, then items 0..n at two sites.
func runSequence(m *chaos.Monkey, n int) {
	ctx := context.Background()
	for i := range n {
		inject(m, ctx, []string{"a", "b"}[i%2], -1)
	}
	for i := range n {
		inject(m, ctx, "x", int64(i))
		inject(m, ctx, "y", int64(i))
	}
}

func TestScheduleDeterministicPerSeed(t *testing.T) {
	rules := []chaos.Rule{
		{Kind: chaos.Kill, Pattern: "a", Rate: 0.05},
		{Kind: chaos.FailStart, Rate: 0.02},
		{Kind: chaos.Kill, Pattern: "[xy]", Rate: 0.03, Count: 50},
	}
	schedule := func(seed uint64) []string {
		m := newMonkey(t, seed, rules...)
		runSequence(m, 5000)
		var out []string
		for _, f := range m.Faults() {
			out = append(out, fmt.Sprintf("%d %s r%d %s %d/%v hit %d", f.ID, f.Kind, f.Rule, f.Site, f.Item, f.HasItem, f.Hit))
		}
		return out
	}
	a, b := schedule(42), schedule(42)
	if len(a) == 0 {
		t.Fatal("no faults")
	}
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if c := schedule(43); slices.Equal(a, c) {
		t.Fatalf("seeds 42 and 43 gave the same schedule %v", a)
	}
}

// InjectItem decides by item, not by arrival: the same items are faulted
// whatever the order and the concurrency of the hits.
func TestInjectItemIndependentOfOrder(t *testing.T) {
	rule := chaos.Rule{Kind: chaos.Kill, Pattern: "stage*", Rate: 0.02}
	const n = 20000
	sequential := newMonkey(t, 7, rule)
	for i := range n {
		inject(sequential, context.Background(), "stage1", int64(i))
		inject(sequential, context.Background(), "stage2", int64(i))
	}
	want := keys(sequential.Faults())

	shuffled := newMonkey(t, 7, rule)
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for j := w; j < n; j += 4 {
				inject(shuffled, context.Background(), "stage2", int64(order[j]))
				inject(shuffled, context.Background(), "stage1", int64(order[j]))
			}
		})
	}
	wg.Wait()
	if got := keys(shuffled.Faults()); !maps.Equal(got, want) {
		t.Fatalf("shuffled concurrent hits faulted %d items, sequential %d, or other ones", len(got), len(want))
	}
}

func TestRate(t *testing.T) {
	const n, rate = 200000, 0.01
	for _, item := range []bool{false, true} {
		t.Run(fmt.Sprintf("item=%v", item), func(t *testing.T) {
			m := newMonkey(t, 3, chaos.Rule{Kind: chaos.FailStart, Rate: rate})
			for i := range n {
				if item {
					_ = m.InjectItem(context.Background(), "s", uint64(i))
				} else {
					_ = m.Inject(context.Background(), "s")
				}
			}
			// Binomial(n, rate): mean 2000, sd ~44.5; 6 sd either way.
			got, mean := m.Count(chaos.FailStart), n*rate
			if sd := math.Sqrt(n * rate * (1 - rate)); math.Abs(float64(got)-mean) > 6*sd {
				t.Fatalf("%d faults in %d hits at rate %v; want about %v", got, n, rate, mean)
			}
		})
	}
}

func TestCount(t *testing.T) {
	t.Run("alone: the first n hits", func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Pattern: "s", Count: 3})
		var got []bool
		for range 6 {
			got = append(got, m.Inject(context.Background(), "s") != nil)
		}
		if want := []bool{true, true, true, false, false, false}; !slices.Equal(got, want) {
			t.Fatalf("faulted hits %v; want %v", got, want)
		}
	})
	t.Run("caps a rate", func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Rate: 0.5, Count: 10})
		for i := range 1000 {
			_ = m.InjectItem(context.Background(), "s", uint64(i))
		}
		if got := m.Count(chaos.FailStart); got != 10 {
			t.Fatalf("Count = %d; want 10", got)
		}
	})
	t.Run("concurrent hits", func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Count: 100})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					_ = m.Inject(context.Background(), "s")
				}
			})
		}
		wg.Wait()
		if got := m.Count(chaos.FailStart); got != 100 {
			t.Fatalf("Count = %d; want 100", got)
		}
	})
}

func TestMaxPerItem(t *testing.T) {
	for _, max := range []int{0, 1, 3} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Rate: 1, MaxPerItem: max})
			kills := 0
			for range 10 { // one item retried 10 times at one site
				if f, _ := inject(m, context.Background(), "s", 42); f != nil {
					kills++
				}
			}
			want := max
			if want == 0 {
				want = 1 // the default
			}
			if kills != want {
				t.Fatalf("item killed %d times; want %d", kills, want)
			}
			// Another site is another budget.
			if f, _ := inject(m, context.Background(), "t", 42); f == nil {
				t.Fatal("item not killed at a second site")
			}
		})
	}
}

// PerSecond faults are due at seeded times: in a synctest bubble, where
// time is fake, the same seed gives the same faulted hits.
func TestPerSecond(t *testing.T) {
	run := func(seed uint64) []uint64 {
		var hits []uint64
		synctest.Test(t, func(t *testing.T) {
			m := newMonkey(t, seed, chaos.Rule{Kind: chaos.FailStart, PerSecond: 5})
			for range 2000 { // 20 s, one hit every 10 ms
				_ = m.Inject(context.Background(), "s")
				time.Sleep(10 * time.Millisecond)
			}
			for _, f := range m.Faults() {
				hits = append(hits, f.Hit)
			}
		})
		return hits
	}
	a := run(9)
	// 100 expected (Poisson, sd 10).
	if len(a) < 60 || len(a) > 140 {
		t.Fatalf("%d faults in 20 s at 5 per second", len(a))
	}
	if b := run(9); !slices.Equal(a, b) {
		t.Fatalf("same seed, different hits:\n%v\n%v", a, b)
	}
	if c := run(10); slices.Equal(a, c) {
		t.Fatal("seeds 9 and 10 faulted the same hits")
	}
}

func TestSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Slow, Pattern: "s", Count: 1, Delay: time.Second})
		start := time.Now()
		if err := m.Inject(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("slow hit took %v; want 1s", d)
		}
		start = time.Now()
		_ = m.Inject(context.Background(), "s")
		if d := time.Since(start); d != 0 {
			t.Fatalf("second hit took %v; want 0 (Count 1)", d)
		}
		// A slow hit ends early when its context does.
		m2 := newMonkey(t, 1, chaos.Rule{Kind: chaos.Slow, Count: 1, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		_ = m2.Inject(ctx, "s")
		if d := time.Since(start); d != time.Second {
			t.Fatalf("slow hit with a 1s context took %v", d)
		}
	})
}

func TestStallPoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Stall, Count: 1, Delay: 2 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Inject(ctx, "s") }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("stall returned %v before its context ended", err)
		default:
		}
		start := time.Now()
		cancel()
		err := <-done
		if !errors.Is(err, chaos.ErrInjected) {
			t.Fatalf("stall returned %v; want the fault", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("stall went on %v after cancel; want its Delay 2s", d)
		}
	})
}

func TestCancel(t *testing.T) {
	m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Cancel, Pattern: "tick", Count: 1})
	ctx1, cancel1 := m.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := m.WithCancel(context.Background())
	cancel2() // no longer tracked
	if err := m.Inject(context.Background(), "other"); err != nil || ctx1.Err() != nil {
		t.Fatalf("a non-matching hit cancelled: %v, %v", err, ctx1.Err())
	}
	if err := m.Inject(context.Background(), "tick"); err != nil {
		t.Fatalf("a cancel hit returned %v; want nil (the hit goes on)", err)
	}
	if !errors.Is(context.Cause(ctx1), chaos.ErrInjected) {
		t.Fatalf("cause %v; want the fault", context.Cause(ctx1))
	}
	if !errors.Is(context.Cause(ctx2), context.Canceled) {
		t.Fatalf("cancelled context's cause %v; want context.Canceled", context.Cause(ctx2))
	}
}

func TestDisarmAndNil(t *testing.T) {
	m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Rate: 1})
	m.Disarm()
	if err := m.Inject(context.Background(), "s"); err != nil {
		t.Fatalf("disarmed monkey injected %v", err)
	}
	m.Arm()
	if err := m.Inject(context.Background(), "s"); err == nil {
		t.Fatal("armed monkey injected nothing")
	}
	// A nil monkey is valid everywhere (package doc): every method works
	// and injects nothing.
	var nilM *chaos.Monkey
	if err := nilM.InjectItem(context.Background(), "s", 1); err != nil || nilM.Count(chaos.Kill) != 0 || nilM.Faults() != nil {
		t.Fatal("nil monkey is not inert")
	}
	nilM.Arm()
	nilM.Disarm()
	nilM.OnFault(func(chaos.Fault) { t.Error("nil monkey reported a fault") })
	if err := nilM.Inject(context.Background(), "s"); err != nil || nilM.Seed() != 0 {
		t.Fatalf("nil monkey: Inject %v, Seed %d; want nil, 0", err, nilM.Seed())
	}
	if err := nilM.BeforeReceive(nil); err != nil {
		t.Fatalf("nil monkey BeforeReceive: %v", err)
	}
	if err := nilM.BeforeStart(nil); err != nil {
		t.Fatalf("nil monkey BeforeStart: %v", err)
	}
	ctx, cancel := nilM.WithCancel(context.Background())
	cancel()
	if ctx.Err() == nil {
		t.Fatal("nil monkey WithCancel: its cancel did not cancel")
	}
}

func TestFaultError(t *testing.T) {
	m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Rate: 1})
	f, _ := inject(m, context.Background(), "decode", 17)
	if f == nil {
		t.Fatal("no kill")
	}
	if got, want := f.Error(), "chaos: injected kill #1 (site decode, item 17)"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", f), chaos.ErrInjected) {
		t.Error("a wrapped fault does not match ErrInjected")
	}
	if fs := m.Faults(); len(fs) != 1 || fs[0].Kind != chaos.Kill || fs[0].Site != "decode" || fs[0].Item != 17 || !fs[0].HasItem || fs[0].Time.IsZero() {
		t.Errorf("recorded %+v", fs)
	}
}
