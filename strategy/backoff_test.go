package strategy_test

import (
	"errors"
	"math"
	randv1 "math/rand"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/troupe-go/troupe/strategy"
)

var (
	_ strategy.Rand = (*rand.Rand)(nil)
	_ strategy.Rand = (*randv1.Rand)(nil)
)

// fixedRand always returns the same value.
type fixedRand float64

func (f fixedRand) Float64() float64 { return float64(f) }

// countingRand counts its calls and returns 0.5.
type countingRand struct{ n int }

func (c *countingRand) Float64() float64 { c.n++; return 0.5 }

func TestBackoffValidate(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		name string
		b    strategy.Backoff
		ok   bool
	}{
		{"zero", strategy.Backoff{}, true},
		{"typical", strategy.Backoff{Min: 10 * ms, Max: time.Second, Factor: 2, Jitter: 0.2, ResetAfter: time.Minute}, true},
		{"defaults", strategy.Backoff{Min: 10 * ms, Max: time.Second}, true},
		{"min equals max", strategy.Backoff{Min: ms, Max: ms}, true},
		{"factor 1", strategy.Backoff{Min: ms, Max: ms, Factor: 1}, true},
		{"jitter 1", strategy.Backoff{Min: ms, Max: ms, Jitter: 1}, true},
		{"max ignored without min", strategy.Backoff{Max: time.Second}, true},
		{"negative min", strategy.Backoff{Min: -ms, Max: ms}, false},
		{"negative max", strategy.Backoff{Max: -ms}, false},
		{"max below min", strategy.Backoff{Min: time.Second, Max: ms}, false},
		{"max zero with min", strategy.Backoff{Min: time.Second}, false},
		{"factor below 1", strategy.Backoff{Min: ms, Max: ms, Factor: 0.5}, false},
		{"negative factor", strategy.Backoff{Min: ms, Max: ms, Factor: -2}, false},
		{"factor NaN", strategy.Backoff{Min: ms, Max: ms, Factor: math.NaN()}, false},
		{"factor +Inf", strategy.Backoff{Min: ms, Max: ms, Factor: math.Inf(1)}, false},
		{"negative jitter", strategy.Backoff{Min: ms, Max: ms, Jitter: -0.1}, false},
		{"jitter above 1", strategy.Backoff{Min: ms, Max: ms, Jitter: 1.5}, false},
		{"jitter NaN", strategy.Backoff{Min: ms, Max: ms, Jitter: math.NaN()}, false},
		{"negative reset", strategy.Backoff{Min: ms, Max: ms, ResetAfter: -1}, false},
	}
	for _, c := range cases {
		err := c.b.Validate()
		if c.ok && err != nil {
			t.Errorf("%s: Validate() = %v; want nil", c.name, err)
		}
		if !c.ok && !errors.Is(err, strategy.ErrInvalidBackoff) {
			t.Errorf("%s: Validate() = %v; want an error wrapping ErrInvalidBackoff", c.name, err)
		}
	}
}

// TestBackoffZeroIsOTP checks that without Min every delay is 0 and the
// random source is never used.
func TestBackoffZeroIsOTP(t *testing.T) {
	cases := []struct {
		name string
		s    *strategy.BackoffState
	}{
		{"zero state", new(strategy.BackoffState)},
		{"zero backoff", strategy.NewBackoffState(strategy.Backoff{})},
		{"min 0, other fields set", strategy.NewBackoffState(strategy.Backoff{Max: time.Hour, Factor: 3, Jitter: 1, ResetAfter: time.Second})},
		{"negative min", strategy.NewBackoffState(strategy.Backoff{Min: -time.Second, Max: time.Hour, Jitter: 0.5})},
	}
	for _, c := range cases {
		rnd := &countingRand{}
		for i := range 100 {
			if i%10 == 0 {
				c.s.Started(at(time.Duration(i) * time.Second))
				c.s.Stopped(at(time.Duration(i)*time.Second + time.Millisecond))
			}
			if got := c.s.Next(rnd); got != 0 {
				t.Fatalf("%s: Next #%d = %v; want 0", c.name, i+1, got)
			}
		}
		if rnd.n != 0 {
			t.Errorf("%s: rand called %d times; want 0", c.name, rnd.n)
		}
	}
}

