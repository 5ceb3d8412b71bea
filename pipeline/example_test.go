package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/troupe-go/troupe/pipeline"
)

// This example squares numbers on four workers, restores their order,
// keeps the even squares and collects them.
func Example() {
	p := pipeline.New()
	nums := pipeline.FromSlice(p, "numbers", []int{1, 2, 3, 4, 5, 6, 7, 8})
	squares := pipeline.Map(nums, "square", func(_ context.Context, n int) (int, error) {
		return n * n, nil
	}, pipeline.WithWorkers(4), pipeline.WithOrdered(0))
	even := pipeline.Filter(squares, "even", func(_ context.Context, n int) (bool, error) {
		return n%2 == 0, nil
	})
	out := pipeline.Collect(even, "out")
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Items())
	s, _ := p.StageStats("even")
	fmt.Printf("even: in %d, out %d, filtered %d\n", s.In, s.Out, s.Filtered)
	// Output:
	// [4 16 36 64]
	// even: in 8, out 4, filtered 4
}

// This example counts words per first letter in a key-sharded stateful
// stage: each letter always reaches the same one of three workers, which
// keeps its count and emits it at the end of the stream.
func ExampleKeyed() {
	type count struct {
		letter string
		n      int
	}
	p := pipeline.New()
	words := pipeline.FromSlice(p, "words", strings.Fields("apple avocado banana blueberry cherry apricot beet"))
	counts := pipeline.Keyed(words, "count", pipeline.KeyedSpec[string, string, int, count]{
		Key: func(w string) string { return w[:1] },
		Update: func(_ context.Context, _ string, n *int, _ string, _ func(count)) error {
			*n++
			return nil
		},
		Flush: func(letter string, n *int, emit func(count)) bool {
			emit(count{letter, *n})
			return false
		},
	}, pipeline.WithWorkers(3))
	out := pipeline.Collect(counts, "out")
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	res := out.Items()
	slices.SortFunc(res, func(a, b count) int { return strings.Compare(a.letter, b.letter) })
	fmt.Println(res)
	// Output: [{a 3} {b 3} {c 1}]
}

// This example merges an urgent and a normal stream: urgent items go
// first, but whenever normal items wait, at most 3 urgent ones pass
// before the next normal one.
func ExamplePriorityMerge() {
	p := pipeline.New()
	urgent := pipeline.FromSlice(p, "urgent", []string{"u1", "u2", "u3", "u4", "u5"})
	normal := pipeline.FromSlice(p, "normal", []string{"n1", "n2", "n3"})
	merged := pipeline.PriorityMerge(p, "prio", []pipeline.Tier[string]{{In: urgent, Quota: 3}, {In: normal, Quota: 1}})
	out := pipeline.Collect(merged, "out")
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	items := out.Items()
	slices.Sort(items)
	fmt.Println(len(items), items)
	// Output: 8 [n1 n2 n3 u1 u2 u3 u4 u5]
}

// This example shows a poison item: it fails on every attempt, goes to
// the dead-letter store with its stage, reason and error, and the others
// pass.
func ExamplePipeline_DeadLetters() {
	p := pipeline.New()
	parsed := pipeline.Map(pipeline.FromSlice(p, "lines", []string{"1", "2", "x", "4"}), "parse",
		func(_ context.Context, s string) (int, error) {
			var n int
			_, err := fmt.Sscan(s, &n)
			return n, err
		})
	out := pipeline.Collect(parsed, "out")
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Items())
	for _, d := range p.DeadLetters().List(nil) {
		fmt.Printf("%s: %q %s after %d attempts\n", d.Stage, d.Item, d.Reason, d.Attempts)
	}
	// Output:
	// [1 2 4]
	// parse: "x" poison after 3 attempts
}

// This example feeds a pipeline from a channel and reads its output from
// another; the pipeline closes the output channel when it is done.
func ExampleToChan() {
	p := pipeline.New()
	in := make(chan string)
	out := make(chan string)
	upper := pipeline.Map(pipeline.FromChan(p, "in", in), "upper", func(_ context.Context, s string) (string, error) {
		return strings.ToUpper(s), nil
	})
	pipeline.ToChan(upper, "out", out)
	if err := p.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	go func() { // Owner: this example; it ends after closing in.
		defer close(in)
		for _, s := range []string{"a", "b", "c"} {
			in <- s
		}
	}()
	for s := range out {
		fmt.Print(s, " ")
	}
	fmt.Println(p.Wait(context.Background()))
	// Output: A B C <nil>
}

// This example shows a build error: it is reported by Run, not by the
// builder functions, so a pipeline is built without checks in between.
func ExamplePipeline_Run_invalid() {
	p := pipeline.New()
	nums := pipeline.FromSlice(p, "numbers", []int{1, 2, 3})
	pipeline.Map(nums, "square", func(_ context.Context, n int) (int, error) { return n * n, nil }, pipeline.WithWorkers(0))
	err := p.Run(context.Background())
	fmt.Println(errors.Is(err, pipeline.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// map "square": pipeline: invalid: 0 workers
}
