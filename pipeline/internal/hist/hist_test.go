package hist

import (
	"math"
	"sync"
	"testing"
	"time"
)

// checkBucket asserts that v falls in bucket bucketOf(v): above the
// previous bucket's upper bound and at most its own, which is within
// 1/8 of v.
func checkBucket(t *testing.T, v uint64) {
	t.Helper()
	b := bucketOf(v)
	if b < 0 || b >= nBuckets {
		t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, b, nBuckets)
	}
	up := bucketUpper(b)
	if v > up {
		t.Fatalf("bucketOf(%d) = %d whose upper bound %d is below it", v, b, up)
	}
	if b > 0 && v <= bucketUpper(b-1) {
		t.Fatalf("bucketOf(%d) = %d but bucket %d already ends at %d", v, b, b-1, bucketUpper(b-1))
	}
	if float64(up-v) > float64(v)/8 {
		t.Fatalf("bucket %d of %d ends at %d: more than 1/8 above it", b, v, up)
	}
}

func TestBucketsTileTheLine(t *testing.T) {
	for v := range uint64(4096) {
		checkBucket(t, v)
	}
	for e := 3; e < 63; e++ {
		p := uint64(1) << e
		for _, v := range []uint64{p - 1, p, p + 1, p + p/2} {
			checkBucket(t, v)
		}
	}
	checkBucket(t, math.MaxInt64)
}

func FuzzBucket(f *testing.F) {
	for _, v := range []uint64{0, 7, 8, 9, 15, 16, 1000, 1 << 40, math.MaxInt64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		checkBucket(t, v&math.MaxInt64) // Record only takes non-negative int64
	})
}

func TestSummary(t *testing.T) {
	var h Histogram
	if s := h.Summary(); s != (Summary{}) {
		t.Fatalf("empty histogram: %+v; want zero", s)
	}
	// 90 samples of 1ms, 9 of 10ms, 1 of 100ms.
	h.Record(90*time.Millisecond, 90)
	h.Record(90*time.Millisecond, 9)
	h.Record(100*time.Millisecond, 1)
	s := h.Summary()
	if s.Count != 100 || s.Max != 100*time.Millisecond {
		t.Fatalf("Count %d Max %v; want 100, 100ms", s.Count, s.Max)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{{"P50", s.P50, time.Millisecond}, {"P90", s.P90, 10 * time.Millisecond}, {"P99", s.P99, 100 * time.Millisecond}} {
		if c.got < c.want || float64(c.got-c.want) > float64(c.want)/8 {
			t.Errorf("%s = %v; want %v within 1/8 above", c.name, c.got, c.want)
		}
	}
}

func TestRecordEdges(t *testing.T) {
	var h Histogram
	h.Record(time.Second, 0)
	h.Record(time.Second, -3)
	if s := h.Summary(); s.Count != 0 {
		t.Fatalf("n ≤ 0 recorded %d samples", s.Count)
	}
	h.Record(-time.Second, 2)
	if s := h.Summary(); s.Count != 2 || s.Max != 0 || s.P99 != 0 {
		t.Fatalf("negative duration: %+v; want 2 samples of 0", s)
	}
}

// TestQuantileCappedAtMax: a quantile is a bucket's upper bound, but
// never above the largest sample.
func TestQuantileCappedAtMax(t *testing.T) {
	var h Histogram
	h.Record(1000, 1) // bucket upper bound 1023
	if s := h.Summary(); s.P50 != 1000 || s.P99 != 1000 {
		t.Fatalf("one sample of 1000ns: P50 %v P99 %v; want 1µs", s.P50, s.P99)
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		// Owner: this test; waited for by wg.Wait below.
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i), 1)
			}
		}()
	}
	wg.Wait()
	s := h.Summary()
	if s.Count != 4000 || s.Max != 3999 {
		t.Fatalf("Count %d Max %v; want 4000, 3.999µs", s.Count, s.Max)
	}
}

func TestReset(t *testing.T) {
	var h Histogram
	h.Record(time.Second, 5)
	h.Reset()
	if s := h.Summary(); s != (Summary{}) {
		t.Fatalf("after Reset: %+v; want zero", s)
	}
}
