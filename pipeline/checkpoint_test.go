package pipeline_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

func TestFileCheckpointer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pos")
	cp := pipeline.NewFileCheckpointer(path)
	if _, ok, err := cp.Load(ctx); ok || err != nil {
		t.Fatalf("missing file: ok %v, err %v", ok, err)
	}
	for _, pos := range []uint64{5, 7, 1 << 40} {
		if err := cp.Save(ctx, pos); err != nil {
			t.Fatal(err)
		}
		got, ok, err := pipeline.NewFileCheckpointer(path).Load(ctx)
		if !ok || err != nil || got != pos {
			t.Fatalf("load after save %d: %d %v %v", pos, got, ok, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.Load(ctx); err == nil {
		t.Fatal("no error for a corrupt checkpoint")
	}
}

// crashCP stops saving once the process "crashed", as a killed process
// would: the next run sees the last position saved before.
type crashCP struct {
	*pipeline.FileCheckpointer
	crashed atomic.Bool
	saves   atomic.Int32
}

func (c *crashCP) Save(ctx context.Context, pos uint64) error {
	if c.crashed.Load() {
		return nil
	}
	c.saves.Add(1)
	return c.FileCheckpointer.Save(ctx, pos)
}

// A run crashes mid-stream; the next run resumes from the checkpoint and
// reprocesses only items at or after it; every item before it was out of
// the pipeline in the first run.
func TestCheckpointResumeAfterCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 5000
		cp := &crashCP{FileCheckpointer: pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "ckpt"))}
		build := func(crashAfter int) (*pipeline.Pipeline, map[int]int, context.CancelFunc, context.Context) {
			ctx, cancel := context.WithCancel(context.Background())
			p := pipeline.New(pipeline.WithBatchSize(16), pipeline.WithCheckpointEvery(time.Millisecond))
			src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
				for pos := from; pos < n; pos++ {
					if err := emit(int(pos), pos+1); err != nil {
						return err
					}
				}
				return nil
			})
			m := pipeline.Map(src, "work", func(_ context.Context, v int) (int, error) {
				time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond) // out-of-order completion
				return v, nil
			}, pipeline.WithWorkers(4))
			f := pipeline.Filter(m, "no7", func(_ context.Context, v int) (bool, error) { return v%7 != 0, nil })
			fm := pipeline.FlatMap(f, "dup5", func(_ context.Context, v int, emit func(int)) error {
				emit(v)
				if v%5 == 0 {
					emit(v)
				}
				return nil
			}, pipeline.WithWorkers(2))
			var mu sync.Mutex
			seen := map[int]int{}
			pipeline.ToFunc(fm, "sink", func(_ context.Context, v int) error {
				mu.Lock()
				defer mu.Unlock()
				seen[v]++
				if len(seen) == crashAfter {
					cp.crashed.Store(true)
					cancel()
				}
				return nil
			})
			return p, seen, cancel, ctx
		}

		p1, seen1, cancel1, ctx1 := build(2000)
		defer cancel1()
		if err := p1.Run(ctx1); !errors.Is(err, context.Canceled) {
			t.Fatalf("first run: %v", err)
		}
		committed, ok, err := cp.Load(context.Background())
		if !ok || err != nil || committed == 0 {
			t.Fatalf("no checkpoint after the crash: %d %v %v (%d saves)", committed, ok, err, cp.saves.Load())
		}
		for v := range int(committed) {
			if want := wantCount(v); seen1[v] != want {
				t.Fatalf("item %d is before the checkpoint %d but was delivered %d times, want %d", v, committed, seen1[v], want)
			}
		}

		cp.crashed.Store(false)
		p2, seen2, cancel2, ctx2 := build(-1)
		defer cancel2()
		if err := p2.Run(ctx2); err != nil {
			t.Fatalf("second run: %v", err)
		}
		reprocessed := 0
		for v := range n {
			if v < int(committed) && seen2[v] != 0 {
				t.Fatalf("item %d before the checkpoint %d was processed again", v, committed)
			}
			if v >= int(committed) {
				if seen2[v] != wantCount(v) {
					t.Fatalf("item %d delivered %d times in the second run", v, seen2[v])
				}
				if seen1[v] != 0 {
					reprocessed++
				}
			}
		}
		t.Logf("checkpoint %d after %d items delivered; %d reprocessed", committed, len(seen1), reprocessed)
		if final, _, _ := cp.Load(context.Background()); final != n {
			t.Errorf("final checkpoint %d, want %d", final, n)
		}
	})
}

func wantCount(v int) int {
	switch {
	case v%7 == 0:
		return 0
	case v%5 == 0:
		return 2
	}
	return 1
}

// Items that share a next position are parts of one record: a run
// cancelled inside a record commits the record's start, and the resume
// reads it whole. A next position that goes back fails the source with
// ErrPosition.
func TestFromResumableNextPositions(t *testing.T) {
	const records, parts, kill = 50, 3, 71 // kill inside record 23
	type part struct{ rec, i int }
	cp := pipeline.NewFileCheckpointer(filepath.Join(t.TempDir(), "ckpt"))
	runOnce := func(kill int) ([]part, error) {
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		p := pipeline.New(pipeline.WithBatchSize(4), pipeline.WithCheckpointEvery(time.Millisecond))
		src := pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(part, uint64) error) error {
			for r := int(from); r < records; r++ {
				for i := range parts {
					next := uint64(r) // a restart must read this record again ...
					if i == parts-1 {
						next++ // ... until its last part is done
					}
					if err := emit(part{r, i}, next); err != nil {
						return err
					}
				}
			}
			return nil
		})
		var got []part
		pipeline.ToFunc(src, "sink", func(ctx context.Context, v part) error {
			if len(got) == kill {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
			got = append(got, v)
			return nil
		})
		if err := p.Start(ctx); err != nil {
			return nil, err
		}
		err := p.Wait(testCtx(t))
		return got, err
	}
	if _, err := runOnce(kill); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	c := int(loadCP(t, cp))
	if c > kill/parts || kill/parts-c > 2 {
		t.Fatalf("checkpoint at record %d after %d parts done, want in [%d, %d]", c, kill, kill/parts-2, kill/parts)
	}
	got, err := runOnce(-1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != (records-c)*parts || got[0] != (part{c, 0}) {
		t.Fatalf("resume from record %d: %d parts starting with %v, want %d starting with {%d 0}", c, len(got), got[:min(1, len(got))], (records-c)*parts, c)
	}
	if got, err := runOnce(-1); err != nil || len(got) != 0 {
		t.Fatalf("resume after a complete run: %v, %v; want nothing", got, err)
	}

	for _, nexts := range [][]uint64{{records + 5, records + 4}, {records - 1}} { // back, and before from (= records)
		p := pipeline.New()
		pipeline.Collect(pipeline.FromResumable(p, "src", cp, func(ctx context.Context, from uint64, emit func(int, uint64) error) error {
			for _, n := range nexts {
				if err := emit(int(n), n); err != nil {
					return err
				}
			}
			return nil
		}), "out")
		if err := run(t, p); !errors.Is(err, pipeline.ErrPosition) {
			t.Errorf("next positions %v from %d: %v, want ErrPosition", nexts, records, err)
		}
	}
}
