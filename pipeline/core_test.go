package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline"
)

func TestLinearMapFilterFlatMap(t *testing.T) {
	for _, batch := range []int{1, 7, 128} {
		t.Run(fmt.Sprint("batch-", batch), func(t *testing.T) {
			p := pipeline.New(pipeline.WithBatchSize(batch))
			src := pipeline.FromSlice(p, "src", ints(5000))
			sq := pipeline.Map(src, "square", func(_ context.Context, v int) (int, error) { return v * v, nil }, pipeline.WithWorkers(3))
			even := pipeline.Filter(sq, "even", func(_ context.Context, v int) (bool, error) { return v%2 == 0, nil }, pipeline.WithWorkers(2))
			dup := pipeline.FlatMap(even, "dup", func(_ context.Context, v int, emit func(string)) error {
				emit(fmt.Sprint(v))
				emit(fmt.Sprint(v))
				return nil
			})
			c := pipeline.Collect(dup, "out")
			if err := run(t, p); err != nil {
				t.Fatal(err)
			}
			got := c.Items()
			if len(got) != 5000 {
				t.Fatalf("got %d items, want 5000", len(got))
			}
			counts := map[string]int{}
			for _, s := range got {
				counts[s]++
			}
			for i := 0; i < 5000; i += 2 {
				if n := counts[fmt.Sprint(i*i)]; n != 2 {
					t.Fatalf("%d appears %d times", i*i, n)
				}
			}
			checkAccounting(t, p)
			if s := stats(t, p, "even"); s.Filtered != 2500 || s.Out != 2500 {
				t.Errorf("filter stats %+v", s)
			}
			if s := stats(t, p, "dup"); s.Out != 2500 || s.Emitted != 5000 {
				t.Errorf("flatmap stats %+v", s)
			}
		})
	}
}

func TestSources(t *testing.T) {
	t.Run("chan", func(t *testing.T) {
		p := pipeline.New()
		ch := make(chan int)
		go func() {
			defer close(ch)
			for i := range 1000 {
				ch <- i
			}
		}()
		c := pipeline.Collect(pipeline.FromChan(p, "src", ch), "out")
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Items(), ints(1000)) {
			t.Fatal("items out of order or missing")
		}
	})
	t.Run("seq", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.FromSeq(p, "src", slices.Values(ints(777))), "out")
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Items(), ints(777)) {
			t.Fatal("items out of order or missing")
		}
	})
	t.Run("func-error-is-fatal", func(t *testing.T) {
		p := pipeline.New()
		boom := errors.New("boom")
		src := pipeline.FromFunc(p, "gen", func(ctx context.Context, emit func(int) error) error {
			for i := range 10 {
				if err := emit(i); err != nil {
					return err
				}
			}
			return boom
		})
		pipeline.Collect(src, "out")
		err := run(t, p)
		var se *pipeline.StageError
		if !errors.As(err, &se) || se.Stage != "gen" || !errors.Is(err, boom) {
			t.Fatalf("got %v, want a StageError for gen wrapping boom", err)
		}
		checkAccounting(t, p)
	})
}

func TestSinks(t *testing.T) {
	p := pipeline.New()
	ch := make(chan int, 10)
	yes, no := pipeline.Split(pipeline.FromSlice(p, "src", ints(100)), func(v int) bool { return v < 50 })
	pipeline.ToChan(yes, "chan", ch)
	var sum int
	pipeline.ToFunc(no, "func", func(_ context.Context, v int) error { sum += v; return nil })
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []int
	for v := range ch { // ends: the pipeline closes ch when it stops
		got = append(got, v)
	}
	if err := p.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ints(50)) {
		t.Fatalf("chan sink got %v", got)
	}
	if want := (50 + 99) * 50 / 2; sum != want {
		t.Fatalf("func sink sum %d, want %d", sum, want)
	}
}

