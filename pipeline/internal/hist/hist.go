// Package hist is a lock-free latency histogram: log-linear, 8 buckets
// per power of 2, so a quantile it reports is within about 7% of the
// true one. Any number of goroutines may record and read at once.
package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// nBuckets covers every non-negative int64: values below 8 have a bucket
// each, then 8 per power of 2 up to 2^63.
const nBuckets = 512

// A Histogram counts durations. The zero Histogram is empty and ready to
// use; it must not be copied after first use.
type Histogram struct {
	buckets [nBuckets]atomic.Uint64
	max     atomic.Int64
}

// A Summary is a histogram read at one time: the number of samples, three
// quantiles (bucket upper bounds, capped at Max) and the largest sample.
type Summary struct {
	Count              uint64
	P50, P90, P99, Max time.Duration
}

// bucketOf returns the bucket of v: v itself below 8, then 8 buckets per
// power of 2 (the 3 bits below the leading one).
func bucketOf(v uint64) int {
	if v < 8 {
		return int(v)
	}
	e := bits.Len64(v) - 1
	return (e-2)*8 + int((v>>(e-3))&7)
}

// bucketUpper returns the largest value of bucket i.
func bucketUpper(i int) uint64 {
	if i < 8 {
		return uint64(i)
	}
	e := i/8 + 2
	sub := uint64(i % 8)
	return (8+sub+1)<<(e-3) - 1
}

// Record adds n samples of d/n each (one batch of n items that took d);
// n ≤ 0 records nothing, a negative d counts as 0.
func (h *Histogram) Record(d time.Duration, n int) {
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

// Summary reads the histogram. Concurrent Records may or may not be
// included.
func (h *Histogram) Summary() Summary {
	var counts [nBuckets]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	l := Summary{Count: total, Max: time.Duration(h.max.Load())}
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

// Reset empties the histogram. It must not run concurrently with Record
// (a sample recorded meanwhile may be half kept).
func (h *Histogram) Reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.max.Store(0)
}
