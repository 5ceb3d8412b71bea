package strategy

import (
	"math"
	"sort"
	"time"
)

// Intensity is the restart history of one supervisor: it decides when
// too many restarts happened too quickly (OTP MaxR restarts within MaxT,
// FORMAT §4.6). Create one with [NewIntensity]. The zero Intensity allows
// no restart at all (max 0). An Intensity must not be copied after first
// use.
//
// Time is exact: a restart at r is inside the window of a restart at now
// when now-period <= r, to the nanosecond. OTP instead floors both times to
// whole seconds. The two agree whenever the gap between two restarts is
// under period or at least period plus one second, which the OTP
// conformance scenarios guarantee; exact time was chosen so that
// sub-second periods work and a window never depends on where a second
// boundary falls.
//
// Memory is bounded: at most max+1 timestamps are kept, in a ring that
// grows only up to that size (and only as far as restarts actually fall
// inside one window).
type Intensity struct {
	max    int
	period time.Duration
	// ring holds the n timestamps inside the window, oldest at ring[head],
	// in the order they were recorded. len(ring) <= max+1.
	ring []time.Time
	head int
	n    int
}

// NewIntensity returns an Intensity that allows at most maxRestarts
// restarts within any period (OTP intensity and period). A negative
// maxRestarts is treated as 0 and a negative period as 0; with period 0
// only restarts at the very same instant share a window.
func NewIntensity(maxRestarts int, period time.Duration) *Intensity {
	// max+1 timestamps are kept at most: keep that from overflowing.
	return &Intensity{max: min(max(maxRestarts, 0), math.MaxInt32), period: max(period, 0)}
}

// Allow records one restart at time now and reports whether it may go
// ahead. It drops the recorded restarts that fell out of the window (those
// before now-period), adds now, and reports false when more than the
// maximum are then inside the window: with a maximum of 3 the fourth
// restart within one period is refused, and with a maximum of 0 the first
// one is. A refused restart is recorded too; after a refusal the
// supervisor is expected to give up (OTP terminates it) and not call Allow
// again.
//
// now must not decrease from one call to the next; pass times read from a
// monotonic clock. A time earlier than the latest recorded one is taken as
// that latest time.
func (in *Intensity) Allow(now time.Time) bool {
	if in.n > 0 {
		if last := in.at(in.n - 1); now.Before(last) {
			now = last
		}
	}
	cutoff := now.Add(-in.period)
	for in.n > 0 && in.ring[in.head].Before(cutoff) {
		in.ring[in.head] = time.Time{}
		in.head = (in.head + 1) % len(in.ring)
		in.n--
	}
	if in.n == len(in.ring) {
		if size := in.max + 1; len(in.ring) < size {
			in.grow(size)
		} else {
			// Full: max+1 restarts are inside the window, so this one is
			// refused whatever happens. The oldest can go: any later window
			// that contains it contains the max+1 newer ones as well.
			in.head = (in.head + 1) % len(in.ring)
			in.n--
		}
	}
	in.ring[(in.head+in.n)%len(in.ring)] = now
	in.n++
	return in.n <= in.max
}

// Used returns how many of the recorded restarts are inside the window at
// now (at or after now-period), without recording one or forgetting any:
// the intensity usage, to compare with the maximum. After Allow refused a
// restart the refused one is counted too, so Used exceeds the maximum
// only then. As in Allow, a time earlier than the latest recorded restart
// is taken as that latest time. Used reads the Intensity: it must not run
// concurrently with Allow or Reset.
func (in *Intensity) Used(now time.Time) int {
	if in.n == 0 {
		return 0
	}
	if last := in.at(in.n - 1); now.Before(last) {
		now = last
	}
	cutoff := now.Add(-in.period)
	// The recorded restarts are in time order: find the oldest inside.
	return in.n - sort.Search(in.n, func(i int) bool { return !in.at(i).Before(cutoff) })
}

// Reset forgets every recorded restart.
func (in *Intensity) Reset() {
	clear(in.ring)
	in.head, in.n = 0, 0
}

// at returns the i-th recorded restart, oldest first.
func (in *Intensity) at(i int) time.Time {
	return in.ring[(in.head+i)%len(in.ring)]
}

// grow enlarges the full ring, doubling it but never beyond size, and
// moves the oldest timestamp to index 0.
func (in *Intensity) grow(size int) {
	ring := make([]time.Time, min(size, max(4, 2*len(in.ring))))
	for i := range in.n {
		ring[i] = in.at(i)
	}
	in.ring, in.head = ring, 0
}
