package pipeline_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// testCtx returns a context that ends a little before the test's
// deadline, so a hung test fails with a stack dump instead of a panic.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	d := 60 * time.Second
	if dl, ok := t.Deadline(); ok {
		d = time.Until(dl) - 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// run runs p and fails the test if it does not end in time.
func run(t *testing.T, p *pipeline.Pipeline) error {
	t.Helper()
	ctx := testCtx(t)
	if err := p.Start(context.Background()); err != nil {
		return err
	}
	err := p.Wait(ctx)
	if ctx.Err() != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("pipeline did not finish: %v\n%s", err, buf[:runtime.Stack(buf, true)])
	}
	return err
}

// wait waits for ch or fails the test with a stack dump.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	ctx := testCtx(t)
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		buf := make([]byte, 1<<20)
		t.Fatalf("timed out waiting for %s\n%s", what, buf[:runtime.Stack(buf, true)])
		panic("unreachable")
	}
}

// checkAccounting asserts that nothing is in flight in any stage:
// In = Out + Filtered + DeadLettered everywhere.
func checkAccounting(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	for _, s := range p.Stats() {
		if s.InFlight != 0 || s.In != s.Out+s.Filtered+s.DeadLettered {
			t.Errorf("stage %s: in %d != out %d + filtered %d + dead %d (in flight %d)",
				s.Name, s.In, s.Out, s.Filtered, s.DeadLettered, s.InFlight)
		}
	}
}

func ints(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func stats(t *testing.T, p *pipeline.Pipeline, name string) pipeline.StageStats {
	t.Helper()
	s, ok := p.StageStats(name)
	if !ok {
		t.Fatalf("no stage %q", name)
	}
	return s
}
