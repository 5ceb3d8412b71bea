package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
)

// The file checkpointer keeps a position and the states saved with it
// together; it reads the position-only format too, and refuses a damaged
// file.
func TestFileCheckpointerState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	cp := pipeline.NewFileCheckpointer(path)
	want := pipeline.Checkpoint{Pos: 1 << 40, State: map[string][]byte{
		"sum": []byte("binary\x00\n state\n"), "count words": {}, "z": []byte("crc32 00000000\n"),
	}}
	if err := cp.SaveCheckpoint(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := pipeline.NewFileCheckpointer(path).LoadCheckpoint(ctx)
	if !ok || err != nil || got.Pos != want.Pos || !maps.EqualFunc(got.State, want.State, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("load after save: %+v %v %v, want %+v", got, ok, err, want)
	}
	if pos, ok, err := cp.Load(ctx); pos != want.Pos || !ok || err != nil {
		t.Fatalf("Load of a checkpoint with state: %d %v %v", pos, ok, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	// A position written by Save comes back with no state.
	if err := cp.Save(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := cp.LoadCheckpoint(ctx); got.Pos != 5 || got.State != nil || !ok || err != nil {
		t.Fatalf("LoadCheckpoint after Save(5): %+v %v %v", got, ok, err)
	}
	// Any flipped byte, and any cut, is detected.
	if err := cp.SaveCheckpoint(ctx, want); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		flipped := bytes.Clone(good)
		flipped[i] ^= 0x20
		for _, bad := range [][]byte{flipped, good[:i]} {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if c, ok, err := cp.LoadCheckpoint(ctx); err == nil {
				t.Fatalf("damaged at byte %d (%q): loaded %+v %v without an error", i, bad, c, ok)
			}
		}
	}
}

// stateCP is an in-memory StateCheckpointer; it closes advanced once it
// saved a position past 0, and stops saving once crashed.
type stateCP struct {
	mu       sync.Mutex
	c        pipeline.Checkpoint
	ok       bool
	saves    int
	advanced chan struct{}
	crashed  atomic.Bool
}

func newStateCP() *stateCP { return &stateCP{advanced: make(chan struct{})} }

func (m *stateCP) Load(ctx context.Context) (uint64, bool, error) {
	c, ok, err := m.LoadCheckpoint(ctx)
	return c.Pos, ok, err
}

func (m *stateCP) Save(ctx context.Context, pos uint64) error {
	return m.SaveCheckpoint(ctx, pipeline.Checkpoint{Pos: pos})
}

func (m *stateCP) LoadCheckpoint(context.Context) (pipeline.Checkpoint, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, m.ok, nil
}

func (m *stateCP) SaveCheckpoint(_ context.Context, c pipeline.Checkpoint) error {
	if m.crashed.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ok && c.Pos < m.c.Pos {
		return fmt.Errorf("checkpoint went back from %d to %d", m.c.Pos, c.Pos)
	}
	if c.Pos > 0 && (!m.ok || m.c.Pos == 0) {
		close(m.advanced)
	}
	m.c = pipeline.Checkpoint{Pos: c.Pos, State: maps.Clone(c.State)}
	m.ok = true
	m.saves++
	return nil
}

func (m *stateCP) pos() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c.Pos
}

type total struct {
	Key, Sum, N int
}

// The 80,000-lines case: a keyed stage that only flushes at the end of
// stream used to hold the watermark at 0 for the whole run. With a
// StateCheckpointer the watermark advances while the run goes on: the
// source, after half its input, waits for a commit past 0 (a minute of
// fake time if none comes).
func TestKeyedWatermarkAdvancesWithoutFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, keys = 80000, 100
		cp := newStateCP()
		p := pipeline.New(pipeline.WithCheckpointEvery(10 * time.Millisecond))
		var committedBeforeEnd uint64
		src := pipeline.FromResumable(p, "lines", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
			for i := from; i < n; i++ {
				if i == n/2 {
					select {
					case <-cp.advanced:
						committedBeforeEnd = cp.pos()
					case <-time.After(time.Minute):
						return errors.New("no checkpoint past 0 after half the input")
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				if err := emit(int(i), i+1); err != nil {
					return err
				}
			}
			return nil
		})
		sums := pipeline.Keyed(src, "sum", sumSpec(keys, nil), pipeline.WithWorkers(3))
		out := pipeline.Collect(sums, "out")
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if committedBeforeEnd == 0 || committedBeforeEnd > n/2 {
			t.Fatalf("committed %d while the source waited after %d items", committedBeforeEnd, n/2)
		}
		checkTotals(t, collectTotals(out.Items()), n, keys)
		if c, _, _ := cp.LoadCheckpoint(context.Background()); c.Pos != n || len(c.State) != 0 {
			t.Errorf("final checkpoint %d with %d states; want %d and none (everything was flushed)", c.Pos, len(c.State), n)
		}
		t.Logf("committed %d of %d before the end, %d saves", committedBeforeEnd, n, cp.saves)
	})
}

