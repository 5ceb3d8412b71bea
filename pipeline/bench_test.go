package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/pipeline"
)

const benchItems = 1_000_000

// BenchmarkPipeline moves 1M small items source → map (4 workers) → sink,
// with troupe's pipeline at several batch sizes and with a hand-written
// channel pipeline (cap-1024 channels, 4 map goroutines, a WaitGroup
// closer) as the baseline. ns/op is per run of 1M items; items/s is
// reported.
func BenchmarkPipeline(b *testing.B) {
	items := make([]int, benchItems)
	for i := range items {
		items[i] = i
	}
	square := func(_ context.Context, v int) (int, error) { return v * v, nil }
	for _, size := range []int{1, 16, 64, 128, 256} {
		b.Run(fmt.Sprintf("troupe-batch-%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := pipeline.New(pipeline.WithBatchSize(size))
				src := pipeline.FromSlice(p, "src", items)
				sq := pipeline.Map(src, "square", square, pipeline.WithWorkers(4))
				var sum int
				pipeline.ToFunc(sq, "sum", func(_ context.Context, v int) error { sum += v; return nil })
				if err := p.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchItems)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
	b.Run("channels-cap-1024", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			channelPipeline(items, 4, 1024)
		}
		b.ReportMetric(float64(benchItems)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
	})
}

// channelPipeline is the hand-written equivalent: a source goroutine, a
// pool of map goroutines closed by a WaitGroup, and the caller as sink.
func channelPipeline(items []int, workers, capacity int) int {
	in := make(chan int, capacity)
	out := make(chan int, capacity)
	go func() {
		defer close(in)
		for _, v := range items {
			in <- v
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range in {
				out <- v * v
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	sum := 0
	for v := range out {
		sum += v
	}
	return sum
}
