package sched_test

import (
	"runtime"
	"testing"
	"time"
)

// budget returns how long a test may wait for an event before it counts as
// hung: most of the time left before the test binary's -timeout, so a hang
// is reported by this test (with stacks) rather than by the test runner.
func budget(t testing.TB) time.Duration {
	dt, ok := t.(interface{ Deadline() (time.Time, bool) }) // *testing.B has none
	if !ok {
		return time.Minute
	}
	d, ok := dt.Deadline()
	if !ok {
		return time.Minute
	}
	left := time.Until(d)
	return left - left/10
}

// recv waits for one value on ch. On timeout it fails the test with every
// goroutine's stack, which shows who is stuck where.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(budget(t))
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf)
		panic("unreachable")
	}
}

// done returns a channel that is closed when wait returns.
func done(wait func()) <-chan struct{} {
	ch := make(chan struct{})
	go func() { // stops when wait returns; the test waits on ch
		wait()
		close(ch)
	}()
	return ch
}

// tagged is an item that knows who pushed it and in which order.
type tagged struct{ sender, seq int }