// TestBackoffGrowth checks the un-jittered sequence.
func TestBackoffGrowth(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		name string
		b    strategy.Backoff
		want []time.Duration
	}{
		{"default factor 2", strategy.Backoff{Min: 100 * ms, Max: time.Second},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"factor 3", strategy.Backoff{Min: 10 * ms, Max: 200 * ms, Factor: 3},
			[]time.Duration{10 * ms, 30 * ms, 90 * ms, 200 * ms, 200 * ms}},
		{"factor 1 is constant", strategy.Backoff{Min: 5 * ms, Max: time.Second, Factor: 1},
			[]time.Duration{5 * ms, 5 * ms, 5 * ms}},
		{"min equals max", strategy.Backoff{Min: time.Second, Max: time.Second},
			[]time.Duration{time.Second, time.Second}},
		{"tiny min still grows", strategy.Backoff{Min: 1, Max: 10, Factor: 1.5},
			[]time.Duration{1, 1, 2, 3, 5, 7, 10, 10}},
		{"max below min is raised to min", strategy.Backoff{Min: time.Second, Max: ms},
			[]time.Duration{time.Second, time.Second}},
		{"huge max does not overflow", strategy.Backoff{Min: time.Hour, Max: math.MaxInt64, Factor: 1e6},
			[]time.Duration{time.Hour, 1e6 * time.Hour, math.MaxInt64, math.MaxInt64}},
	}
	for _, c := range cases {
		s := strategy.NewBackoffState(c.b)
		for i, want := range c.want {
			if got := s.Next(nil); got != want {
				t.Errorf("%s: Next #%d = %v; want %v", c.name, i+1, got, want)
			}
		}
	}
}

// TestBackoffJitter checks the jitter formula on fixed random values.
func TestBackoffJitter(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		name string
		b    strategy.Backoff
		u    float64
		want []time.Duration
	}{
		{"u 0.5 is no jitter", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 0.5}, 0.5,
			[]time.Duration{100 * ms, 200 * ms}},
		{"u 0 is the lower bound", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 0.5}, 0,
			[]time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 500 * ms}},
		{"u near 1 is near the upper bound, cut at max", strategy.Backoff{Min: 100 * ms, Max: 250 * ms, Jitter: 0.5}, 0.999999,
			[]time.Duration{149999900, 250 * ms, 250 * ms}},
		{"jitter 1, u 0 gives 0", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 1}, 0,
			[]time.Duration{0, 0}},
		{"u below 0 is clamped", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 0.2}, -5,
			[]time.Duration{80 * ms}},
		{"u above 1 is clamped", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 0.2}, 7,
			[]time.Duration{120 * ms}},
		{"u NaN is 0", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 0.2}, math.NaN(),
			[]time.Duration{80 * ms}},
		{"jitter above 1 is clamped to 1", strategy.Backoff{Min: 100 * ms, Max: time.Second, Jitter: 3}, 0,
			[]time.Duration{0}},
	}
	for _, c := range cases {
		s := strategy.NewBackoffState(c.b)
		for i, want := range c.want {
			if got := s.Next(fixedRand(c.u)); got != want {
				t.Errorf("%s: Next #%d = %v; want %v", c.name, i+1, got, want)
			}
		}
	}
}

// TestBackoffProperties draws many configurations and random sequences and
// checks the documented bounds, the cap, and the monotone growth of the
// un-jittered base, with a twin state without jitter as the reference.
func TestBackoffProperties(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		minD := time.Duration(1 + r.Int64N(int64(time.Second)))
		b := strategy.Backoff{
			Min:        minD,
			Max:        minD + time.Duration(r.Int64N(int64(time.Minute))),
			Factor:     1 + 3*r.Float64(),
			Jitter:     r.Float64(),
			ResetAfter: time.Duration(r.Int64N(int64(time.Minute))),
		}
		if seed%5 == 0 {
			b.Jitter = 1
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		s, plain := strategy.NewBackoffState(b), strategy.NewBackoffState(strategy.Backoff{Min: b.Min, Max: b.Max, Factor: b.Factor})
		prev := time.Duration(0)
		for i := range 60 {
			base := plain.Next(nil)
			d := s.Next(r)
			if base < prev || base < b.Min || base > b.Max {
				t.Fatalf("seed %d %+v: base #%d = %v after %v; want non-decreasing within [%v, %v]", seed, b, i+1, base, prev, b.Min, b.Max)
			}
			prev = base
			if want := min(float64(b.Min)*math.Pow(b.Factor, float64(i)), float64(b.Max)); math.Abs(float64(base)-want) > 1+want*1e-9 {
				t.Fatalf("seed %d %+v: base #%d = %v; want min(Min*Factor^%d, Max) = %v", seed, b, i+1, base, i, time.Duration(want))
			}
			lo := float64(base)*(1-b.Jitter) - 1
			hi := min(float64(base)*(1+b.Jitter), float64(b.Max))
			if float64(d) < lo || float64(d) > hi || d < 0 || d > b.Max {
				t.Fatalf("seed %d %+v: Next #%d = %v; want within [%v, %v] (base %v)", seed, b, i+1, d, lo, hi, base)
			}
			if lo := float64(b.Min)*(1-b.Jitter) - 1; float64(d) < lo {
				t.Fatalf("seed %d: Next #%d = %v; want at least Min*(1-Jitter) = %v", seed, i+1, d, lo)
			}
		}
		if float64(b.Min)*math.Pow(b.Factor, 59) > float64(b.Max)*(1+1e-9) && prev != b.Max {
			t.Errorf("seed %d %+v: base after 60 restarts = %v; want the cap %v", seed, b, prev, b.Max)
		}
	}
}

