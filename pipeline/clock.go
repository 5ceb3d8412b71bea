package pipeline

import "time"

// epoch is the origin of mono.
var epoch = time.Now()

// mono reads the monotonic clock: the time since epoch. It is
// what the hot paths time with (processing, waiting and sending times,
// the busy mark of a worker): time.Since reads only the monotonic clock,
// half the cost of time.Now, which reads the wall clock too. Inside a
// testing/synctest bubble it follows the bubble's fake clock (and may be
// negative: the bubble's clock starts in 2000).
func mono() time.Duration { return time.Since(epoch) }

// monoWall converts a reading of mono to wall-clock time.
func monoWall(m time.Duration) time.Time {
	return time.Now().Add(m - mono())
}

// busyMark is the busySince mark of a worker that started at m (a
// reading of mono): m, or 1 ns earlier if m is 0, which means idle.
func busyMark(m time.Duration) int64 {
	if m == 0 {
		return -1
	}
	return int64(m)
}
