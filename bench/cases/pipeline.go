package cases

// The pipeline cases: a stream of small ints through four stages,
//
//	source → map (1 worker) → work (fan-out to 4 workers) → sink
//
// where map computes 2v, work computes v+1 and the sink adds up what it
// gets. Each benchmark iteration pushes [pipelineItems] items (the ints
// 0..n-1, from one slice built before the timer starts) through the whole
// shape and checks the sink's sum, n², so that no item was lost or counted
// twice. The unit is items/s: n·b.N divided by the elapsed time (higher is
// better). The per-implementation setup is described at the top of
// pipeline_troupe.go, pipeline_protoactor.go and pipeline_plain.go.
//
//   - pipeline-4stage: troupe's pipeline package, protoactor actors with a
//     round-robin pool router, and the canonical channel pipeline with
//     capacity-1024 channels.
//   - pipeline-4stage-unbuffered: the channel pipeline with unbuffered
//     channels, a plain-only row (the other two cells are empty) that shows
//     what the buffers are worth.

import "testing"

// pipelineItems is the number of items per iteration of the pipeline cases.
const pipelineItems = 1_000_000

// SmokePipelineItems is the item count that List(true) uses for the
// pipeline cases in place of [pipelineItems].
const SmokePipelineItems = 10_000

// pipelineInput returns the ints 0..n-1.
func pipelineInput(n int) []int {
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	return items
}

// The stage functions, the same on every side.
func pipelineMap(v int) int  { return 2 * v }
func pipelineWork(v int) int { return v + 1 }

// checkPipelineSum fails b unless sum is what n items produce: the sum of
// 2v+1 over v in 0..n-1, which is n².
func checkPipelineSum(b *testing.B, impl string, n, sum int) {
	if sum != n*n {
		b.Fatalf("%s pipeline: sink sum %d; want %d", impl, sum, n*n)
	}
}

// reportItemsPerSec reports n items per iteration as "items/s".
func reportItemsPerSec(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
