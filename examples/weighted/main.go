// Weighted: a stage whose workers stand for backends of different
// capacity, fed in proportion to their capacity with Route(Weighted(...)).
//
// Three workers call three backends that handle 1, 2 and 4 items per
// millisecond. RoundRobin gives each worker a third of the items, so the
// small backend needs four times as long as the large one and holds up
// the end of the run. Weighted(1, 2, 4) gives them 1/7, 2/7 and 4/7 of the
// items: every backend is busy for the same time.
//
// Weighted is deficit round-robin over batches, per producer: each turn
// credits a worker its weight times the batch size and sends it batches
// while its credit lasts. The split is exact over whole turns and finer
// with smaller batches. It is a fixed split: use it when the capacities
// are known; LeastLoaded (the default) follows the workers' actual
// queues instead.
//
// What to copy: Route(Weighted(...)) with one weight per worker, and
// workerIndex, which finds a worker's index from its actor path.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

const items = 7000

// A backend is what a worker calls; capacity is in items per millisecond.
type backend struct {
	name     string
	capacity int
}

var backends = []backend{{"small", 1}, {"medium", 2}, {"large", 4}}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "weighted:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	weights := make([]int, len(backends))
	for i, b := range backends {
		weights[i] = b.capacity
	}
	for _, r := range []struct {
		name   string
		router pipeline.Router
	}{
		{"RoundRobin", pipeline.RoundRobin()},
		{fmt.Sprintf("Weighted%v", weights), pipeline.Weighted(weights...)},
	} {
		counts, err := spread(r.router)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s:\n", r.name)
		for i, b := range backends {
			// The time the backend needs for its share, at its capacity.
			busy := time.Duration(counts[i]) * time.Millisecond / time.Duration(b.capacity)
			fmt.Fprintf(w, "  w%d %-6s capacity %d/ms: %4d items (%4.1f%%), busy %v\n",
				i, b.name, b.capacity, counts[i], 100*float64(counts[i])/items, busy)
		}
	}
	return nil
}

// spread sends items through a stage of one worker per backend, routed by
// r, and returns how many items each worker got.
func spread(r pipeline.Router) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	nums := make([]int, items)
	for i := range nums {
		nums[i] = i
	}
	counts := make([]atomic.Int64, len(backends))
	p := pipeline.New(pipeline.WithBatchSize(10))
	pipeline.ToFunc(pipeline.FromSlice(p, "items", nums), "call", func(ctx context.Context, _ int) error {
		i, err := workerIndex(ctx)
		if err != nil {
			return err
		}
		counts[i].Add(1) // a real worker would call backends[i] here
		return nil
	}, pipeline.WithWorkers(len(backends)), pipeline.WithRouter(r))
	if err := p.Run(ctx); err != nil {
		return nil, err
	}
	out := make([]int, len(counts))
	for i := range counts {
		out[i] = int(counts[i].Load())
	}
	return out, nil
}

// workerIndex returns the index of the worker running a stage function,
// from its actor path /<pipeline>/<stage>/w<index>.
func workerIndex(ctx context.Context) (int, error) {
	ac, ok := ctx.(actor.Context)
	if !ok {
		return 0, fmt.Errorf("not a worker's context: %T", ctx)
	}
	return strconv.Atoi(strings.TrimPrefix(path.Base(ac.Path()), "w"))
}