func TestBackoffReset(t *testing.T) {
	const ms = time.Millisecond
	b := strategy.Backoff{Min: 100 * ms, Max: 800 * ms, ResetAfter: 10 * time.Second}
	cases := []struct {
		name string
		run  func(s *strategy.BackoffState)
		want time.Duration // next delay after three restarts and run
	}{
		{"no run: keeps growing", func(*strategy.BackoffState) {}, 800 * ms},
		{"short run: keeps growing", func(s *strategy.BackoffState) {
			s.Started(at(0))
			s.Stopped(at(10*time.Second - 1))
		}, 800 * ms},
		{"stable run exactly ResetAfter: resets", func(s *strategy.BackoffState) {
			s.Started(at(0))
			s.Stopped(at(10 * time.Second))
		}, 100 * ms},
		{"long run: resets", func(s *strategy.BackoffState) {
			s.Started(at(0))
			s.Stopped(at(time.Hour))
		}, 100 * ms},
		{"Stopped without Started: keeps growing", func(s *strategy.BackoffState) {
			s.Stopped(at(time.Hour))
		}, 800 * ms},
		{"second Stopped does not reset", func(s *strategy.BackoffState) {
			s.Started(at(0))
			s.Stopped(at(time.Second))
			s.Stopped(at(time.Hour))
		}, 800 * ms},
		{"the latest Started counts", func(s *strategy.BackoffState) {
			s.Started(at(0))
			s.Started(at(55 * time.Second))
			s.Stopped(at(time.Minute))
		}, 800 * ms},
		{"explicit Reset", func(s *strategy.BackoffState) { s.Reset() }, 100 * ms},
	}
	for _, c := range cases {
		s := strategy.NewBackoffState(b)
		for range 3 {
			s.Next(nil) // 100ms, 200ms, 400ms
		}
		c.run(s)
		if got := s.Next(nil); got != c.want {
			t.Errorf("%s: Next = %v; want %v", c.name, got, c.want)
		}
	}
}

func TestBackoffResetAfterDefaultsToMax(t *testing.T) {
	s := strategy.NewBackoffState(strategy.Backoff{Min: time.Second, Max: 30 * time.Second})
	s.Next(nil)
	s.Next(nil)
	s.Started(at(0))
	s.Stopped(at(30*time.Second - 1))
	if got := s.Next(nil); got != 4*time.Second {
		t.Errorf("after a run shorter than Max: Next = %v; want %v", got, 4*time.Second)
	}
	s.Started(at(time.Minute))
	s.Stopped(at(time.Minute + 30*time.Second))
	if got := s.Next(nil); got != time.Second {
		t.Errorf("after a run of Max: Next = %v; want %v", got, time.Second)
	}
}

func TestBackoffRandCalledOncePerNext(t *testing.T) {
	s := strategy.NewBackoffState(strategy.Backoff{Min: time.Millisecond, Max: time.Second, Jitter: 0.1})
	rnd := &countingRand{}
	for range 50 {
		s.Next(rnd)
	}
	if rnd.n != 50 {
		t.Errorf("rand calls = %d; want %d", rnd.n, 50)
	}
	if got := s.Next(nil); got != time.Second {
		t.Errorf("Next(nil) = %v; want the un-jittered %v", got, time.Second)
	}
}
