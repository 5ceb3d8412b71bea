package cases

// The plain side of the pipeline cases (see pipeline.go): the canonical
// hand-written channel pipeline, built anew for every iteration.
//
//   - source: a goroutine sends the items of the shared input slice on a
//     channel and closes it.
//   - map: one goroutine ranges over the source channel and sends 2v on the
//     next channel, which it closes at the end.
//   - work: 4 goroutines range over that one channel (so a free worker takes
//     the next item) and send v+1 on the sink channel; a WaitGroup counts
//     them and a closer goroutine closes the sink channel once all 4 exited.
//   - sink: the benchmark goroutine ranges over the sink channel and adds
//     up the items.
//
// pipeline-4stage gives every channel capacity 1024;
// pipeline-4stage-unbuffered makes them unbuffered, so every hand-off is a
// rendezvous. Every goroutine has exited (its channel closed, the sink's
// range done) before the iteration ends.

import (
	"sync"
	"testing"
)

func plainPipeline(b *testing.B, n, capacity int) {
	items := pipelineInput(n)
	b.ResetTimer()
	for range b.N {
		src, mapped, out := make(chan int, capacity), make(chan int, capacity), make(chan int, capacity)
		go func() { // source: exits after the last item, closing src
			defer close(src)
			for _, v := range items {
				src <- v
			}
		}()
		go func() { // map: exits when src is closed, closing mapped
			defer close(mapped)
			for v := range src {
				mapped <- pipelineMap(v)
			}
		}()
		var workers sync.WaitGroup
		for range 4 {
			workers.Add(1)
			go func() { // work: exits when mapped is closed; counted by workers
				defer workers.Done()
				for v := range mapped {
					out <- pipelineWork(v)
				}
			}()
		}
		go func() { // closer: exits once the workers did, closing out
			workers.Wait()
			close(out)
		}()
		sum := 0
		for v := range out {
			sum += v
		}
		checkPipelineSum(b, "plain", n, sum)
	}
	b.StopTimer()
	reportItemsPerSec(b, n)
}
