package strategy_test

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/strategy"
)

// TestIntensityUsed checks that Used counts the recorded restarts inside
// the window ending at the given time, exactly at the boundary, that it
// records nothing, that it counts a refused restart, and that it grows
// only as far as the ring after wrap-around.
func TestIntensityUsed(t *testing.T) {
	const s = time.Second
	in := strategy.NewIntensity(3, 10*s)
	if got := in.Used(at(0)); got != 0 {
		t.Fatalf("Used with no restart: got %d; want 0", got)
	}
	for _, d := range []time.Duration{0, 4 * s, 8 * s} {
		if !in.Allow(at(d)) {
			t.Fatalf("Allow at +%v: refused; want allowed", d)
		}
	}
	cases := []struct {
		now  time.Duration
		want int
	}{
		{8 * s, 3},
		{10 * s, 3},     // 0 is exactly period before: inside
		{10*s + 1, 2},   // 1 ns later it is out
		{14 * s, 2},     // 4 s exactly period before
		{18*s + 1, 0},   // all out
		{time.Hour, 0},  // long after
		{2 * s, 3},      // earlier than the latest (8 s): taken as 8 s
		{18 * s, 1},     // only 8 s left
		{17*s + 999, 1}, // still 8 s
		{14*s + 1, 1},   // 4 s just out
		{13*s + 999, 2}, // 4 s in
	}
	for _, c := range cases {
		if got := in.Used(at(c.now)); got != c.want {
			t.Errorf("Used at +%v: got %d; want %d", c.now, got, c.want)
		}
	}
	// Used records nothing: the window still holds 0, 4 and 8 s, so a
	// restart at 9 s is the fourth inside it and refused.
	if in.Allow(at(9 * s)) {
		t.Fatalf("Allow at +9s after Used calls: allowed; want refused (Used must not record)")
	}
	if got := in.Used(at(9 * s)); got != 4 {
		t.Errorf("Used after a refusal: got %d; want 4 (the refused restart counts)", got)
	}

	// After wrap-around of the ring the order is still oldest first.
	in = strategy.NewIntensity(2, 3*s)
	for i := range 10 {
		in.Allow(at(time.Duration(i) * 2 * s)) // every 2 s: at most 2 in a 3 s window
	}
	// Recorded: ..., 16 s, 18 s.
	for _, c := range []struct {
		now  time.Duration
		want int
	}{{18 * s, 2}, {19 * s, 2}, {19*s + 1, 1}, {21 * s, 1}, {21*s + 1, 0}} {
		if got := in.Used(at(c.now)); got != c.want {
			t.Errorf("after wrap-around, Used at +%v: got %d; want %d", c.now, got, c.want)
		}
	}
	if got := strategy.IntensityRingLen(in); got > 3 {
		t.Errorf("ring length: got %d; want at most 3", got)
	}
}

func TestIntensityUsedZeroValue(t *testing.T) {
	var in strategy.Intensity
	if got := in.Used(t0); got != 0 {
		t.Errorf("zero Intensity: Used = %d; want 0", got)
	}
	in.Allow(t0)
	if got := in.Used(t0); got != 1 {
		t.Errorf("zero Intensity after a refused Allow: Used = %d; want 1", got)
	}
}
