package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/strategy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWorkerpool(t *testing.T) {
	const seed = 42
	var out strings.Builder
	if err := run(&out, rand.New(rand.NewPCG(seed, seed))); err != nil {
		t.Fatal(err)
	}
	got := out.String()

	// The same seed gives the same jitter: replay the supervisor's backoff.
	bs := strategy.NewBackoffState(backoff)
	rnd := rand.New(rand.NewPCG(seed, seed))
	var want []string
	base := backoff.Min
	for attempt := 1; attempt <= attempts; attempt++ {
		d := bs.Next(rnd)
		lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
		if d < lo || d > hi {
			t.Errorf("delay %d = %v, want within [%v, %v]", attempt, d, lo, hi)
		}
		base *= 2
		want = append(want,
			fmt.Sprintf("failed    /pool/worker-3: actor /pool/worker-3 failed (attempt %d): actor: panic: job 5: corrupt payload", attempt),
			fmt.Sprintf("backoff   /pool/worker-3: restart in %v", d.Round(time.Microsecond)))
	}
	want = append(want,
		"worker-1: 4 jobs done",
		"worker-2: 4 jobs done",
		"worker-3: 3 jobs done",
		"dead letter: {ID:5} to /pool/worker-3, poison after 3 attempts: actor /pool/worker-3 failed (attempt 3): actor: panic: job 5: corrupt payload",
	)
	if w := strings.Join(want, "\n") + "\n"; got != w {
		t.Errorf("output:\n%s\nwant:\n%s", got, w)
	}
}
