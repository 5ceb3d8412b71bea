// Ordered: parallel workers, results in input order.
//
// The "render" stage has 4 workers, and a page takes longer to render
// the lower its number modulo 4 (page 0 takes 4 ms, page 3 1 ms), so the
// workers finish out of order. The same stage without Ordered passes its
// results on as they finish; with Ordered(window) a reorder buffer
// restores the input order before the next stage. The window bounds the
// pages between the stage's input and the buffer: when it is full the
// producer waits (backpressure), so a slow page cannot make the buffer
// grow without bound.
//
// What to copy: Workers and Ordered on the same stage, and a window of a
// few batches per worker. (Key routing keeps per-key order by itself and
// cannot be combined with Ordered; nor can a drop Overflow policy.)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

const (
	pages   = 64
	workers = 4
	window  = 16 // pages between the stage's input and its reorder buffer
)

// render is the slow, parallel work: lower pages modulo 4 take longer.
func render(ctx context.Context, page int) (string, error) {
	select {
	case <-time.After(time.Duration(workers-page%workers) * time.Millisecond):
		return fmt.Sprintf("page-%02d", page), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func main() {
	unordered, ordered, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordered:", err)
		os.Exit(1)
	}
	report(os.Stdout, unordered, ordered)
}

func report(w io.Writer, unordered, ordered []string) {
	fmt.Fprintf(w, "without Ordered, first 8: %v\n", unordered[:8])
	fmt.Fprintf(w, "with Ordered(%d), first 8: %v\n", window, ordered[:8])
	fmt.Fprintf(w, "without Ordered: %d of %d in their input position\n", inPlace(unordered), len(unordered))
	fmt.Fprintf(w, "with Ordered:    %d of %d in their input position\n", inPlace(ordered), len(ordered))
}

// inPlace counts the results at the position of their page.
func inPlace(results []string) int {
	n := 0
	for i, r := range results {
		if r == fmt.Sprintf("page-%02d", i) {
			n++
		}
	}
	return n
}

// run renders the pages twice, without and with Ordered, and returns the
// results in the order the sink got them.
func run(ctx context.Context) (unordered, ordered []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	in := make([]int, pages)
	for i := range in {
		in[i] = i
	}
	renderAll := func(opts ...pipeline.StageOption) ([]string, error) {
		// Batches of 2 pages, so that all 4 workers get some.
		p := pipeline.New(pipeline.WithBatchSize(2))
		src := pipeline.FromSlice(p, "pages", in)
		rendered := pipeline.Map(src, "render", render, append([]pipeline.StageOption{pipeline.WithWorkers(workers), pipeline.WithBuffer(2)}, opts...)...)
		out := pipeline.Collect(rendered, "out")
		if err := p.Run(ctx); err != nil {
			return nil, err
		}
		return out.Items(), nil
	}
	if unordered, err = renderAll(); err != nil {
		return nil, nil, err
	}
	ordered, err = renderAll(pipeline.WithOrdered(window))
	return unordered, ordered, err
}
