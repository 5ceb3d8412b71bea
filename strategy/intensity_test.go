package strategy_test

import (
	"math"
	"testing"
	"time"

	"github.com/troupe-go/troupe/strategy"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus the given offset.
func at(d time.Duration) time.Time { return t0.Add(d) }

// TestIntensity covers FORMAT §4.6: the (max+1)-th restart inside one
// period is refused.
func TestIntensity(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	cases := []struct {
		name   string
		max    int
		period time.Duration
		times  []time.Duration // offsets from t0, one Allow each
		want   []bool
	}{
		{"max 0 refuses the first restart (h01)", 0, 5 * s, []time.Duration{0}, []bool{false}},
		{"max 0 refuses every restart", 0, 5 * s, []time.Duration{0, 10 * s}, []bool{false, false}},
		{"max 1", 1, 5 * s, []time.Duration{0, s}, []bool{true, false}},
		{"max 3 within period (03)", 3, 5 * s, []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}, []bool{true, true, true, false}},
		{"max 3 outside period (04)", 3, 1 * s, []time.Duration{0, 100 * ms, 200 * ms, 2700 * ms, 2800 * ms, 2900 * ms}, []bool{true, true, true, true, true, true}},
		{"max 3 sliding window", 3, 10 * s, []time.Duration{0, 4 * s, 8 * s, 11 * s, 15 * s, 19 * s, 20 * s}, []bool{true, true, true, true, true, true, false}},
		{"boundary: exactly period apart is inside", 1, 5 * s, []time.Duration{0, 5 * s}, []bool{true, false}},
		{"boundary: 1ns more is outside", 1, 5 * s, []time.Duration{0, 5*s + 1}, []bool{true, true}},
		{"same instant", 2, 0, []time.Duration{s, s, s}, []bool{true, true, false}},
		{"period 0, distinct instants", 1, 0, []time.Duration{0, 1, 2, 3}, []bool{true, true, true, true}},
		{"time going back is taken as the latest", 1, 5 * s, []time.Duration{10 * s, 0}, []bool{true, false}},
		{"negative max is 0", -3, 5 * s, []time.Duration{0}, []bool{false}},
	}
	for _, c := range cases {
		in := strategy.NewIntensity(c.max, c.period)
		for i, d := range c.times {
			if got := in.Allow(at(d)); got != c.want[i] {
				t.Errorf("%s: Allow #%d at +%v = %v; want %v", c.name, i+1, d, got, c.want[i])
			}
		}
	}
}

func TestIntensityZeroValue(t *testing.T) {
	var in strategy.Intensity
	if got := in.Allow(t0); got {
		t.Errorf("zero Intensity: Allow = %v; want false", got)
	}
}

func TestIntensityReset(t *testing.T) {
	in := strategy.NewIntensity(2, time.Minute)
	in.Allow(at(0))
	in.Allow(at(time.Second))
	in.Reset()
	for i := range 2 {
		if got := in.Allow(at(2 * time.Second)); !got {
			t.Errorf("after Reset: Allow #%d = %v; want true", i+1, got)
		}
	}
	if got := in.Allow(at(3 * time.Second)); got {
		t.Errorf("after Reset: Allow #3 = %v; want false", got)
	}
}

// TestIntensityMatchesList compares Allow with the literal OTP algorithm
// (a list of timestamps, pruned and appended at each restart) on
// pseudo-random restart times.
func TestIntensityMatchesList(t *testing.T) {
	cases := []struct {
		max    int
		period time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {3, 5 * time.Second}, {10, 2 * time.Second}, {5, 0},
	}
	for _, c := range cases {
		in := strategy.NewIntensity(c.max, c.period)
		var list []time.Time
		now := t0
		x := uint64(c.max)*7919 + 1
		for i := range 2000 {
			x = x*6364136223846793005 + 1442695040888963407
			now = now.Add(time.Duration(x>>40) % (c.period/2 + time.Millisecond)) // sometimes 0
			var kept []time.Time
			for _, r := range list {
				if !r.Before(now.Add(-c.period)) {
					kept = append(kept, r)
				}
			}
			list = append(kept, now)
			want := len(list) <= c.max
			if got := in.Allow(now); got != want {
				t.Fatalf("max %d period %v: Allow #%d = %v; want %v", c.max, c.period, i+1, got, want)
			}
		}
		if n := strategy.IntensityRingLen(in); n > c.max+1 {
			t.Errorf("max %d: ring holds %d timestamps; want at most %d", c.max, n, c.max+1)
		}
	}
}

// TestIntensityBoundedMemory checks that a million restarts, all refused
// or all allowed, never grow the ring beyond max+1 entries.
func TestIntensityBoundedMemory(t *testing.T) {
	cases := []struct {
		name     string
		max      int
		period   time.Duration
		step     time.Duration
		wantRing int
	}{
		{"all inside one window", 3, time.Hour, time.Nanosecond, 4},
		{"steady rate under the limit", 3, time.Second, 400 * time.Millisecond, 4},
		{"sparse restarts, large max", 1_000_000, time.Second, time.Minute, 4},
	}
	for _, c := range cases {
		in := strategy.NewIntensity(c.max, c.period)
		now := t0
		for range 1_000_000 {
			in.Allow(now)
			now = now.Add(c.step)
		}
		if got := strategy.IntensityRingLen(in); got > c.wantRing {
			t.Errorf("%s: ring holds %d timestamps; want at most %d", c.name, got, c.wantRing)
		}
	}
}

// TestIntensityHugeMax checks that a maximum near MaxInt does not overflow
// the ring size (it used to divide by zero).
func TestIntensityHugeMax(t *testing.T) {
	in := strategy.NewIntensity(math.MaxInt, time.Second)
	for i := 0; i < 10; i++ {
		if !in.Allow(t0) {
			t.Fatalf("restart %d refused; want allowed", i+1)
		}
	}
}
