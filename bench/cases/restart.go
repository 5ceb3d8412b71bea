package cases

// The supervision cases: what a crash costs until the actor works again.
// The per-implementation setup is described at the top of restart_troupe.go,
// restart_protoactor.go and restart_plain.go; this file holds what they
// share.
//
//   - restart-latency-p50 / restart-latency-p99 (ns): a closed loop of b.N
//     rounds. Each round sends "panic" and then "ping" to one worker and
//     waits for the answer. The worker reads time.Now just before it panics;
//     the next incarnation reads time.Now when "ping" reaches it and sends
//     the difference back. The cases report the 50th and the 99th
//     percentile of those b.N durations. Both rows come from the same
//     benchmark function, which reports both metrics (p50-ns and p99-ns).
//   - restarts-per-sec (restarts/s, higher is better): b.N "panic", "ping"
//     pairs sent back to back, without waiting in between, to one worker that
//     counts the pings and signals after the b.N-th. Every panic is one
//     restart; the case reports b.N divided by the elapsed time. It is the
//     sustained rate, queueing included, where the latency cases measure one
//     restart at a time.
//   - rest-for-one-10 (ns/restart): 10 workers; a "panic" sent to the first
//     one restarts all 10, and each incarnation's start signals a
//     WaitGroup. The case times b.N such group restarts, one after another.
//
// The crashing worker panics (rather than returning an error) on every side,
// and the panicking message is not redelivered to the fresh incarnation.
// State that must survive a crash (the crash time, the ping count) lives
// outside the actor, in a restartProbe or restartCounter shared by all the
// incarnations of one benchmark run.

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The messages of the supervision cases.
const (
	msgPanic = "panic"
	msgPing  = "ping"
)

// restartGroupSize is the number of workers of rest-for-one-10.
const restartGroupSize = 10

// restartIntensity is the restart budget every supervisor gets, high enough
// that none gives up within a run. It is not math.MaxInt: troupe's
// strategy.Intensity sizes its history as max+1 and would overflow.
const restartIntensity = 1 << 30

// errBenchCrash is the value the workers panic with.
var errBenchCrash = errors.New("bench: crash requested")

// A restartProbe carries the crash time of one incarnation to the next and
// hands the measured restart latency to the benchmark goroutine.
type restartProbe struct {
	// crashAt is written by the incarnation that crashes and read by the
	// next one. The restart orders the two: whatever a side does to start
	// the fresh incarnation (a supervisor's message, a go statement) comes
	// after the panic and before the next message is handled.
	crashAt time.Time
	// lat receives one latency per "ping"; the benchmark goroutine reads it.
	lat chan time.Duration
}

func newRestartProbe() *restartProbe {
	return &restartProbe{lat: make(chan time.Duration)}
}

// handle is the worker's Receive: it crashes on msgPanic and reports the
// time since the last crash on any other message.
func (p *restartProbe) handle(m string) {
	if m == msgPanic {
		p.crashAt = time.Now()
		panic(errBenchCrash)
	}
	p.lat <- time.Since(p.crashAt)
}

// measureRestartLatency runs the closed loop of restart-latency-*: send
// "panic" then "ping" with send, wait for the latency, b.N times. It reports
// the p50 and p99 of the latencies as "p50-ns" and "p99-ns".
func measureRestartLatency(b *testing.B, p *restartProbe, send func(m string)) {
	lats := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range lats {
		send(msgPanic)
		send(msgPing)
		lats[i] = <-p.lat
	}
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(percentile(lats, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(lats, 99)), "p99-ns")
}

// percentile returns the nearest-rank q-th percentile of sorted, which must
// not be empty.
func percentile(sorted []time.Duration, q int) time.Duration {
	i := (len(sorted)*q + 99) / 100 // ceil(n*q/100), the 1-based rank
	return sorted[max(i, 1)-1]
}

// A restartCounter counts the pings handled across incarnations and closes
// done at the n-th.
type restartCounter struct {
	n    int
	seen int // touched by one incarnation at a time, ordered by the restarts
	done chan struct{}
}

func newRestartCounter(n int) *restartCounter {
	return &restartCounter{n: n, done: make(chan struct{})}
}

// handle is the worker's Receive: it crashes on msgPanic and counts any
// other message.
func (c *restartCounter) handle(m string) {
	if m == msgPanic {
		panic(errBenchCrash)
	}
	c.seen++
	if c.seen == c.n {
		close(c.done)
	}
}

// measureRestartRate sends b.N "panic", "ping" pairs with send, waits for
// the last ping to be handled and reports b.N per elapsed second as
// "restarts/s".
func measureRestartRate(b *testing.B, c *restartCounter, send func(m string)) {
	b.ResetTimer()
	for range b.N {
		send(msgPanic)
		send(msgPing)
	}
	<-c.done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "restarts/s")
}
