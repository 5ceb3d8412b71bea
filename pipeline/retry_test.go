package pipeline_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// attemptLog records when each item was attempted (under synctest, in
// the bubble's fake time).
type attemptLog struct {
	mu sync.Mutex
	at map[int][]time.Time
}

func newAttemptLog() *attemptLog { return &attemptLog{at: map[int][]time.Time{}} }

// add records an attempt of v and returns how many attempts v had so far.
func (l *attemptLog) add(v int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[v] = append(l.at[v], time.Now())
	return len(l.at[v])
}

func (l *attemptLog) gaps(v int) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(l.at[v]); i++ {
		g = append(g, l.at[v][i].Sub(l.at[v][i-1]))
	}
	return g
}

// With Jitter 0 the retries of an item follow the backoff exactly: the
// delay after its n-th failed attempt is min(Min×Factor^(n−1), Max).
func TestRetryExactScheduleWithoutJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New()
		log := newAttemptLog()
		m := pipeline.Map(pipeline.FromSlice(p, "src", []int{1}), "m", func(_ context.Context, v int) (int, error) {
			if log.add(v) < 5 {
				return 0, errors.New("again")
			}
			return v, nil
		}, pipeline.WithRetry(5, strategy.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}))
		c := pipeline.Collect(m, "out")
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		ms := time.Millisecond
		if got, want := log.gaps(1), []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms}; !slices.Equal(got, want) {
			t.Errorf("gaps between attempts %v, want %v", got, want)
		}
		if c.Len() != 1 {
			t.Fatal("item lost")
		}
		if s := stats(t, p, "m"); s.Retries != 4 || s.Errors != 4 {
			t.Errorf("stats %+v", s)
		}
	})
}

// With Jitter > 0 each delay lies within [base×(1−J), min(base×(1+J),
// Max)] of its un-jittered base, the delays vary, and items that fail at
// the same moment (in one worker's batch, or on different workers) do
// not retry in lock-step.
func TestRetryJitter(t *testing.T) {
	const (
		attempts = 6
		jitter   = 0.5
		minD     = 10 * time.Millisecond
		maxD     = 100 * time.Millisecond
	)
	for _, tc := range []struct {
		name            string
		workers, buffer int
		batch           int
	}{
		{"one worker, one batch", 1, 16, 16},
		{"four workers", 4, 1, 1}, // a buffer of one batch spreads the items
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := pipeline.New(pipeline.WithBatchSize(tc.batch))
				log := newAttemptLog()
				items := ints(4)
				m := pipeline.Map(pipeline.FromSlice(p, "src", items), "m", func(_ context.Context, v int) (int, error) {
					if log.add(v) < attempts {
						return 0, errors.New("again")
					}
					return v, nil
				}, pipeline.WithWorkers(tc.workers), pipeline.WithBuffer(tc.buffer),
					pipeline.WithRetry(attempts, strategy.Backoff{Min: minD, Max: maxD, Factor: 2, Jitter: jitter}))
				c := pipeline.Collect(m, "out")
				if err := p.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if c.Len() != len(items) {
					t.Fatalf("%d items out", c.Len())
				}
				varied := false
				var first []time.Time
				for _, v := range items {
					gaps := log.gaps(v)
					if len(gaps) != attempts-1 {
						t.Fatalf("item %d: %d gaps", v, len(gaps))
					}
					base := float64(minD)
					for n, g := range gaps {
						lo := time.Duration(base * (1 - jitter))
						hi := min(time.Duration(base*(1+jitter)), maxD)
						if g < lo || g > hi {
							t.Errorf("item %d, delay %d: %v outside [%v, %v]", v, n+1, g, lo, hi)
						}
						if g != time.Duration(base) {
							varied = true
						}
						base = min(base*2, float64(maxD))
					}
					log.mu.Lock()
					at := slices.Clone(log.at[v])
					log.mu.Unlock()
					if first == nil {
						first = at
					} else if at[1].Equal(first[1]) && at[2].Equal(first[2]) {
						t.Errorf("item %d retried in lock-step with item %d: %v", v, items[0], at)
					}
				}
				if !varied {
					t.Error("every delay equals its un-jittered base: the jitter is ignored")
				}
			})
		})
	}
}

