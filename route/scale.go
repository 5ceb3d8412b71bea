package route

import "time"

// Scale configures an autoscaler (see Scaler). There are Max workers;
// senders route only to the first n of them, the active ones, and the
// autoscaler moves n between Min and Max. (An inactive worker finishes
// what is queued for it.)
//
// Every Every, it samples the queue depth (work queued at the workers, as
// a fraction of their capacity) and the workers' utilisation (time spent
// handling work / time / n). It adds a worker when, for UpAfter samples in
// a row, the queue was not shrinking and either at least High full or not
// empty with the workers busy at least 90% of the time. (A shrinking queue
// means the workers catch up: adding one then would overshoot.) It removes
// one when, for DownAfter samples in a row, the queue was at most Low full
// and the utilisation would stay under 90% with one worker less: below
// 0.9 × (n−1)/n. After each change the counts start again. The gap between
// the two rules is the hysteresis that keeps it from oscillating: at the
// smallest n that keeps up, the queue does not grow and the utilisation is
// above (n−1)/n, so neither fires.
type Scale struct {
	Min, Max int
	// High and Low are fractions of the capacity. Defaults (0): 0.5 and
	// 0.1.
	High, Low float64
	// Every is the sampling interval. Default 100 ms.
	Every time.Duration
	// UpAfter and DownAfter are the numbers of consecutive samples that
	// trigger a change. Defaults 2 and 5.
	UpAfter, DownAfter int
}

// Normalize returns s with its zero fields set to their defaults, or
// an error wrapping ErrInvalid: Min below 1, Max below Min, thresholds
// outside 0 ≤ Low < High ≤ 1, or a negative interval or count.
func (s Scale) Normalize() (Scale, error) {
	if s.Min < 1 || s.Max < s.Min {
		return s, invalidf("autoscale between %d and %d workers", s.Min, s.Max)
	}
	if s.High == 0 {
		s.High = 0.5
	}
	if s.Low == 0 {
		s.Low = 0.1
	}
	if !(s.High > 0 && s.High <= 1 && s.Low >= 0 && s.Low < s.High) || s.Every < 0 || s.UpAfter < 0 || s.DownAfter < 0 {
		return s, invalidf("autoscale thresholds %+v", s)
	}
	if s.Every == 0 {
		s.Every = 100 * time.Millisecond
	}
	if s.UpAfter == 0 {
		s.UpAfter = 2
	}
	if s.DownAfter == 0 {
		s.DownAfter = 5
	}
	return s, nil
}

// A Scaler is the decision state of one autoscaler: it is given one
// sample at a time and says how many workers should be active. It belongs
// to one goroutine (the one that samples).
type Scaler struct {
	cfg       Scale
	capacity  int
	lastBusy  time.Duration
	lastDepth int
	last      time.Time
	c         counts
}

// NewScaler returns the Scaler of s (defaults applied) for workers that
// each hold up to capacity queued units (messages, or batches), starting
// its first interval at now.
func NewScaler(s Scale, capacity int, now time.Time) (*Scaler, error) {
	s, err := s.Normalize()
	if err != nil {
		return nil, err
	}
	if capacity < 1 {
		return nil, invalidf("autoscale with capacity %d", capacity)
	}
	return &Scaler{cfg: s, capacity: capacity, last: now}, nil
}

// Config returns the scale, defaults applied.
func (sc *Scaler) Config() Scale { return sc.cfg }

// up and down count the consecutive samples for a change; they live in
// a second struct so Sample reads as the rules.
type counts struct{ up, down int }

// Sample records one sample taken at now: active workers, depth units
// queued at all of them, and busy, the total time the workers have spent
// handling work so far (it only grows). It returns the number of workers
// that should be active: active, active+1 or active−1.
func (sc *Scaler) Sample(now time.Time, active, depth int, busy time.Duration) int {
	n := active
	dt := now.Sub(sc.last)
	util := 0.0
	if dt > 0 && n > 0 {
		util = float64(busy-sc.lastBusy) / (float64(dt) * float64(n))
	}
	fill := float64(depth) / float64(max(n, 1)*sc.capacity)
	growing := depth >= sc.lastDepth
	sc.lastBusy, sc.last, sc.lastDepth = busy, now, depth
	switch {
	case n < sc.cfg.Max && growing && (fill >= sc.cfg.High || (util >= 0.9 && depth > 0)):
		sc.c.down = 0
		if sc.c.up++; sc.c.up >= sc.cfg.UpAfter {
			sc.c.up = 0
			return n + 1
		}
	case n > sc.cfg.Min && fill <= sc.cfg.Low && util < 0.9*float64(n-1)/float64(n):
		sc.c.up = 0
		if sc.c.down++; sc.c.down >= sc.cfg.DownAfter {
			sc.c.down = 0
			return n - 1
		}
	default:
		sc.c = counts{}
	}
	return n
}
