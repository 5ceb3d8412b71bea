package pipeline_test

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe/pipeline"
)

func TestSmoke(t *testing.T) {
	p := pipeline.New()
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	src := pipeline.FromSlice(p, "src", items)
	sq := pipeline.Map(src, "square", func(_ context.Context, v int) (int, error) { return v * v, nil }, pipeline.Workers(4))
	even := pipeline.Filter(sq, "even", func(_ context.Context, v int) (bool, error) { return v%2 == 0, nil })
	c := pipeline.Collect(even, "out")
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Len(); got != 500 {
		t.Fatalf("got %d items, want 500", got)
	}
	for _, s := range p.Stats() {
		t.Logf("%+v", s)
	}
}