// A backing-off item does not hold its worker: the items behind it on
// the same single worker, in its batch and in the mailbox, go through
// before its retry fires, and the end of stream waits for it.
func TestRetryBackoffDoesNotBlockWorker(t *testing.T) {
	for _, batch := range []int{128, 4} {
		synctest.Test(t, func(t *testing.T) {
			const backoff = time.Hour
			p := pipeline.New(pipeline.WithBatchSize(batch))
			var failed atomic.Bool
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(26)), "m", func(_ context.Context, v int) (int, error) {
				if v == 0 && !failed.Swap(true) {
					return 0, errors.New("not yet")
				}
				return v, nil
			}, pipeline.WithRetry(2, strategy.Backoff{Min: backoff, Max: backoff}))
			start := time.Now()
			type arrival struct {
				v  int
				at time.Duration
			}
			var got []arrival
			pipeline.ToFunc(m, "sink", func(_ context.Context, v int) error {
				got = append(got, arrival{v, time.Since(start)})
				return nil
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != backoff {
				t.Errorf("batch %d: run took %v, want the backoff %v", batch, d, backoff)
			}
			var want []arrival
			for v := 1; v < 26; v++ {
				want = append(want, arrival{v, 0})
			}
			want = append(want, arrival{0, backoff})
			if !slices.Equal(got, want) {
				t.Errorf("batch %d: arrivals %v\nwant %v", batch, got, want)
			}
			checkAccounting(t, p)
		})
	}
}

// Under key routing a backing-off item holds the later items of its key
// behind it, in order, while the other keys go on.
func TestRetryKeyOrderHolds(t *testing.T) {
	type kv struct{ k, n int }
	key := func(x kv) int { return x.k }
	var items []kv
	for n := range 10 {
		for k := range 3 {
			items = append(items, kv{k, n})
		}
	}
	const backoff = time.Hour
	check := func(t *testing.T, got []kv, at map[kv]time.Duration) {
		t.Helper()
		for k := range 3 {
			var ns []int
			for _, x := range got {
				if x.k == k {
					ns = append(ns, x.n)
				}
			}
			if !slices.Equal(ns, ints(10)) {
				t.Errorf("key %d: got %v, want 0..9 in order", k, ns)
			}
		}
		for _, x := range items {
			want := time.Duration(0)
			if x.k == 0 && x.n >= 3 {
				want = backoff
			}
			if at[x] != want {
				t.Errorf("%v out at %v, want %v", x, at[x], want)
			}
		}
	}
	t.Run("map by key", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := pipeline.New(pipeline.WithBatchSize(8))
			var failed atomic.Bool
			m := pipeline.Map(pipeline.FromSlice(p, "src", items), "m", func(_ context.Context, x kv) (kv, error) {
				if x == (kv{0, 3}) && !failed.Swap(true) {
					return x, errors.New("not yet")
				}
				return x, nil
			}, pipeline.WithRouter(pipeline.ByKey(key)), pipeline.WithWorkers(1),
				pipeline.WithRetry(2, strategy.Backoff{Min: backoff, Max: backoff}))
			start := time.Now()
			var got []kv
			at := map[kv]time.Duration{}
			pipeline.ToFunc(m, "sink", func(_ context.Context, x kv) error {
				got = append(got, x)
				at[x] = time.Since(start)
				return nil
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			check(t, got, at)
			checkAccounting(t, p)
		})
	})
	t.Run("keyed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := pipeline.New(pipeline.WithBatchSize(8))
			var failed atomic.Bool
			k := pipeline.Keyed(pipeline.FromSlice(p, "src", items), "keyed", pipeline.KeyedSpec[kv, int, int, kv]{
				Key: key,
				Update: func(_ context.Context, _ int, s *int, x kv, emit func(kv)) error {
					if x == (kv{0, 3}) && !failed.Swap(true) {
						*s = -100 // rolled back by the keyed stage
						return errors.New("not yet")
					}
					if *s != x.n {
						return errors.New("out of order")
					}
					*s++
					emit(x)
					return nil
				},
			}, pipeline.WithWorkers(2), pipeline.WithRetry(2, strategy.Backoff{Min: backoff, Max: backoff}))
			start := time.Now()
			var mu sync.Mutex
			var got []kv
			at := map[kv]time.Duration{}
			pipeline.ToFunc(k, "sink", func(_ context.Context, x kv) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, x)
				at[x] = time.Since(start)
				return nil
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			check(t, got, at)
			if n := len(p.DeadLetters().List(nil)); n != 0 {
				t.Errorf("%d dead letters", n)
			}
			checkAccounting(t, p)
		})
	})
}

