package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// Batch groups by size, by time since a group's first item, and at the
// end of stream.
func TestBatchBySizeAndTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The source passes on a partial batch after the linger time.
		p := pipeline.New(pipeline.WithLinger(time.Millisecond))
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			for i := range 25 {
				if err := emit(i); err != nil {
					return err
				}
			}
			time.Sleep(time.Second)
			for i := 25; i < 28; i++ {
				if err := emit(i); err != nil {
					return err
				}
			}
			return nil
		})
		type got struct {
			items []int
			at    time.Duration
		}
		var out []got
		start := time.Now()
		pipeline.ToFunc(pipeline.Chunk(src, "chunk", 10, 100*time.Millisecond), "sink", func(_ context.Context, b []int) error {
			out = append(out, got{b, time.Since(start)})
			return nil
		})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		ms := time.Millisecond
		want := []got{{ints(10), ms}, {ints(20)[10:], ms}, {ints(25)[20:], 101 * ms}, {[]int{25, 26, 27}, time.Second}}
		if len(out) != len(want) {
			t.Fatalf("got %v", out)
		}
		for i, w := range want {
			if !slices.Equal(out[i].items, w.items) || out[i].at != w.at {
				t.Errorf("batch %d: got %v at %v, want %v at %v", i, out[i].items, out[i].at, w.items, w.at)
			}
		}
		if s := stats(t, p, "chunk"); s.In != 28 || s.Out != 28 || s.Emitted != 4 {
			t.Errorf("stats %+v", s)
		}
	})
}

// The items of a Batch group passed on by its max-wait timer count as
// the stage's outputs even when no other message reaches the worker
// before the pipeline stops (regression: the timer's handler left them
// uncounted, so a cancel left them in flight forever).
func TestBatchTimerGroupCountedAtCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithLinger(time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			for i := range 3 {
				if err := emit(i); err != nil {
					return err
				}
			}
			<-ctx.Done()
			return ctx.Err()
		})
		var got [][]int
		pipeline.ToFunc(pipeline.Chunk(src, "chunk", 10, 10*time.Millisecond), "sink", func(_ context.Context, b []int) error {
			got = append(got, b)
			cancel()
			return nil
		})
		if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if len(got) != 1 || !slices.Equal(got[0], ints(3)) {
			t.Fatalf("got %v", got)
		}
		if s := stats(t, p, "chunk"); s.In != 3 || s.Out != 3 || s.Emitted != 1 || s.InFlight != 0 {
			t.Errorf("stats %+v", s)
		}
		checkAccounting(t, p)
	})
}

// A keyed stage keeps a private state per key on the key's worker and
// flushes it periodically and at the end of stream.
func TestKeyedStateAndFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		words := strings.Fields("a b c a b a d e a b c d a a b")
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(string) error) error {
			for round := range 3 {
				for _, w := range words {
					if err := emit(fmt.Sprintf("%s@%d", w, round)); err != nil {
						return err
					}
				}
				time.Sleep(time.Second) // a flush period passes between rounds
			}
			return nil
		})
		type count struct {
			key string
			n   int
		}
		var mu sync.Mutex
		owner := map[string]string{}
		counts := pipeline.Keyed(src, "count", pipeline.KeyedSpec[string, string, int, count]{
			Key: func(s string) string { return s[:1] },
			Update: func(ctx context.Context, key string, n *int, s string, emit func(count)) error {
				mu.Lock()
				if w, ok := owner[key]; ok && w != workerOf(ctx) {
					t.Errorf("key %s moved from %s to %s", key, w, workerOf(ctx))
				}
				owner[key] = workerOf(ctx)
				mu.Unlock()
				*n++
				return nil
			},
			Flush: func(key string, n *int, emit func(count)) bool {
				emit(count{key, *n})
				return false // tumbling windows: start from zero
			},
			FlushEvery: 500 * time.Millisecond,
		}, pipeline.WithWorkers(3))
		var windows []map[string]int
		pipeline.ToFunc(counts, "sink", func(_ context.Context, c count) error {
			// Each round's counts are flushed together.
			if len(windows) == 0 || windows[len(windows)-1][c.key] != 0 {
				windows = append(windows, map[string]int{})
			}
			windows[len(windows)-1][c.key] = c.n
			return nil
		})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"a": 6, "b": 4, "c": 2, "d": 2, "e": 1}
		total := map[string]int{}
		for _, w := range windows {
			for k, n := range w {
				total[k] += n
			}
		}
		for k, n := range want {
			if total[k] != 3*n {
				t.Errorf("key %s counted %d, want %d", k, total[k], 3*n)
			}
		}
		if len(windows) < 3 {
			t.Errorf("%d flush windows, want at least 3: %v", len(windows), windows)
		}
		if got := slices.Sorted(maps.Keys(owner)); len(got) != 5 {
			t.Errorf("keys %v", got)
		}
		checkAccounting(t, p)
	})
}
