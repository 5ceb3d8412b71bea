package pool_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// newSys returns a System that counts its dead letters, shut down when
// the test ends.
func newSys(t *testing.T) (*actor.System, *atomic.Int64) {
	t.Helper()
	var dead atomic.Int64
	sys := actor.NewSystem(actor.WithDeadLetters(func(actor.DeadLetter) { dead.Add(1) }))
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	return sys, &dead
}

// callCtx is bounded by the test's deadline (or 10 s).
func callCtx(t *testing.T) context.Context {
	t.Helper()
	d, ok := t.Deadline()
	if !ok {
		d = time.Now().Add(10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), d.Add(-time.Second))
	t.Cleanup(cancel)
	return ctx
}

// recv waits for a value from ch, bounded by ctx.
func recv[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

// job is the message of most tests: the worker reports (worker, id) on
// done.
type job struct {
	id  int
	key string
}

type done struct {
	worker string
	job    job
}

// reporter returns a factory of workers that send what they handled to
// out.
func reporter(out chan<- done) func() actor.Actor[job] {
	return func() actor.Actor[job] {
		return actor.Func[job](func(ctx actor.Context, j job) error {
			out <- done{worker: ctx.Self().Name(), job: j}
			return nil
		})
	}
}