// sumSpec sums items by key (item % keys) and flushes the totals at the
// end of stream, or every flushEvery with the state kept (the sink then
// upserts the running totals). fault, if set, runs after each update.
func sumSpec(keys int, fault func(ctx context.Context, v int) error, flushEvery ...time.Duration) pipeline.KeyedSpec[int, int, total, total] {
	spec := pipeline.KeyedSpec[int, int, total, total]{
		Key: func(v int) int { return v % keys },
		Update: func(ctx context.Context, k int, s *total, v int, _ func(total)) error {
			s.Key, s.Sum, s.N = k, s.Sum+v, s.N+1
			if fault != nil {
				return fault(ctx, v)
			}
			return nil
		},
		Flush: func(_ int, s *total, emit func(total)) bool { emit(*s); return true },
	}
	if len(flushEvery) > 0 {
		spec.FlushEvery = flushEvery[0]
	}
	return spec
}

func collectTotals(ts []total) map[int]total {
	m := map[int]total{}
	for _, x := range ts {
		m[x.Key] = x // running totals only grow: the last one is the total
	}
	return m
}

// checkTotals compares got with the totals of items 0..n-1 by key.
func checkTotals(t *testing.T, got map[int]total, n, keys int) {
	t.Helper()
	want := map[int]total{}
	for v := range n {
		w := want[v%keys]
		w.Key, w.Sum, w.N = v%keys, w.Sum+v, w.N+1
		want[v%keys] = w
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("key %d: got %+v, want %+v (items counted %+d times too many)", k, got[k], w, got[k].N-w.N)
		}
	}
}

// A run with a keyed aggregation, its workers killed by the chaos monkey,
// crashes mid-stream (its context is cancelled and its checkpointer saves
// nothing more, as in a killed process); a second run, also under the
// monkey, resumes from the checkpoint: the totals are exactly those of
// an uninterrupted run, no key double-counted. "end" flushes only at the
// end of stream; "periodic" flushes running totals every 2ms too, which
// the sink upserts.
func TestKeyedStateResumeUnderChaos(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush []time.Duration
	}{{"end", nil}, {"periodic", []time.Duration{2 * time.Millisecond}}} {
		t.Run(tc.name, func(t *testing.T) {
			const n, keys, crashAt = 20000, 37, 12000
			cp := newStateCP()
			var mu sync.Mutex
			store := map[int]total{} // the sink's store, kept across runs
			runOnce := func(seed uint64, crash bool) (from uint64, kills int, err error) {
				m, err := chaos.New(seed,
					chaos.Rule{Kind: chaos.Kill, Pattern: "/agg/sum/*", Rate: 0.03},
					chaos.Rule{Kind: chaos.Kill, Pattern: "/agg/parse/*", Rate: 0.005},
					chaos.Rule{Kind: chaos.Kill, Pattern: "update", Rate: 0.002}) // after the state changed
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(testCtx(t))
				defer cancel()
				opts := []pipeline.StageOption{
					pipeline.WithWorkers(3),
					pipeline.WithSupervision(strategy.OneForOne, 100000, time.Second, strategy.Backoff{}),
					pipeline.WithRetry(3, strategy.Backoff{}),
				}
				p := pipeline.New(pipeline.WithName("agg"), pipeline.WithFaultInjector(m),
					pipeline.WithBatchSize(16), pipeline.WithCheckpointEvery(time.Millisecond))
				src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, pos uint64, emit func(int, uint64) error) error {
					from = pos
					for i := pos; i < n; i++ {
						if crash && i == crashAt {
							// Go on past a checkpoint, then crash between two.
							select {
							case <-cp.advanced:
							case <-time.After(10 * time.Second):
								return errors.New("no checkpoint past 0")
							case <-ctx.Done():
								return ctx.Err()
							}
						}
						if crash && i == crashAt+2000 {
							cp.crashed.Store(true)
							cancel()
							<-ctx.Done()
							return ctx.Err()
						}
						if err := emit(int(i), i+1); err != nil {
							return err
						}
					}
					return nil
				})
				parsed := pipeline.Map(src, "parse", func(_ context.Context, v int) (int, error) { return v, nil }, opts...)
				fault := func(ctx context.Context, v int) error { return m.InjectItem(ctx, "update", uint64(v)) }
				sums := pipeline.Keyed(parsed, "sum", sumSpec(keys, fault, tc.flush...), opts...)
				pipeline.ToFunc(sums, "sink", func(_ context.Context, x total) error {
					mu.Lock()
					defer mu.Unlock()
					store[x.Key] = x
					return nil
				})
				err = p.Run(ctx)
				return from, m.Count(chaos.Kill), err
			}
			_, kills1, err := runOnce(1, true)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v", err)
			}
			c, _, _ := cp.LoadCheckpoint(context.Background())
			if c.Pos == 0 || c.Pos > crashAt+2000 || len(c.State) != 1 {
				t.Fatalf("checkpoint after the crash at %d, with %d states", c.Pos, len(c.State))
			}
			cp.crashed.Store(false)
			from, kills2, err := runOnce(2, false)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if from != c.Pos {
				t.Fatalf("resumed from %d, want the checkpoint %d", from, c.Pos)
			}
			mu.Lock()
			checkTotals(t, store, n, keys)
			mu.Unlock()
			if kills1 == 0 || kills2 == 0 {
				t.Errorf("kills: %d and %d; the monkey did nothing", kills1, kills2)
			}
			t.Logf("crashed at %d, resumed from %d; %d and %d kills; %d saves", crashAt+2000, from, kills1, kills2, cp.saves)
		})
	}
}

