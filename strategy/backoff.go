package strategy

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidBackoff is wrapped by the error [Backoff.Validate] returns for
// an invalid configuration.
var ErrInvalidBackoff = errors.New("strategy: invalid backoff")

// Rand is a source of random numbers, uniform in [0, 1). *math/rand/v2.Rand
// and *math/rand.Rand satisfy it; tests pass a deterministic one. A value
// outside [0, 1] is clamped into it.
type Rand interface {
	Float64() float64
}

// Backoff configures the delay before a child is restarted, a troupe
// addition to OTP. The delay starts at Min, is multiplied by Factor at each
// restart up to Max, is jittered, and goes back to Min once the child has
// run for ResetAfter without stopping. Per child, the state lives in a
// [BackoffState].
//
// The zero Backoff means no delay at all, which is exactly the OTP
// behaviour: whenever Min is 0 every delay is 0 and the other fields are
// ignored.
type Backoff struct {
	// Min is the first delay, and the one used again after a reset. 0
	// disables backoff.
	Min time.Duration
	// Max caps every delay, jitter included. With Min > 0 it must be at
	// least Min.
	Max time.Duration
	// Factor multiplies the delay at each restart: the un-jittered delay of
	// the n-th restart since the last reset (n = 0, 1, ...) is
	// min(Min×Factor^n, Max). It must be at least 1; 0 means 2.
	Factor float64
	// Jitter spreads each delay by up to ±Jitter of its un-jittered value.
	// It must be in [0, 1]; 0 means no jitter. See [BackoffState.Next] for
	// the formula.
	Jitter float64
	// ResetAfter is how long a child must have run, from its start to its
	// stop, for the delay to go back to Min. 0 means Max.
	ResetAfter time.Duration
}

// Validate reports whether b is a usable configuration. It returns nil, or
// an error wrapping [ErrInvalidBackoff] that names the first bad field:
// a negative duration, Max < Min when Min > 0, a Factor that is not 0 and
// not a finite number >= 1, or a Jitter outside [0, 1].
func (b Backoff) Validate() error {
	var problem string
	switch {
	case b.Min < 0:
		problem = fmt.Sprintf("Min %v is negative", b.Min)
	case b.Max < 0:
		problem = fmt.Sprintf("Max %v is negative", b.Max)
	case b.Min > 0 && b.Max < b.Min:
		problem = fmt.Sprintf("Max %v is less than Min %v", b.Max, b.Min)
	case b.Factor != 0 && !(b.Factor >= 1 && !math.IsInf(b.Factor, 1)):
		problem = fmt.Sprintf("Factor %v is not a finite number >= 1", b.Factor)
	case !(b.Jitter >= 0 && b.Jitter <= 1):
		problem = fmt.Sprintf("Jitter %v is outside [0, 1]", b.Jitter)
	case b.ResetAfter < 0:
		problem = fmt.Sprintf("ResetAfter %v is negative", b.ResetAfter)
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidBackoff, problem)
}

// normalized applies the defaults and forces every field into its valid
// range, so that a BackoffState never misbehaves on a configuration that
// did not pass Validate.
func (b Backoff) normalized() Backoff {
	if b.Min <= 0 {
		return Backoff{}
	}
	b.Max = max(b.Max, b.Min)
	if b.Factor == 0 || !(b.Factor >= 1) || math.IsInf(b.Factor, 1) {
		b.Factor = 2
	}
	if !(b.Jitter >= 0) {
		b.Jitter = 0
	}
	b.Jitter = min(b.Jitter, 1)
	if b.ResetAfter <= 0 {
		b.ResetAfter = b.Max
	}
	return b
}

// BackoffState tracks the backoff of one child: how far the delay has
// grown since the last reset and when the child last started. Create one
// with [NewBackoffState]. The zero BackoffState behaves as the zero
// [Backoff]: every delay is 0.
//
// The supervisor calls [BackoffState.Next] before each restart of the
// child (retries after a failed start included) and waits for the delay it
// returns, [BackoffState.Started] when the child has started, and
// [BackoffState.Stopped] when it has ended.
type BackoffState struct {
	cfg Backoff // normalized
	// base is the un-jittered delay, in nanoseconds, that the next call of
	// Next uses; 0 stands for cfg.Min. It is kept as a float so that small
	// delays grow even when Factor is close to 1.
	base    float64
	started time.Time // valid while running
	running bool
}

// NewBackoffState returns the state of a child that has not been restarted
// yet, for the configuration b. It does not validate b (call
// [Backoff.Validate] for that); it applies the defaults and forces invalid
// fields into range: a negative Min disables backoff, Max is raised to
// Min, an invalid Factor becomes 2, Jitter is clamped into [0, 1] (NaN
// becomes 0), and a non-positive ResetAfter becomes Max.
func NewBackoffState(b Backoff) *BackoffState {
	return &BackoffState{cfg: b.normalized()}
}

// Next returns the delay to wait before the next restart of the child and
// advances the un-jittered delay for the restart after it.
//
// With base = min(Min×Factor^n, Max) for the n-th call since the last
// reset, J = Jitter and u = rnd.Float64(), the delay is
//
//	clamp(base × (1 + J×(2u − 1)), 0, Max)
//
// truncated to a whole nanosecond. It therefore always lies in
// [base×(1−J), min(base×(1+J), Max)] (up to that truncation), hence in
// [Min×(1−J), Max], and never below 0 since J <= 1. The un-jittered base
// never decreases between resets, and once it has reached Max, delays
// above Max are cut to Max, so at the cap the upper half of the spread
// collapses onto Max.
//
// When Min is 0 Next returns 0. rnd is called once per Next when Min > 0
// and Jitter > 0, and not at all otherwise. A nil rnd is allowed and means
// no jitter.
func (s *BackoffState) Next(rnd Rand) time.Duration {
	c := s.cfg
	if c.Min <= 0 {
		return 0
	}
	base := s.base
	if base == 0 {
		base = float64(c.Min)
	}
	s.base = min(base*c.Factor, float64(c.Max))
	if c.Jitter == 0 || rnd == nil {
		return clampDuration(base, c.Max)
	}
	u := rnd.Float64()
	if !(u >= 0) { // negative or NaN
		u = 0
	}
	u = min(u, 1)
	return clampDuration(base*(1+c.Jitter*(2*u-1)), c.Max)
}

// clampDuration converts ns to a Duration in [0, hi], truncating toward
// zero. Comparing in float64 first also keeps a hi near math.MaxInt64 from
// overflowing the conversion.
func clampDuration(ns float64, hi time.Duration) time.Duration {
	switch {
	case ns >= float64(hi):
		return hi
	case ns <= 0:
		return 0
	}
	return time.Duration(ns)
}

// Started records that the child started at now.
func (s *BackoffState) Started(now time.Time) {
	s.started, s.running = now, true
}

// Stopped records that the child ended at now, whatever the reason. If it
// had run for at least ResetAfter since [BackoffState.Started], the state is
// reset: the next delay is Min again. Stopped without a matching Started
// (the start failed, or Stopped was already called) resets nothing.
func (s *BackoffState) Stopped(now time.Time) {
	if s.running && now.Sub(s.started) >= s.cfg.ResetAfter {
		s.Reset()
	}
	s.running = false
}

// Reset makes the next delay Min again, as if the child had never been
// restarted. It does not change whether the child is considered running.
func (s *BackoffState) Reset() {
	s.base = 0
}