// In an Ordered stage a backing-off item holds only its own place: the
// worker handles the items behind it until the reorder window is full,
// nothing passes it, and its retry releases the window (no deadlock,
// even with the smallest window and many backing-off items).
func TestRetryOrderedWindow(t *testing.T) {
	t.Run("one worker", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const window = 8
			p := pipeline.New(pipeline.WithBatchSize(4))
			var failed atomic.Bool
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(100)), "m", func(_ context.Context, v int) (int, error) {
				if v == 1 && !failed.Swap(true) {
					return 0, errors.New("not yet")
				}
				return v, nil
			}, pipeline.WithOrdered(window), pipeline.WithRetry(2, strategy.Backoff{Min: time.Hour, Max: time.Hour}))
			c := pipeline.Collect(m, "out")
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			// Item 1 backs off holding its permit; the others of the window
			// were handled and wait in the reorder buffer behind it, except
			// item 0, which was before it.
			s := stats(t, p, "m")
			if s.In != window || s.Emitted != window-1 || c.Len() != 1 {
				t.Errorf("while item 1 backs off: in %d, emitted %d, out %d; want %d, %d, 1", s.In, s.Emitted, c.Len(), window, window-1)
			}
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Items(), ints(100)) {
				t.Fatalf("out of order: %v", c.Items())
			}
			checkAccounting(t, p)
		})
	})
	t.Run("many backing off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const n = 2000
			p := pipeline.New(pipeline.WithBatchSize(2))
			var tries sync.Map
			m := pipeline.FlatMap(pipeline.FromSlice(p, "src", ints(n)), "m", func(_ context.Context, v int, emit func(int)) error {
				c, _ := tries.LoadOrStore(v, new(atomic.Int32))
				if v%7 == 3 && c.(*atomic.Int32).Add(1) < 3 {
					return errors.New("not yet")
				}
				if v%5 != 0 { // some items have no output
					emit(v)
				}
				return nil
			}, pipeline.WithWorkers(3), pipeline.WithOrdered(2),
				pipeline.WithRetry(3, strategy.Backoff{Min: time.Millisecond, Max: 50 * time.Millisecond, Jitter: 1}))
			c := pipeline.Collect(m, "out")
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := slices.DeleteFunc(ints(n), func(v int) bool { return v%5 == 0 })
			if !slices.Equal(c.Items(), want) {
				t.Fatalf("got %d items, out of order or missing (want %d)", c.Len(), len(want))
			}
			checkAccounting(t, p)
		})
	})
}

// memCP is an in-memory Checkpointer.
type memCP struct {
	mu    sync.Mutex
	saved []uint64
}

func (c *memCP) Load(context.Context) (uint64, bool, error) { return 0, false, nil }

func (c *memCP) Save(_ context.Context, pos uint64) error {
	c.mu.Lock()
	c.saved = append(c.saved, pos)
	c.mu.Unlock()
	return nil
}

func (c *memCP) last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.saved) == 0 {
		return 0
	}
	return c.saved[len(c.saved)-1]
}

// The checkpoint's low watermark does not pass an item that backs off,
// though the items after it are out of the pipeline.
func TestRetryCheckpointHoldsWatermark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, bad = 100, 10
		cp := &memCP{}
		p := pipeline.New(pipeline.WithBatchSize(4), pipeline.WithCheckpointEvery(time.Millisecond))
		src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
			for pos := from; pos < n; pos++ {
				if err := emit(int(pos), pos+1); err != nil {
					return err
				}
			}
			return nil
		})
		var failed atomic.Bool
		m := pipeline.Map(src, "m", func(_ context.Context, v int) (int, error) {
			if v == bad && !failed.Swap(true) {
				return 0, errors.New("not yet")
			}
			return v, nil
		}, pipeline.WithRetry(2, strategy.Backoff{Min: 2 * time.Second, Max: 2 * time.Second}))
		c := pipeline.Collect(m, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // fake time: many checkpoint periods, before the retry
		synctest.Wait()
		if c.Len() != n-1 {
			t.Errorf("%d items out while item %d backs off, want %d", c.Len(), bad, n-1)
		}
		if pos := cp.last(); pos == 0 || pos > bad {
			t.Errorf("checkpoint at %d while item %d backs off; want in [1, %d]", pos, bad, bad)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if pos := cp.last(); pos != n {
			t.Errorf("final checkpoint %d, want %d", pos, n)
		}
		checkAccounting(t, p)
	})
}