// A checkpoint holding the state of a keyed stage the pipeline does not
// have is refused with ErrState, as is a state the codec cannot decode,
// and a state that the Codec cannot encode fails the pipeline at the
// first checkpoint.
func TestKeyedStateErrors(t *testing.T) {
	build := func(cp pipeline.Checkpointer, stage string, codec pipeline.Codec[map[int]total]) *pipeline.Pipeline {
		p := pipeline.New(pipeline.WithCheckpointEvery(time.Millisecond))
		src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
			for i := from; i < 100; i++ {
				if err := emit(int(i), i+1); err != nil {
					return err
				}
			}
			<-ctx.Done() // until the pipeline fails
			return ctx.Err()
		})
		spec := sumSpec(3, nil)
		spec.Codec = codec
		pipeline.Collect(pipeline.Keyed(src, stage, spec), "out")
		return p
	}
	for _, tc := range []struct {
		name  string
		state map[string][]byte
	}{
		{"unknown stage", map[string][]byte{"other": {0}}},
		{"undecodable", map[string][]byte{"sum": {1, 3, 'x', 'y', 'z'}}},
		{"bad framing", map[string][]byte{"sum": {2, 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := newStateCP()
			cp.c, cp.ok = pipeline.Checkpoint{Pos: 7, State: tc.state}, true
			err := run(t, build(cp, "sum", nil))
			var se *pipeline.StageError
			if !errors.Is(err, pipeline.ErrState) || !errors.As(err, &se) || se.Stage != "src" {
				t.Fatalf("got %v, want a StageError of src wrapping ErrState", err)
			}
		})
	}
	t.Run("not encodable", func(t *testing.T) {
		err := run(t, build(newStateCP(), "sum", failCodec{}))
		var se *pipeline.StageError
		if !errors.Is(err, errNoEncode) || !errors.As(err, &se) || se.Stage != "sum" {
			t.Fatalf("got %v, want a StageError of sum wrapping the codec's error", err)
		}
	})
	t.Run("JSON codec", func(t *testing.T) {
		cp := newStateCP()
		p := build(cp, "sum", pipeline.JSONCodec[map[int]total]())
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		wait(t, cp.advanced, "a checkpoint")
		if c, _, _ := cp.LoadCheckpoint(context.Background()); !bytes.Contains(c.State["sum"], []byte(`"Sum":`)) {
			t.Errorf("state %q is not JSON", c.State["sum"])
		}
		if err := p.Stop(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	})
}

var errNoEncode = errors.New("cannot encode")

type failCodec struct{}

func (failCodec) Encode(map[int]total) ([]byte, error)       { return nil, errNoEncode }
func (failCodec) Decode(data []byte, v *map[int]total) error { return errNoEncode }
