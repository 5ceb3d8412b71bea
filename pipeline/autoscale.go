package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// Scale configures a stage's autoscaler (see Autoscale). The stage has
// Max worker actors; producers route only to the first n of them, the
// active ones, and the autoscaler moves n between Min and Max. (An
// inactive worker holds no goroutine; it finishes what is queued for it.)
//
// Every Every, it samples the queue depth (batches queued in the
// workers' mailboxes, as a fraction of their capacity) and the workers'
// utilisation (time spent handling items / time / n). It adds a worker
// when, for UpAfter samples in a row, the queue was not shrinking and
// either at least High full or not empty with the workers busy at least
// 90% of the time. (A shrinking queue means the workers catch up: adding
// one then would overshoot.) It removes one when, for DownAfter samples in a row,
// the queue was at most Low full and the utilisation would stay under 90%
// with one worker less: below 0.9 × (n−1)/n. After each change the counts
// start again. The gap between the two rules is the hysteresis that
// keeps it from oscillating: at the smallest n that keeps up, the queue
// does not grow and the utilisation is above (n−1)/n, so neither fires.
type Scale struct {
	Min, Max int
	// High and Low are fractions of the mailbox capacity. Defaults (0):
	// 0.5 and 0.1.
	High, Low float64
	// Every is the sampling interval. Default 100 ms.
	Every time.Duration
	// UpAfter and DownAfter are the numbers of consecutive samples that
	// trigger a change. Defaults 2 and 5.
	UpAfter, DownAfter int
}

func (s Scale) withDefaults() (Scale, error) {
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

// scaler is the autoscaler state of one stage, owned by the pipeline's
// autoscale goroutine (busy is added to by the workers).
type scaler struct {
	st        *stage
	cfg       Scale
	depth     func() int // batches queued in all the stage's mailboxes
	capB      int        // mailbox capacity in batches
	busy      atomic.Int64
	lastBusy  int64
	lastDepth int
	last      time.Time
	up, down  int
}

// sample runs one step of the autoscaler.
func (sc *scaler) sample(now time.Time) {
	st := sc.st
	n := int(st.active.Load())
	depth := sc.depth()
	busy := sc.busy.Load()
	dt := now.Sub(sc.last)
	util := 0.0
	if dt > 0 && n > 0 {
		util = float64(busy-sc.lastBusy) / (float64(dt) * float64(n))
	}
	fill := float64(depth) / float64(max(n, 1)*sc.capB)
	growing := depth >= sc.lastDepth
	sc.lastBusy, sc.last, sc.lastDepth = busy, now, depth
	switch {
	case n < sc.cfg.Max && growing && (fill >= sc.cfg.High || (util >= 0.9 && depth > 0)):
		sc.down = 0
		if sc.up++; sc.up >= sc.cfg.UpAfter {
			st.active.Store(int32(n + 1))
			st.scaleUps.Add(1)
			sc.up = 0
		}
	case n > sc.cfg.Min && fill <= sc.cfg.Low && util < 0.9*float64(n-1)/float64(n):
		sc.up = 0
		if sc.down++; sc.down >= sc.cfg.DownAfter {
			st.active.Store(int32(n - 1))
			st.scaleDowns.Add(1)
			sc.down = 0
		}
	default:
		sc.up, sc.down = 0, 0
	}
}

// autoscaleLoop samples every autoscaled stage until ctx ends.
func autoscaleLoop(ctx context.Context, sc *scaler) {
	tk := time.NewTicker(sc.cfg.Every)
	defer tk.Stop()
	sc.last = time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			sc.sample(now)
		}
	}
}