// Cancelling the pipeline stops backing-off items at once: they are
// dead-lettered as stopped and never retried; a graceful Stop waits for
// them instead.
func TestRetryBackingOffAtStop(t *testing.T) {
	build := func() (*pipeline.Pipeline, chan int, *atomic.Int32, *pipeline.Collector[int]) {
		p := pipeline.New()
		ch := make(chan int)
		var tries atomic.Int32
		m := pipeline.Map(pipeline.FromChan(p, "src", ch), "m", func(_ context.Context, v int) (int, error) {
			if v == 0 && tries.Add(1) == 1 {
				return 0, errors.New("not yet")
			}
			return v, nil
		}, pipeline.WithRetry(3, strategy.Backoff{Min: time.Hour, Max: time.Hour}))
		return p, ch, &tries, pipeline.Collect(m, "out")
	}
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, ch, tries, c := build()
			ctx, cancel := context.WithCancel(context.Background())
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				ch <- i
			}
			synctest.Wait()
			start := time.Now()
			cancel()
			if err := p.Wait(context.Background()); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v", err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("stopping took %v", d)
			}
			time.Sleep(2 * time.Hour) // fake time: past the retry
			if n := tries.Load(); n != 1 {
				t.Errorf("item 0 attempted %d times, want 1", n)
			}
			dls := p.DeadLetters().List(nil)
			if len(dls) != 1 || dls[0].Item != 0 || dls[0].Reason != pipeline.DeadStopped || dls[0].Attempts != 1 {
				t.Errorf("dead letters %+v", dls)
			}
			if c.Len() != 4 {
				t.Errorf("%d items out, want 4", c.Len())
			}
			checkAccounting(t, p)
		})
	})
	t.Run("graceful stop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, ch, _, c := build()
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				ch <- i
			}
			synctest.Wait()
			start := time.Now()
			if err := p.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != time.Hour {
				t.Errorf("drain took %v, want the backoff", d)
			}
			if !slices.Equal(c.Items(), []int{1, 2, 3, 4, 0}) {
				t.Errorf("got %v", c.Items())
			}
			checkAccounting(t, p)
		})
	})
}

// A worker parks at most its Buffer of items: past that it takes no
// more input until the earliest parked item is retried, so a stage whose
// every item fails still pushes back on its producer.
func TestRetryParkingIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const buffer = 4
		p := pipeline.New(pipeline.WithBatchSize(1))
		var emitted atomic.Int64
		src := pipeline.FromFunc(p, "src", func(ctx context.Context, emit func(int) error) error {
			for i := range 100 {
				if err := emit(i); err != nil {
					return err
				}
				emitted.Add(1)
			}
			return nil
		})
		var tries sync.Map
		m := pipeline.Map(src, "m", func(_ context.Context, v int) (int, error) {
			c, _ := tries.LoadOrStore(v, new(atomic.Int32))
			if c.(*atomic.Int32).Add(1) == 1 {
				return 0, errors.New("first attempt fails")
			}
			return v, nil
		}, pipeline.WithBuffer(buffer), pipeline.WithRetry(2, strategy.Backoff{Min: time.Second, Max: time.Second}))
		c := pipeline.Collect(m, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// Parked (buffer), queued in the mailbox (buffer), the item in
		// hand and the one the source is sending (counted as it starts).
		if e := emitted.Load(); e > 2*buffer+2 {
			t.Errorf("the source emitted %d items while every item backs off", e)
		}
		if s := stats(t, p, "m"); s.InFlight > 2*buffer+2 || c.Len() != 0 {
			t.Errorf("%d items in the stage, %d out", s.InFlight, c.Len())
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := sortedInts(c.Items()); !slices.Equal(got, ints(100)) {
			t.Fatalf("got %d items", len(got))
		}
		checkAccounting(t, p)
	})
}

