package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
)

// killFirst fails the first receive of every worker of one stage.
type killFirst struct {
	stage string
	hits  atomic.Int32
}

func (k *killFirst) BeforeReceive(ctx actor.Context) error {
	if strings.Contains(ctx.Path(), "/"+k.stage+"/") && ctx.Attempt() == 1 && k.hits.Add(1) <= 2 {
		return errors.New("injected")
	}
	return nil
}

func (k *killFirst) BeforeStart(actor.Context) error { return nil }

// TestWithFaultInjector checks that an injector given to the pipeline
// reaches its workers: injected failures are retried, nothing is lost.
func TestWithFaultInjector(t *testing.T) {
	fi := &killFirst{stage: "double"}
	p := pipeline.New(pipeline.WithFaultInjector(fi), pipeline.WithBatchSize(4))
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	src := pipeline.FromSlice(p, "src", items)
	doubled := pipeline.Map(src, "double", func(_ context.Context, v int) (int, error) { return 2 * v, nil }, pipeline.WithWorkers(2))
	out := pipeline.Collect(doubled, "sink")
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fi.hits.Load(); got < 2 {
		t.Fatalf("injector hits: got %d; want at least 2", got)
	}
	sum := 0
	for _, v := range out.Items() {
		sum += v
	}
	if want := 2 * 99 * 100 / 2; sum != want || len(out.Items()) != 100 {
		t.Fatalf("output: got %d items summing to %d; want 100 summing to %d", len(out.Items()), sum, want)
	}
}

// TestKeyedRefusesRoute checks that a Route option on a Keyed stage (which
// routes by key) is an error instead of being silently ignored.
func TestKeyedRefusesRoute(t *testing.T) {
	p := pipeline.New()
	src := pipeline.FromSlice(p, "src", []int{1, 2, 3})
	spec := pipeline.KeyedSpec[int, int, int, int]{
		Key:    func(v int) int { return v % 2 },
		Update: func(_ context.Context, _ int, s *int, v int, _ func(int)) error { *s += v; return nil },
	}
	out := pipeline.Keyed(src, "sum", spec, pipeline.WithRouter(pipeline.RoundRobin()))
	pipeline.Collect(out, "sink")
	if err := p.Run(context.Background()); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("Keyed with Route: got %v; want ErrInvalid", err)
	}
}