func TestBuildErrors(t *testing.T) {
	square := func(_ context.Context, v int) (int, error) { return v * v, nil }
	cases := []struct {
		name  string
		build func(p *pipeline.Pipeline)
		want  string
	}{
		{"nil-func", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map[int, int](pipeline.FromSlice(p, "s", ints(3)), "m", nil), "c")
		}, "nil function"},
		{"zero-workers", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square, pipeline.WithWorkers(0)), "c")
		}, "0 workers"},
		{"duplicate-name", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "s", square), "c")
		}, "duplicate name"},
		{"bad-name", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.FromSlice(p, "a/b", ints(3)), "c")
		}, "name"},
		{"unconsumed", func(p *pipeline.Pipeline) {
			pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square)
		}, `output of "m" is not consumed`},
		{"consumed-twice", func(p *pipeline.Pipeline) {
			s := pipeline.FromSlice(p, "s", ints(3))
			pipeline.Collect(s, "c1")
			pipeline.Collect(s, "c2")
		}, "consumed twice"},
		{"weights", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square,
				pipeline.WithWorkers(2), pipeline.WithRouter(pipeline.Weighted(1))), "c")
		}, "weights"},
		{"key-type", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square,
				pipeline.WithRouter(pipeline.ByKey(func(s string) string { return s }))), "c")
		}, "ByKey"},
		{"empty", func(p *pipeline.Pipeline) {}, "empty pipeline"},
		{"ordered-drop", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square,
				pipeline.WithOrdered(0), pipeline.WithOverflow(mailbox.DropOldest)), "c")
		}, "Overflow"},
		{"ordered-key", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", ints(3)), "m", square,
				pipeline.WithOrdered(0), pipeline.WithRouter(pipeline.ByKey(func(v int) int { return v }))), "c")
		}, "key routing"},
		{"bad-option", func(p *pipeline.Pipeline) {
			pipeline.Collect(pipeline.FromSlice(p, "s", ints(3)), "c", pipeline.WithBuffer(-1))
		}, "buffer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pipeline.New()
			c.build(p)
			err := p.Run(context.Background())
			if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want ErrInvalid mentioning %q", err, c.want)
			}
			if err2 := p.Wait(context.Background()); err2 == nil {
				t.Fatal("Wait after a failed Start returned nil")
			}
		})
	}
	t.Run("lifecycle", func(t *testing.T) {
		p := pipeline.New()
		if err := p.Wait(context.Background()); !errors.Is(err, pipeline.ErrNotRunning) {
			t.Fatalf("Wait before Start: %v", err)
		}
		if _, err := p.Replay(context.Background(), nil); !errors.Is(err, pipeline.ErrNotRunning) {
			t.Fatalf("Replay before Start: %v", err)
		}
		pipeline.Collect(pipeline.FromSlice(p, "s", ints(3)), "c")
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); !errors.Is(err, pipeline.ErrClosed) {
			t.Fatalf("second Start: %v", err)
		}
		pipeline.Collect(pipeline.FromSlice(p, "late", ints(3)), "c2")
		if _, err := p.Replay(context.Background(), nil); !errors.Is(err, pipeline.ErrClosed) {
			t.Fatalf("Replay after the end: %v", err)
		}
	})
	t.Run("cancelled-context", func(t *testing.T) {
		p := pipeline.New()
		pipeline.Collect(pipeline.FromSlice(p, "s", ints(3)), "c")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unconsumed-dynamic", func(t *testing.T) {
		p := pipeline.New()
		pipeline.Collect(pipeline.FromSlice(p, "s", ints(3)), "c")
		pipeline.Dynamic[int](p, "d")
		if err := run(t, p); !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), `"d" is not consumed`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no-items", func(t *testing.T) {
		p := pipeline.New()
		c := pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, "s", []int{}), "m", square, pipeline.WithWorkers(3)), "c")
		d, inputs := pipeline.Dynamic[int](p, "d")
		c2 := pipeline.Collect(d, "c2")
		inputs.Close() // before Start, with no input: the stream ends at once
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
		if c.Len()+c2.Len() != 0 {
			t.Fatal("items from nowhere")
		}
	})
	t.Run("detached", func(t *testing.T) {
		var s *pipeline.Stream[int]
		out := pipeline.Map(s, "m", square)
		pipeline.Collect(out, "c") // no pipeline to report to; must not panic
		if out.Pipeline() != nil {
			t.Fatal("a stage built on a nil stream belongs to a pipeline")
		}
	})
}

func sortedInts(s []int) []int { s = slices.Clone(s); sort.Ints(s); return s }