// Items fail with errors (backing off) and panics (restarting the
// worker, also while retrying a parked item): every item is delivered
// exactly once or dead-lettered, and the counters balance.
func TestRetryRandomFailuresAccounted(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			const n = 3000
			p := pipeline.New(pipeline.WithBatchSize(8))
			var rmu sync.Mutex
			rng := rand.New(rand.NewPCG(3, 4))
			roll := func() float64 { rmu.Lock(); defer rmu.Unlock(); return rng.Float64() }
			opts := []pipeline.StageOption{pipeline.WithWorkers(3),
				pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{}),
				pipeline.WithRetry(4, strategy.Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond, Jitter: 0.5})}
			if ordered {
				opts = append(opts, pipeline.WithOrdered(64))
			}
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(n)), "m", func(_ context.Context, v int) (int, error) {
				switch r := roll(); {
				case r < 0.1:
					return 0, errors.New("transient")
				case r < 0.12:
					panic("random")
				}
				return v, nil
			}, opts...)
			var got []int
			pipeline.ToFunc(m, "sink", func(_ context.Context, v int) error {
				got = append(got, v)
				return nil
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			dead := map[int]bool{}
			for _, d := range p.DeadLetters().List(nil) {
				if d.Reason != pipeline.DeadPoison {
					t.Fatalf("dead letter %+v", d)
				}
				dead[d.Item.(int)] = true
			}
			seen := map[int]int{}
			for _, v := range got {
				seen[v]++
			}
			for v := range n {
				if seen[v]+btoi(dead[v]) != 1 {
					t.Fatalf("item %d delivered %d times, dead-lettered %v", v, seen[v], dead[v])
				}
			}
			if ordered && !slices.IsSorted(got) {
				t.Error("an ordered stage's output is out of order")
			}
			if s := stats(t, p, "m"); s.Restarts == 0 || s.Retries == 0 {
				t.Errorf("stats %+v", s)
			}
			checkAccounting(t, p)
		})
	}
}

// A panic while a parked item is retried restarts the worker, which
// resumes the item at once with that attempt counted; a stage that is
// restarted whole (RestartStage) keeps its parked items and retries them
// on time.
func TestRetryParkedSurvivesRestarts(t *testing.T) {
	t.Run("panic in the retry", func(t *testing.T) {
		for _, ordered := range []bool{false, true} {
			synctest.Test(t, func(t *testing.T) {
				p := pipeline.New()
				log := newAttemptLog()
				opts := []pipeline.StageOption{pipeline.WithRetry(3, strategy.Backoff{Min: time.Second, Max: time.Second})}
				if ordered {
					opts = append(opts, pipeline.WithOrdered(0))
				}
				m := pipeline.Map(pipeline.FromSlice(p, "src", ints(5)), "m", func(_ context.Context, v int) (int, error) {
					if v == 2 {
						switch log.add(v) {
						case 1:
							return 0, errors.New("not yet")
						case 2:
							panic("crash on the retry")
						}
					}
					return v, nil
				}, opts...)
				c := pipeline.Collect(m, "out")
				if err := p.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := log.gaps(2); !slices.Equal(got, []time.Duration{time.Second, 0}) {
					t.Errorf("ordered %v: gaps between the attempts of item 2: %v, want [1s 0s]", ordered, got)
				}
				want := []int{0, 1, 3, 4, 2}
				if ordered {
					want = ints(5)
				}
				if !slices.Equal(c.Items(), want) {
					t.Errorf("ordered %v: got %v, want %v", ordered, c.Items(), want)
				}
				if s := stats(t, p, "m"); s.Restarts != 1 || s.Errors != 2 || s.Retries != 2 {
					t.Errorf("ordered %v: stats %+v", ordered, s)
				}
				checkAccounting(t, p)
			})
		}
	})
	t.Run("stage restarted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := pipeline.New(pipeline.WithBatchSize(2))
			log := newAttemptLog()
			gate := make(chan struct{})
			m := pipeline.Map(pipeline.FromSlice(p, "src", ints(10)), "m", func(_ context.Context, v int) (int, error) {
				n := log.add(v)
				switch {
				case v == 1 && n == 1:
					return 0, errors.New("not yet")
				case v == 6 && n == 1:
					<-gate
					panic("the stage gives up")
				}
				return v, nil
			}, pipeline.WithWorkers(2), pipeline.WithSupervision(strategy.OneForOne, 0, time.Minute, strategy.Backoff{}),
				pipeline.WithGiveUp(pipeline.RestartStage), pipeline.WithRetry(2, strategy.Backoff{Min: time.Second, Max: time.Second}))
			c := pipeline.Collect(m, "out")
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // item 1 is parked, item 6 waits at the gate
			close(gate)
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := log.gaps(1); !slices.Equal(got, []time.Duration{time.Second}) {
				t.Errorf("gaps between the attempts of item 1: %v, want [1s]", got)
			}
			if got := sortedInts(c.Items()); !slices.Equal(got, ints(10)) {
				t.Errorf("got %v", c.Items())
			}
			if s := stats(t, p, "m"); s.StageRestarts != 1 {
				t.Errorf("stats %+v", s)
			}
			checkAccounting(t, p)
		})
	})
}

