package sched

import (
	"sync"
	"testing"
)

// TestLaneLetGo checks that an emptied system lane is unlinked (an idle
// mailbox holds none) and that the next post makes a fresh one.
func TestLaneLetGo(t *testing.T) {
	mb, err := NewMailbox[int, int](nil, SchedulerFunc(func() {}))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		mb.PostSystem(round)
		mb.PostSystem(round + 10)
		if mb.lane.Load() == nil {
			t.Fatalf("round %d: no lane after two posts", round)
		}
		for _, want := range []int{round, round + 10} {
			if got, ok := mb.PopSystem(); !ok || got != want {
				t.Fatalf("round %d: PopSystem = %d, %v; want %d, true", round, got, ok, want)
			}
		}
		if l := mb.lane.Load(); l != nil {
			t.Fatalf("round %d: empty lane %p still linked", round, l)
		}
		if mb.HasSystem() {
			t.Fatalf("round %d: HasSystem on an empty lane", round)
		}
	}
}

// TestLaneConcurrentLetGo races posters against a popper that empties
// (and so unlinks) the lane again and again: every item is popped exactly
// once and HasSystem is true whenever an item waits.
func TestLaneConcurrentLetGo(t *testing.T) {
	mb, err := NewMailbox[int, int](nil, SchedulerFunc(func() {}))
	if err != nil {
		t.Fatal(err)
	}
	const posters, each = 4, 5000
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() { // joined by wg.Wait below
			for i := range each {
				mb.PostSystem(p*each + i)
			}
		})
	}
	seen := make([]bool, posters*each)
	for got := 0; got < posters*each; {
		v, ok := mb.PopSystem()
		if !ok {
			continue
		}
		if seen[v] {
			t.Fatalf("item %d popped twice", v)
		}
		seen[v] = true
		got++
	}
	wg.Wait()
	if v, ok := mb.PopSystem(); ok {
		t.Fatalf("extra item %d after all were popped", v)
	}
	if mb.HasSystem() {
		t.Fatal("HasSystem after the lane was emptied")
	}
}
