package cases

// The troupe side of the pipeline cases (see pipeline.go), through the
// pipeline package with its defaults.
//
// Each iteration builds a new pipeline.New() (a pipeline cannot be reused)
// and runs it with Run(context.Background()), which returns once the sink
// has handled the end of stream and everything stopped; building and
// stopping are inside the timed part, as they are for the plain side's
// goroutines.
//
//   - source: pipeline.FromSlice over the shared input slice.
//   - map: pipeline.Map with the default single worker.
//   - work: pipeline.Map with pipeline.WithWorkers(4) and the default router,
//     LeastLoaded, which behaves like the plain side's shared channel.
//   - sink: pipeline.ToFunc with its single worker adding up the items.
//
// Defaults that matter here: items move between actors in batches of
// pipeline.DefaultBatchSize (128) items, and each worker's mailbox holds
// pipeline.DefaultBuffer (1024) items, blocking producers when full (the
// same bound as the plain side's channels). The plain and protoactor sides
// move one item per send; pipeline-4stage-batch1 runs troupe with
// WithBatchSize(1), one item per message too.

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe/pipeline"
)

func troupePipeline(b *testing.B, n int, opts ...pipeline.Option) {
	items := pipelineInput(n)
	double := func(_ context.Context, v int) (int, error) { return pipelineMap(v), nil }
	inc := func(_ context.Context, v int) (int, error) { return pipelineWork(v), nil }
	b.ResetTimer()
	for range b.N {
		p := pipeline.New(opts...)
		src := pipeline.FromSlice(p, "source", items)
		mapped := pipeline.Map(src, "map", double)
		worked := pipeline.Map(mapped, "work", inc, pipeline.WithWorkers(4))
		sum := 0 // touched only by the sink's single worker, read after Run
		pipeline.ToFunc(worked, "sink", func(_ context.Context, v int) error {
			sum += v
			return nil
		})
		if err := p.Run(context.Background()); err != nil {
			b.Fatalf("troupe pipeline: %v", err)
		}
		checkPipelineSum(b, "troupe", n, sum)
	}
	b.StopTimer()
	reportItemsPerSec(b, n)
}
