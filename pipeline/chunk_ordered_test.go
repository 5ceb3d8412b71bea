package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// An ordered Chunk stage works to the end of its stream: the groups that
// fill up come out in input order, the partial groups the workers hold
// at the end come out last, and every item is delivered once.
func TestBatchOrderedEndOfStream(t *testing.T) {
	const n = 1000
	p := pipeline.New(pipeline.WithBatchSize(16))
	b := pipeline.Chunk(pipeline.FromSlice(p, "src", ints(n)), "b", 10, 0, pipeline.WithWorkers(3), pipeline.WithOrdered(0))
	c := pipeline.Collect(b, "out")
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, g := range c.Items() {
		if len(g) == 0 || len(g) > 10 {
			t.Fatalf("a group of %d items", len(g))
		}
		got = append(got, g...)
	}
	slices.Sort(got)
	if !slices.Equal(got, ints(n)) {
		t.Fatalf("got %d items, want each of %d once", len(got), n)
	}
	checkAccounting(t, p)
}

// A group of an ordered Chunk stage flushed by its max wait passes on at
// once, without waiting for the end of stream.
func TestBatchOrderedMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		in := make(chan int)
		b := pipeline.Chunk(pipeline.FromChan(p, "src", in), "b", 10, time.Second, pipeline.WithWorkers(2), pipeline.WithOrdered(0))
		out := make(chan []int, 4)
		pipeline.ToChan(b, "out", out)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		in <- 1
		in <- 2
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		var got []int
		for len(out) > 0 {
			got = append(got, <-out...)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("after the max wait: %v, want [1 2]", got)
		}
		close(in)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, p)
	})
}
