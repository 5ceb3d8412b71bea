package pipeline

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// StageStats are the counters of one stage (or source or merge). At every
// quiescent point In = Out + Filtered + DeadLettered, that is, InFlight
// is 0: nothing is lost. For a source, In counts the items read from its
// input.
type StageStats struct {
	Name string
	// Kind is "source", "map", "filter", "flatmap", "batch", "keyed",
	// "merge", "priority" or "sink".
	Kind string
	// Workers is the number of active workers.
	Workers int
	// In counts items accepted into the stage's mailboxes.
	In uint64
	// Out counts input items the stage finished successfully (for a
	// flat-map, inputs whose outputs were all emitted; for a sink, items
	// consumed).
	Out uint64
	// Emitted counts items the stage passed downstream.
	Emitted uint64
	// Filtered counts items a filter dropped.
	Filtered uint64
	// DeadLettered counts items that went to the dead-letter store from
	// this stage, Stopped those among them dead-lettered because the
	// pipeline stopped.
	DeadLettered, Stopped uint64
	// Errors counts failed attempts (returned errors and panics);
	// Retries counts attempts after the first.
	Errors, Retries uint64
	// Restarts counts worker restarts; StageRestarts counts restarts of
	// the whole stage after its supervisor gave up.
	Restarts, StageRestarts uint64
	// InFlight is In − Out − Filtered − DeadLettered: items queued, being
	// handled, or held (batch and keyed state, reorder buffer).
	InFlight int64
	// Queued counts items waiting in the workers' mailboxes.
	Queued int64
	// ScaleUps and ScaleDowns count autoscaler decisions.
	ScaleUps, ScaleDowns uint64
	// Latency is the distribution of per-item processing time, measured
	// per batch (batch time / items).
	Latency Latency
}

// Latency summarises a latency distribution (bucketed, within about 7%).
type Latency struct {
	Count              uint64
	P50, P90, P99, Max time.Duration
}

// histogram is a lock-free log-linear histogram: 8 buckets per power of 2.
type histogram struct {
	buckets [512]atomic.Uint64
	max     atomic.Int64
}

func bucketOf(v uint64) int {
	if v < 8 {
		return int(v)
	}
	e := bits.Len64(v) - 1
	return (e-2)*8 + int((v>>(e-3))&7)
}

func bucketUpper(i int) uint64 {
	if i < 8 {
		return uint64(i)
	}
	e := i/8 + 2
	sub := uint64(i % 8)
	return (8+sub+1)<<(e-3) - 1
}

// record adds n samples of d/n.
func (h *histogram) record(d time.Duration, n int) {
	if n <= 0 {
		return
	}
	per := int64(d) / int64(n)
	if per < 0 {
		per = 0
	}
	h.buckets[bucketOf(uint64(per))].Add(uint64(n))
	for {
		m := h.max.Load()
		if per <= m || h.max.CompareAndSwap(m, per) {
			break
		}
	}
}

func (h *histogram) summary() Latency {
	var counts [512]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	l := Latency{Count: total, Max: time.Duration(h.max.Load())}
	if total == 0 {
		return l
	}
	q := func(f float64) time.Duration {
		rank := uint64(f * float64(total))
		if rank >= total {
			rank = total - 1
		}
		var acc uint64
		for i, c := range counts {
			acc += c
			if acc > rank {
				return min(time.Duration(bucketUpper(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99 = q(0.5), q(0.9), q(0.99)
	return l
}