// A worker stopped by its supervisor (here a one-for-all restart) while
// it retries a parked item is not failed by it: the item gets that
// attempt back, stays parked, and the next incarnation retries it.
func TestRetryParkedStoppedMidRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var failed []string
		p := pipeline.New(pipeline.WithBatchSize(1), pipeline.WithEvents(func(e actor.Event) {
			if e.Kind == actor.EventFailed {
				mu.Lock()
				failed = append(failed, e.Path)
				mu.Unlock()
			}
		}))
		log := newAttemptLog()
		gate := make(chan struct{})
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(2)), "m", func(ctx context.Context, v int) (int, error) {
			n := log.add(v)
			switch {
			case v == 0 && n == 1:
				return 0, errors.New("not yet")
			case v == 0 && n == 2: // the retry, stopped by the group restart
				close(gate)
				<-ctx.Done()
				return 0, ctx.Err()
			case v == 1 && n == 1:
				<-gate
				panic("restart the group")
			}
			return v, nil
		}, pipeline.WithWorkers(2), pipeline.WithRouter(pipeline.RoundRobin()),
			pipeline.WithSupervision(strategy.OneForAll, 10, time.Minute, strategy.Backoff{}),
			pipeline.WithRetry(3, strategy.Backoff{Min: time.Second, Max: time.Second}))
		c := pipeline.Collect(m, "out")
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := sortedInts(c.Items()); !slices.Equal(got, ints(2)) {
			t.Errorf("got %v", c.Items())
		}
		if n := len(log.gaps(0)); n != 2 {
			t.Errorf("item 0 attempted %d times, want 3", n+1)
		}
		if len(failed) != 1 {
			t.Errorf("failures %v, want only the panicking worker's", failed)
		}
		if s := stats(t, p, "m"); s.Restarts != 2 || s.DeadLettered != 0 {
			t.Errorf("stats %+v", s)
		}
		checkAccounting(t, p)
	})
}

// In an Ordered stage, a parked item's retry may run between a batch's
// panic and its redelivery: the batch's partial result waits meanwhile,
// and nothing is lost or reordered.
func TestRetryOrderedRetryBetweenPanicAndRedelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pipeline.New(pipeline.WithBatchSize(4))
		log := newAttemptLog()
		gate := make(chan struct{})
		m := pipeline.Map(pipeline.FromSlice(p, "src", ints(4)), "m", func(_ context.Context, v int) (int, error) {
			n := log.add(v)
			switch {
			case v == 0 && n == 1:
				return 0, errors.New("not yet") // parked for 1s
			case v == 2 && n == 1:
				<-gate // item 1 is done, its output held in the batch's result
				panic("crash after the retry is due")
			}
			return v, nil
		}, pipeline.WithOrdered(0), pipeline.WithRetry(2, strategy.Backoff{Min: time.Second, Max: time.Second}))
		c := pipeline.Collect(m, "out")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // fake time: item 0's retry is due while item 2 waits
		close(gate)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Items(), ints(4)) {
			t.Errorf("got %v", c.Items())
		}
		if s := stats(t, p, "m"); s.Restarts != 1 {
			t.Errorf("stats %+v", s)
		}
		checkAccounting(t, p)
	})
}
