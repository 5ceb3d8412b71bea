package strategy_test

import (
	"fmt"
	"time"

	"github.com/troupe-go/troupe/strategy"
)

// This example handles the crash of child b under rest_for_one, as in the
// OTP conformance scenario 24: the children after b are stopped in reverse
// order, the temporary child t is dropped, and the transient child tr,
// which had exited normally before, is started again.
func ExampleGroup() {
	children := []strategy.ChildState{
		{ID: "a", Restart: strategy.Permanent},
		{ID: "b", Restart: strategy.Permanent, Status: strategy.Down}, // just crashed
		{ID: "t", Restart: strategy.Temporary},
		{ID: "tr", Restart: strategy.Transient, Status: strategy.Down},
		{ID: "c", Restart: strategy.Permanent},
	}
	const failed = 1

	action := strategy.OnExit(children[failed].Restart, strategy.Failed)
	fmt.Println("action:", action)

	intensity := strategy.NewIntensity(3, 5*time.Second)
	if !intensity.Allow(time.Unix(100, 0)) {
		fmt.Println("give up")
		return
	}

	plan := strategy.Group(strategy.RestForOne, children, failed)
	for _, i := range plan.Stop {
		fmt.Println("stop", children[i].ID)
	}
	for _, i := range plan.Remove {
		fmt.Println("remove", children[i].ID)
	}
	for _, i := range plan.Start {
		fmt.Println("start", children[i].ID)
	}
	// Output:
	// action: restart
	// stop c
	// stop t
	// remove t
	// start b
	// start tr
	// start c
}

// This example shows the delays before successive restarts of one child,
// and the reset after the child ran stably. A fixed random source makes
// the jitter visible and the output deterministic; a supervisor would pass
// a *rand.Rand from math/rand/v2.
func ExampleBackoffState() {
	b := strategy.Backoff{
		Min:        100 * time.Millisecond,
		Max:        time.Second,
		Jitter:     0.2,
		ResetAfter: 10 * time.Second,
	}
	if err := b.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	s := strategy.NewBackoffState(b)
	noJitter := fixedRand(0.5) // u = 0.5: the delay is the un-jittered base
	for range 5 {
		fmt.Println(s.Next(noJitter))
	}
	fmt.Println("jittered:", s.Next(fixedRand(0.75))) // base 1s × (1 + 0.2×0.5), cut to Max
	fmt.Println("jittered:", s.Next(fixedRand(0.25))) // base 1s × (1 − 0.2×0.5)

	start := time.Unix(0, 0)
	s.Started(start)
	s.Stopped(start.Add(time.Minute)) // ran stably for more than ResetAfter
	fmt.Println("after a stable run:", s.Next(noJitter))
	// Output:
	// 100ms
	// 200ms
	// 400ms
	// 800ms
	// 1s
	// jittered: 1s
	// jittered: 900ms
	// after a stable run: 100ms
}

// This example shows OTP's restart intensity: at most 3 restarts in any 5
// seconds. The fourth restart within 5 seconds makes the supervisor give
// up.
func ExampleIntensity() {
	in := strategy.NewIntensity(3, 5*time.Second)
	start := time.Unix(0, 0)
	for _, sec := range []int{0, 1, 7, 8, 9, 10} {
		fmt.Printf("restart at %2ds: %v\n", sec, in.Allow(start.Add(time.Duration(sec)*time.Second)))
	}
	// Output:
	// restart at  0s: true
	// restart at  1s: true
	// restart at  7s: true
	// restart at  8s: true
	// restart at  9s: true
	// restart at 10s: false
}
