package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// TestAbandonedSourceOutlivesWait pins what the package doc says of a
// source that ignores its context: the pipeline waits for it
// WithShutdown, then abandons it, and Wait returns while it still
// runs; its goroutine ends when the function returns.
func TestAbandonedSourceOutlivesWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, returned := make(chan struct{}), make(chan struct{})
		entered := make(chan struct{})
		p := pipeline.New(pipeline.WithShutdown(time.Second))
		src := pipeline.FromFunc(p, "src", func(_ context.Context, _ func(int) error) error {
			defer close(returned)
			close(entered)
			<-release // ignores its context
			return nil
		})
		pipeline.Collect(src, "out")
		ctx, cancel := context.WithCancel(context.Background())
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		<-entered
		start := time.Now()
		cancel()
		if err := p.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait: got %v; want context.Canceled", err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("Wait returned after %v; want it to wait the shutdown timeout (1s) for the source", d)
		}
		select {
		case <-returned:
			t.Fatalf("the source returned before Wait; want it still running (abandoned)")
		default:
		}
		close(release)
		<-returned // the bubble then checks that its goroutines ended
	})
}
