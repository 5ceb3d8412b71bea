package order

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

func TestAcquireTakesFreePermits(t *testing.T) {
	g := NewGate(10)
	if err := g.Acquire(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	if err := g.Acquire(context.Background(), 6); err != nil {
		t.Fatal(err)
	}
	if f := g.Free(); f != 0 {
		t.Fatalf("Free = %d after taking all 10; want 0", f)
	}
}

// TestAcquireWaitsForRelease: an Acquire without enough permits waits,
// through Releases too small for it, until enough are back.
func TestAcquireWaitsForRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(2)
		done := make(chan error, 1)
		// Owner: this test; it ends once the Acquire returns (read below).
		go func() { done <- g.Acquire(context.Background(), 3) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Acquire(3) with 2 free returned %v; want it to wait", err)
		default:
		}
		g.Release(0) // wakes it, still not enough
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Acquire(3) with 2 free returned %v after Release(0); want it to wait", err)
		default:
		}
		g.Release(1)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if f := g.Free(); f != 0 {
			t.Fatalf("Free = %d; want 0", f)
		}
	})
}

func TestAcquireEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGate(1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		// Owner: this test; it ends when ctx is cancelled (read below).
		go func() { done <- g.Acquire(ctx, 2) }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v; want context.Canceled", err)
		}
		if f := g.Free(); f != 1 {
			t.Fatalf("Free = %d after a cancelled Acquire; want 1 (none taken)", f)
		}
	})
}

// TestAssignIsContiguous: concurrent Assigns hand out ranges that,
// sorted, follow each other from 0 without gap or overlap.
func TestAssignIsContiguous(t *testing.T) {
	g := NewGate(0)
	type rng struct {
		lo uint64
		n  int
	}
	const goroutines, per = 4, 500
	var mu sync.Mutex
	var rs []rng
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		// Owner: this test; waited for by wg.Wait below.
		go func() {
			defer wg.Done()
			for i := range per {
				n := i%3 + 1
				lo := g.Assign(n)
				mu.Lock()
				rs = append(rs, rng{lo, n})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(rs, func(a, b rng) int { return cmp.Compare(a.lo, b.lo) })
	next := uint64(0)
	for _, r := range rs {
		if r.lo != next {
			t.Fatalf("range at %d; want the next one at %d", r.lo, next)
		}
		next += uint64(r.n)
	}
	if got := g.Assign(1); got != next {
		t.Fatalf("after ranges ending at %d the next number is %d", next, got)
	}
}

func TestReset(t *testing.T) {
	g := NewGate(5)
	_ = g.Acquire(context.Background(), 5)
	g.Assign(7)
	g.Reset(3)
	if f := g.Free(); f != 3 {
		t.Fatalf("Free = %d after Reset(3)", f)
	}
	if n := g.Assign(1); n != 0 {
		t.Fatalf("Assign after Reset = %d; want 0", n)
	}
}

// FuzzGate runs a sequence of Acquires (that must not wait) and Releases
// against a model: the free permits are what was given minus what was
// taken, an Acquire succeeds iff enough are free, and a refused one
// takes nothing.
func FuzzGate(f *testing.F) {
	f.Add(uint8(4), []byte{2, 0x83, 1, 5, 0x81})
	f.Add(uint8(0), []byte{1, 0x80, 0})
	f.Fuzz(func(t *testing.T, start uint8, ops []byte) {
		g := NewGate(int(start))
		free := int(start)
		done, cancel := context.WithCancel(context.Background())
		cancel() // an Acquire that would wait returns at once
		for _, op := range ops {
			n := int(op & 0x7f)
			if op&0x80 != 0 {
				g.Release(n)
				free += n
				continue
			}
			err := g.Acquire(done, n)
			switch {
			case free >= n && err != nil:
				t.Fatalf("Acquire(%d) with %d free: %v", n, free, err)
			case free < n && err == nil:
				t.Fatalf("Acquire(%d) with %d free succeeded", n, free)
			case err == nil:
				free -= n
			}
			if got := g.Free(); got != free {
				t.Fatalf("Free = %d; model says %d", got, free)
			}
		}
	})
}
